"""The statements whose SQL differs by backend, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from heldar.store.dialect import insert_ids, upsert
from heldar.store.engine import Store
from heldar.store.tables import events, zone_state

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


async def test_insert_ids_are_in_row_order_whatever_the_batch(store: Store) -> None:
    """One statement per batch, and id i belongs to row i (twice, so ids do not start at 1)."""
    for _ in range(2):
        rows = [
            {
                "camera_id": None,
                "event_type": "test",
                "severity": "info",
                "timestamp": NOW,
                "payload": {"n": n},
            }
            for n in range(300)
        ]
        ids = await _insert(store, rows)
        assert len(set(ids)) == 300
        async with store.read() as conn:
            stored = {
                row.id: row.payload["n"]
                for row in await conn.execute(select(events.c.id, events.c.payload))
            }
        assert [stored[i] for i in ids] == list(range(300))
    assert await _insert(store, []) == []


async def _insert(store: Store, rows: list[dict[str, object]]) -> list[int]:
    async with store.write() as conn:
        return await insert_ids(conn, events, rows)


async def test_upsert_inserts_and_updates_several_rows_at_once(store: Store) -> None:
    def row(camera: str, batch: int) -> dict[str, object]:
        state = {"batch": batch}
        return {"camera_id": camera, "state": state, "last_batch_id": batch, "updated_at": NOW}

    async with store.write() as conn:
        await upsert(conn, zone_state, [row("a", 1), row("b", 1)], keys=["camera_id"])
    async with store.write() as conn:
        await upsert(conn, zone_state, [row("b", 2), row("c", 2)], keys=["camera_id"])
        await upsert(conn, zone_state, row("a", 3), keys=["camera_id"])
        await upsert(conn, zone_state, [], keys=["camera_id"])
    async with store.read() as conn:
        found = dict(
            (await conn.execute(select(zone_state.c.camera_id, zone_state.c.last_batch_id))).all()
        )
    assert found == {"a": 3, "b": 2, "c": 2}
