"""The store on both backends: migrations, round trips, one writer, busy → StoreBusy."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, text

from heldar.cameras.models import CameraRecord
from heldar.errors import Conflict, StoreBusy
from heldar.store import cameras as sql
from heldar.store.engine import Store, head_revision
from heldar.store.tables import metadata


def _record(camera_id: str = "cam-1", **overrides: object) -> CameraRecord:
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    values: dict[str, object] = {
        "id": camera_id,
        "name": "Gate",
        "vendor": "generic",
        "address": None,
        "rtsp_port": 554,
        "username": "admin",
        "password_enc": "plain:pw",
        "main_stream_url": "rtsp://10.0.0.5:554/main",
        "sub_stream_url": None,
        "record_stream": "main",
        "record_enabled": True,
        "enabled": True,
        "record_mode": "continuous",
        "segment_seconds": 60,
        "retention_hours": 168,
        "pre_roll_seconds": 5,
        "post_roll_seconds": 10,
        "record_audio": False,
        "mirror_enabled": False,
        "created_at": now,
        "updated_at": now,
    }
    values.update(overrides)
    return CameraRecord.model_validate(values)


async def test_migrate_is_idempotent(store: Store) -> None:
    assert await store.migrate() == head_revision()
    assert await store.migrate() == head_revision()


async def test_migrations_build_exactly_the_declared_tables(store: Store) -> None:
    """tables.py and the migrations never drift apart (alembic's autogenerate comparison)."""

    def diff(sync_conn: Connection) -> list[object]:
        context = MigrationContext.configure(sync_conn)
        return list(compare_metadata(context, metadata))

    async with store.read() as conn:
        assert await conn.run_sync(diff) == []


async def test_camera_round_trip_keeps_types_and_utc(store: Store) -> None:
    original = _record(created_at=datetime(2026, 1, 1, 23, 30, tzinfo=timezone(timedelta(hours=2))))
    async with store.write() as conn:
        await sql.insert_camera(conn, original)
    async with store.read() as conn:
        loaded = await sql.get_camera(conn, "cam-1")
    assert loaded == original
    assert loaded is not None and loaded.created_at.tzinfo is not None
    assert loaded.created_at.utcoffset() == timedelta(0)


async def test_duplicate_id_is_conflict_and_transaction_survives(store: Store) -> None:
    async with store.write() as conn:
        await sql.insert_camera(conn, _record("a"))
    async with store.write() as conn:
        with pytest.raises(Conflict):
            await sql.insert_camera(conn, _record("a", name="Other"))
        # The failed insert rolled back to its savepoint only: this one still commits.
        await sql.insert_camera(conn, _record("b"))
    async with store.read() as conn:
        ids = [c.id for c in await sql.list_cameras(conn)]
        first = await sql.get_camera(conn, "a")
    assert ids == ["a", "b"]
    assert first is not None and first.name == "Gate"


async def test_failed_write_rolls_back(store: Store) -> None:
    with pytest.raises(RuntimeError):
        async with store.write() as conn:
            await sql.insert_camera(conn, _record("gone"))
            raise RuntimeError("boom")
    async with store.read() as conn:
        assert await sql.get_camera(conn, "gone") is None


async def test_update_and_delete(store: Store) -> None:
    async with store.write() as conn:
        await sql.insert_camera(conn, _record("x"))
    changed = _record("x", name="Renamed", segment_seconds=10)
    async with store.write() as conn:
        await sql.update_camera(conn, changed)
    async with store.read() as conn:
        loaded = await sql.get_camera(conn, "x")
    assert loaded is not None and (loaded.name, loaded.segment_seconds) == ("Renamed", 10)
    async with store.write() as conn:
        assert await sql.delete_camera(conn, "x") is True
        assert await sql.delete_camera(conn, "x") is False


async def test_concurrent_writers_are_serialized_without_loss(store: Store) -> None:
    async def insert(i: int) -> None:
        async with store.write() as conn:
            await sql.insert_camera(conn, _record(f"c{i:03d}"))

    await asyncio.gather(*(insert(i) for i in range(40)))
    async with store.read() as conn:
        count = await conn.scalar(text("SELECT COUNT(*) FROM cameras"))
    assert count == 40


async def test_sqlite_uses_wal(tmp_path: Path) -> None:
    db = Store(f"sqlite:///{tmp_path / 'h.db'}")
    try:
        await db.migrate()
        async with db.read() as conn:
            mode = await conn.scalar(text("PRAGMA journal_mode"))
            timeout = await conn.scalar(text("PRAGMA busy_timeout"))
        assert mode == "wal"
        assert timeout == 5000
    finally:
        await db.close()


async def test_sqlite_locked_by_another_process_is_store_busy(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    db = Store(f"sqlite:///{path}", busy_timeout_ms=200)
    try:
        await db.migrate()
        # Another writer (a foreign connection) holds the write lock.
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(StoreBusy):
                async with db.write() as conn:
                    await sql.insert_camera(conn, _record("blocked"))
        finally:
            other.execute("ROLLBACK")
            other.close()
        async with db.write() as conn:  # and it recovers once the lock is gone
            await sql.insert_camera(conn, _record("after"))
    finally:
        await db.close()
