"""The audit log: append-only, hash-chained, verifiable, pruned only by whole old prefixes.

Each entry's hash is SHA-256 over its canonical content and the previous entry's hash, so editing,
removing or inserting a row anywhere breaks the chain at that point. `verify()` walks the chain from
the anchor (the entry retention last cut after) and names the first broken link. The store refuses
UPDATE and DELETE itself (triggers, migration 0003); the chain catches what bypasses them.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from heldar.auth.models import AuditEntry, AuditEvent
from heldar.clock import Clock
from heldar.logs import redact
from heldar.store import audit as sql
from heldar.store.engine import Store

log = logging.getLogger(__name__)

GENESIS_HASH = "0" * 64
_VERIFY_PAGE = 1000
_LIMITS = {"actor": 128, "action": 64, "target": 255, "camera_id": 64, "client_addr": 64}


def canonical_detail(detail: dict[str, Any] | None) -> str | None:
    """Details as canonical JSON (sorted keys, no spaces), redacted; None when empty."""
    if not detail:
        return None
    text = json.dumps(
        detail, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return redact(text)


def entry_hash(
    *,
    seq: int,
    ts: datetime,
    actor: str,
    action: str,
    outcome: str,
    target: str | None,
    camera_id: str | None,
    client_addr: str | None,
    detail: str | None,
    prev_hash: str,
) -> str:
    """The chain hash of one entry (every stored field but the hash itself)."""
    content = [
        seq,
        ts.isoformat(),
        actor,
        action,
        outcome,
        target,
        camera_id,
        client_addr,
        detail,
        prev_hash,
    ]
    encoded = json.dumps(content, separators=(",", ":"), ensure_ascii=False).encode()
    return hashlib.sha256(encoded).hexdigest()


def rehash(entry: AuditEntry) -> str:
    """Recompute the hash an entry should carry."""
    return entry_hash(**entry.model_dump(exclude={"hash"}))


@dataclass(frozen=True)
class ChainReport:
    """Result of walking the chain: `ok`, or the first broken link and why."""

    ok: bool
    entries: int
    anchor_seq: int
    last_seq: int
    head_hash: str
    broken_seq: int | None = None
    reason: str | None = None

    def summary(self) -> str:
        if self.ok:
            return (
                f"audit chain intact: {self.entries} entries after anchor {self.anchor_seq}, "
                f"head seq {self.last_seq} hash {self.head_hash[:16]}"
            )
        return f"audit chain BROKEN at seq {self.broken_seq}: {self.reason}"


class AuditLog:
    """Records audit events and answers questions about them."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def record(self, event: AuditEvent) -> AuditEntry:
        """Append `event` in a transaction of its own."""
        async with self._store.write() as conn:
            return await self.record_in(conn, event)

    async def record_in(self, conn: AsyncConnection, event: AuditEvent) -> AuditEntry:
        """Append `event` inside the caller's write transaction (the change and its record commit
        together, or neither does)."""
        await sql.lock_chain(conn)
        prev_seq, prev_hash = await sql.head(conn)
        fields = {name: _clip(getattr(event, name), limit) for name, limit in _LIMITS.items()}
        content: dict[str, Any] = {
            "seq": prev_seq + 1,
            "ts": self._clock.now(),
            "outcome": event.outcome,
            "detail": canonical_detail(event.detail),
            "prev_hash": prev_hash,
            **fields,
        }
        entry = AuditEntry(**content, hash=entry_hash(**content))
        await sql.append(conn, entry)
        return entry

    async def search(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        actor: str | None = None,
        action: str | None = None,
        before_seq: int | None = None,
        limit: int = 100,
    ) -> list[AuditEntry]:
        async with self._store.read() as conn:
            return await sql.search(
                conn,
                start=start,
                end=end,
                actor=actor,
                action=action,
                before_seq=before_seq,
                limit=limit,
            )

    async def verify(self) -> ChainReport:
        """Walk the whole chain from the anchor; stop at the first broken link."""
        async with self._read_snapshot() as conn:
            anchor_seq, anchor_hash = await sql.anchor(conn)
            expected_seq, prev_hash, count = anchor_seq + 1, anchor_hash, 0
            while True:
                page = await sql.page(conn, after_seq=expected_seq - 1, limit=_VERIFY_PAGE)
                for entry in page:
                    problem = _link_problem(entry, expected_seq, prev_hash)
                    if problem is not None:
                        return ChainReport(
                            ok=False,
                            entries=count,
                            anchor_seq=anchor_seq,
                            last_seq=expected_seq - 1,
                            head_hash=prev_hash,
                            broken_seq=entry.seq if problem != "missing" else expected_seq,
                            reason=_REASONS[problem],
                        )
                    expected_seq, prev_hash, count = entry.seq + 1, entry.hash, count + 1
                if len(page) < _VERIFY_PAGE:
                    break
        return ChainReport(
            ok=True,
            entries=count,
            anchor_seq=anchor_seq,
            last_seq=expected_seq - 1,
            head_hash=prev_hash,
        )

    async def prune(self, older_than: datetime) -> int:
        """Delete the prefix of entries older than `older_than`; the anchor records its end."""
        async with self._store.write() as conn:
            await sql.lock_chain(conn)
            end = await sql.last_before(conn, older_than)
            if end is None:
                return 0
            seq, hash_ = end
            removed = await sql.cut_prefix(conn, seq=seq, hash_=hash_, at=self._clock.now())
            await self.record_in(
                conn,
                AuditEvent(
                    actor="system",
                    action="audit.prune",
                    detail={"through_seq": seq, "anchor_hash": hash_, "removed": removed},
                ),
            )
        log.info("audit log pruned through seq %d (%d entries)", seq, removed)
        return removed

    async def prune_older_than_days(self, days: int) -> int:
        return await self.prune(self._clock.now() - timedelta(days=days))

    @asynccontextmanager
    async def _read_snapshot(self) -> AsyncIterator[AsyncConnection]:
        # One transaction, so pages see one consistent state while appends go on.
        async with self._store.read() as conn, conn.begin():
            yield conn


def _clip(value: str | None, limit: int) -> str | None:
    return value[:limit] if value is not None else None


_REASONS = {
    "missing": "entries missing before this one (deleted rows)",
    "out_of_order": "sequence out of order (inserted rows)",
    "prev": "does not link to the entry before it (deleted or inserted rows)",
    "hash": "content does not match its hash (altered row)",
}


def _link_problem(entry: AuditEntry, expected_seq: int, prev_hash: str) -> str | None:
    if entry.seq > expected_seq:
        return "missing"
    if entry.seq < expected_seq:
        return "out_of_order"
    if entry.prev_hash != prev_hash:
        return "prev"
    if rehash(entry) != entry.hash:
        return "hash"
    return None
