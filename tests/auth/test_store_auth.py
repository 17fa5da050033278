"""Auth SQL on both backends: users, sessions, the throttle upsert, and the audit log's triggers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from heldar.auth.audit import AuditLog
from heldar.auth.models import AuditEvent, SessionRecord
from heldar.errors import Conflict
from heldar.store import audit as audit_sql
from heldar.store import auth as sql
from heldar.store.engine import Store
from tests.support.clock import FakeClock

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _user(name: str = "alice", **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "username": name,
        "role": "guard",
        "password_hash": "$argon2id$v=19$m=19456,t=2,p=1$x$y",
        "enabled": True,
        "camera_ids": ["cam-1", "cam-2"],
        "created_at": T0,
        "updated_at": T0,
        "password_changed_at": T0,
        "last_login_at": None,
    }
    return values | overrides


async def test_user_round_trip_and_unique_name(store: Store) -> None:
    async with store.write() as conn:
        user_id = await sql.insert_user(conn, _user())
    async with store.write() as conn:
        with pytest.raises(Conflict) as caught:
            await sql.insert_user(conn, _user())
        assert caught.value.code == "user_exists"
        # the savepoint rolled back alone: the transaction goes on
        await sql.insert_user(conn, _user("bob", camera_ids=None))
    async with store.read() as conn:
        alice = await sql.get_user(conn, user_id)
        bob = await sql.get_user_by_name(conn, "bob")
        assert await sql.count_users(conn) == 2
    assert alice is not None and alice.camera_ids == ["cam-1", "cam-2"]
    assert alice.created_at == T0 and alice.role == "guard"
    assert bob is not None and bob.camera_ids is None


async def test_session_joins_its_user_and_dies_with_it(store: Store) -> None:
    async with store.write() as conn:
        user_id = await sql.insert_user(conn, _user())
        session = SessionRecord(
            token_hash="a" * 64,
            user_id=user_id,
            created_at=T0,
            last_seen_at=T0,
            expires_at=T0 + timedelta(hours=12),
            client_addr="10.0.0.1",
        )
        await sql.insert_session(conn, session)
    async with store.read() as conn:
        found = await sql.get_session(conn, "a" * 64)
    assert found is not None
    loaded, user = found
    assert loaded == session
    assert user.username == "alice" and user.created_at == T0
    async with store.write() as conn:
        assert await sql.delete_user(conn, user_id)
    async with store.read() as conn:
        assert await sql.get_session(conn, "a" * 64) is None


async def test_throttle_counts_locks_and_starts_a_new_window(store: Store) -> None:
    window = 900.0

    async def fail(at: datetime) -> tuple[int, datetime | None]:
        async with store.write() as conn:
            return await sql.record_failure(
                conn,
                "user:alice",
                now=at,
                window_s=window,
                max_failures=3,
                locked_until=at + timedelta(seconds=window),
            )

    assert await fail(T0) == (1, None)
    assert await fail(T0 + timedelta(seconds=1)) == (2, None)
    assert await fail(T0 + timedelta(seconds=2)) == (3, T0 + timedelta(seconds=2 + window))
    async with store.read() as conn:
        locked = await sql.locked_keys(conn, T0 + timedelta(seconds=3))
    assert locked == {"user:alice": T0 + timedelta(seconds=2 + window)}
    # after the window, the count starts again at 1 and the old lock is over
    later = T0 + timedelta(seconds=window + 5)
    failures, _ = await fail(later)
    assert failures == 1
    async with store.read() as conn:
        assert await sql.locked_keys(conn, later + timedelta(seconds=window)) == {}


async def test_concurrent_failures_are_all_counted(store: Store) -> None:
    import asyncio

    async def fail() -> None:
        async with store.write() as conn:
            await sql.record_failure(
                conn,
                "addr:10.0.0.9",
                now=T0,
                window_s=900,
                max_failures=100,
                locked_until=T0 + timedelta(minutes=15),
            )

    await asyncio.gather(*(fail() for _ in range(10)))
    async with store.read() as conn:
        rows = await sql.throttle_rows(conn, ["addr:10.0.0.9"])
    assert rows["addr:10.0.0.9"][0] == 10


async def _filled_log(store: Store, clock: FakeClock, entries: int = 5) -> AuditLog:
    log = AuditLog(store, clock)
    for i in range(entries):
        await log.record(AuditEvent(actor="alice", action=f"test.{i}", target=f"t{i}"))
        clock.advance(60)
    return log


async def test_audit_log_refuses_update_and_delete(store: Store) -> None:
    await _filled_log(store, FakeClock())
    for statement in (
        "UPDATE audit_log SET outcome = 'denied' WHERE seq = 2",
        "UPDATE audit_log SET actor = 'mallory'",
        "DELETE FROM audit_log WHERE seq = 3",
        "DELETE FROM audit_log",
        "DELETE FROM audit_anchor",
        "UPDATE audit_anchor SET seq = 0",
        # an anchor that names no real entry, or an insert that is not an append
        "UPDATE audit_anchor SET seq = 3, hash = 'forged'",
        "INSERT INTO audit_log (seq, ts, actor, action, outcome, prev_hash, hash) "
        "VALUES (2, '2026-01-01 00:00:00', 'x', 'x', 'ok', 'x', 'x')",
    ):
        with pytest.raises(DBAPIError, match=r"append-only|audit_anchor"):
            async with store.write() as conn:
                await conn.execute(text(statement))
    async with store.read() as conn:
        assert await audit_sql.count(conn) == 5
        assert await audit_sql.anchor(conn) == (0, "0" * 64)
    if store.dialect == "postgresql":
        with pytest.raises(DBAPIError, match="append-only"):
            async with store.write() as conn:
                await conn.execute(text("TRUNCATE audit_log"))
    assert (await AuditLog(store, FakeClock()).verify()).ok


async def test_chain_verifies_and_names_the_first_broken_link(store: Store) -> None:
    clock = FakeClock()
    log = await _filled_log(store, clock)
    report = await log.verify()
    assert report.ok and report.entries == 5 and report.last_seq == 5
    # Tamper below the triggers, as someone with the database file would.
    disable = {
        "sqlite": ["DROP TRIGGER audit_log_no_update"],
        "postgresql": ["ALTER TABLE audit_log DISABLE TRIGGER USER"],
    }[store.dialect]
    async with store.write() as conn:
        for statement in disable:
            await conn.execute(text(statement))
        await conn.execute(text("UPDATE audit_log SET outcome = 'denied' WHERE seq = 3"))
    report = await log.verify()
    assert not report.ok
    assert report.broken_seq == 3
    assert report.reason is not None and "altered" in report.reason
    assert report.entries == 2


async def test_a_deleted_middle_entry_is_found(store: Store) -> None:
    log = await _filled_log(store, FakeClock())
    disable = {
        "sqlite": "DROP TRIGGER audit_log_prefix_delete_only",
        "postgresql": "ALTER TABLE audit_log DISABLE TRIGGER USER",
    }[store.dialect]
    async with store.write() as conn:
        await conn.execute(text(disable))
        await conn.execute(text("DELETE FROM audit_log WHERE seq = 4"))
    report = await log.verify()
    assert not report.ok and report.broken_seq == 4
    assert report.reason is not None and "missing" in report.reason


async def test_retention_cuts_a_prefix_and_moves_the_anchor(store: Store) -> None:
    clock = FakeClock()
    log = await _filled_log(store, clock)  # entries at T, T+1min, … T+4min
    entries = await log.search(limit=10)
    third = next(e for e in entries if e.seq == 3)
    removed = await log.prune(third.ts + timedelta(seconds=1))
    assert removed == 3
    async with store.read() as conn:
        assert await audit_sql.anchor(conn) == (3, third.hash)
        assert await audit_sql.count(conn) == 3  # 4, 5 and the prune record itself
    report = await log.verify()
    assert report.ok, report
    assert report.anchor_seq == 3 and report.last_seq == 6
    prune_entry = (await log.search(action="audit.prune"))[0]
    assert prune_entry.detail is not None and '"through_seq":3' in prune_entry.detail
    # nothing to cut: no entry is old enough
    assert await log.prune(third.ts) == 0
