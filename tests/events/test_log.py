"""The event log's seams: outbox writers run in the event's transaction, listeners after commit."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from heldar.events.log import EventLog
from heldar.events.models import Event
from heldar.store.engine import Store


async def test_outbox_runs_inside_the_transaction_and_listeners_after_commit(
    sqlite_store: Store, event_log: EventLog
) -> None:
    seen_in_txn: list[int] = []
    heard: list[Event] = []

    async def outbox(conn: AsyncConnection, events: list[Event]) -> None:
        seen_in_txn.extend(event.id for event in events)

    event_log.add_outbox(outbox)
    event_log.subscribe(heard.append)
    event_log.subscribe(lambda event: 1 / 0)  # a broken listener harms nobody
    event_id = await event_log.append(
        "camera_offline",
        camera_id="gate",
        severity="warning",
        payload={"last_error": "rtsp://admin:hunter22@10.0.0.5/x refused"},
    )
    assert seen_in_txn == [event_id]
    assert [e.id for e in heard] == [event_id]
    assert heard[0].payload == {"last_error": "rtsp://***@10.0.0.5/x refused"}
    assert event_log.appended["warning"] == 1


async def test_append_in_shares_the_callers_fate(sqlite_store: Store, event_log: EventLog) -> None:
    heard: list[Event] = []
    event_log.subscribe(heard.append)
    with pytest.raises(RuntimeError):
        async with sqlite_store.write() as conn:
            await event_log.append_in(conn, "zone_enter", camera_id="gate")
            raise RuntimeError("the caller's own write failed")
    assert await event_log.list() == [] and heard == []

    async with sqlite_store.write() as conn:
        first = await event_log.append_in(conn, "zone_enter", camera_id="gate")
        second = await event_log.append_in(conn, "zone_exit", camera_id="gate")
    event_log.committed([first, second])
    assert [e.id for e in heard] == [first.id, second.id]
    assert [e.id for e in await event_log.list(since_id=0)] == [first.id, second.id]
