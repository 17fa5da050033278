"""SQL of the audit log: append under a chain lock, read in keyset pages, cut old prefixes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from heldar.auth.models import AuditEntry
from heldar.store.tables import audit_anchor, audit_log

_PG_AUDIT_CHAIN_LOCK = 0x41554454  # "AUDT": one appender at a time across nodes


def _entry(row: Any) -> AuditEntry:
    return AuditEntry.model_validate(dict(row._mapping))


async def lock_chain(conn: AsyncConnection) -> None:
    """Serialize appends for the rest of this transaction.

    SQLite already has one writer (the store's write lock); PostgreSQL nodes take an advisory lock
    so two appends never read the same chain head.
    """
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_AUDIT_CHAIN_LOCK})


async def anchor(conn: AsyncConnection) -> tuple[int, str]:
    """`(seq, hash)` of the entry the chain starts after."""
    row = (await conn.execute(select(audit_anchor.c.seq, audit_anchor.c.hash))).one()
    return int(row.seq), str(row.hash)


async def head(conn: AsyncConnection) -> tuple[int, str]:
    """`(seq, hash)` of the newest entry, or of the anchor when the log is empty."""
    query = select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)
    row = (await conn.execute(query)).first()
    if row is None:
        return await anchor(conn)
    return int(row.seq), str(row.hash)


async def append(conn: AsyncConnection, entry: AuditEntry) -> None:
    await conn.execute(insert(audit_log).values(**entry.model_dump()))


async def page(conn: AsyncConnection, *, after_seq: int, limit: int) -> list[AuditEntry]:
    """Entries with seq > `after_seq`, oldest first (for walking the chain)."""
    query = (
        select(audit_log).where(audit_log.c.seq > after_seq).order_by(audit_log.c.seq).limit(limit)
    )
    return [_entry(row) for row in await conn.execute(query)]


async def search(
    conn: AsyncConnection,
    *,
    start: datetime | None,
    end: datetime | None,
    actor: str | None,
    action: str | None,
    before_seq: int | None,
    limit: int,
) -> list[AuditEntry]:
    """Entries matching the filters, newest first."""
    query = select(audit_log).order_by(audit_log.c.seq.desc()).limit(limit)
    if start is not None:
        query = query.where(audit_log.c.ts >= start)
    if end is not None:
        query = query.where(audit_log.c.ts < end)
    if actor is not None:
        query = query.where(audit_log.c.actor == actor)
    if action is not None:
        query = query.where(audit_log.c.action == action)
    if before_seq is not None:
        query = query.where(audit_log.c.seq < before_seq)
    return [_entry(row) for row in await conn.execute(query)]


async def count(conn: AsyncConnection) -> int:
    return int(await conn.scalar(select(func.count()).select_from(audit_log)) or 0)


async def last_before(conn: AsyncConnection, cutoff: datetime) -> tuple[int, str] | None:
    """The newest entry older than `cutoff` whose predecessors are all older too (a prefix end)."""
    newer = select(func.min(audit_log.c.seq)).where(audit_log.c.ts >= cutoff).scalar_subquery()
    query = (
        select(audit_log.c.seq, audit_log.c.hash)
        .where(audit_log.c.ts < cutoff)
        .where((newer.is_(None)) | (audit_log.c.seq < newer))
        .order_by(audit_log.c.seq.desc())
        .limit(1)
    )
    row = (await conn.execute(query)).first()
    return (int(row.seq), str(row.hash)) if row is not None else None


async def cut_prefix(conn: AsyncConnection, *, seq: int, hash_: str, at: datetime) -> int:
    """Move the anchor onto entry `seq`, then delete it and everything before it."""
    values = {"seq": seq, "hash": hash_, "updated_at": at}
    await conn.execute(update(audit_anchor).where(audit_anchor.c.id == 1).values(**values))
    result = await conn.execute(delete(audit_log).where(audit_log.c.seq <= seq))
    return int(result.rowcount)
