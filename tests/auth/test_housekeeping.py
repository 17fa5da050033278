"""Housekeeping forgets what has expired and, when asked, prunes the audit log by prefix."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from heldar.auth.audit import AuditLog
from heldar.auth.models import AuditEvent
from heldar.auth.service import AuthHousekeeping, AuthServices
from heldar.settings import Settings
from heldar.store import auth as sql
from heldar.store.engine import Store
from tests.support.auth import FAST_HASHING
from tests.support.clock import FakeClock


async def test_expired_sessions_stale_counters_and_old_audit_go(
    store: Store, tmp_path: Path
) -> None:
    clock = FakeClock()
    settings = Settings(data_dir=tmp_path, **FAST_HASHING)
    audit = AuditLog(store, clock)
    auth = AuthServices.build(settings, store, clock, audit)
    created = await auth.users.bootstrap("admin", "Adm1n-password")
    assert created is not None and created.generated_password is None
    result = await auth.login.login("admin", "Adm1n-password", client_addr="10.0.0.1")
    async with store.write() as conn:
        await auth.throttle.failure(conn, "mallory", "10.0.0.66")
    await audit.record(AuditEvent(actor="x", action="test.old"))

    clock.advance(timedelta(days=40).total_seconds())
    await audit.record(AuditEvent(actor="x", action="test.recent"))
    housekeeping = AuthHousekeeping(store, clock, auth, audit, audit_retention_days=30)
    await housekeeping.run_once()

    principal = await auth.sessions.resolve(result.token, auth_method="bearer", client_addr=None)
    assert principal is None
    async with store.read() as conn:
        assert await sql.throttle_rows(conn, ["addr:10.0.0.66"]) == {}
    actions = [e.action for e in await audit.search(limit=100)]
    assert actions == ["audit.prune", "test.recent"]
    report = await audit.verify()
    assert report.ok and report.anchor_seq > 0
