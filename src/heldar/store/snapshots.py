"""SQL of snapshot schedules and the stills they took."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from heldar.playback.snapshot_models import SnapshotSchedule
from heldar.store.tables import snapshot_schedules, snapshots


def _schedule(row: Any) -> SnapshotSchedule:
    return SnapshotSchedule.model_validate(dict(row._mapping))


async def list_schedules(
    conn: AsyncConnection, camera_id: str | None = None
) -> list[SnapshotSchedule]:
    query = select(snapshot_schedules).order_by(snapshot_schedules.c.id)
    if camera_id is not None:
        query = query.where(snapshot_schedules.c.camera_id == camera_id)
    return [_schedule(row) for row in await conn.execute(query)]


async def get_schedule(conn: AsyncConnection, schedule_id: int) -> SnapshotSchedule | None:
    query = select(snapshot_schedules).where(snapshot_schedules.c.id == schedule_id)
    row = (await conn.execute(query)).first()
    return _schedule(row) if row is not None else None


async def insert_schedule(
    conn: AsyncConnection, camera_id: str, values: dict[str, Any], now: datetime
) -> SnapshotSchedule:
    row = (
        await conn.execute(
            insert(snapshot_schedules)
            .values(camera_id=camera_id, created_at=now, updated_at=now, **values)
            .returning(snapshot_schedules)
        )
    ).one()
    return _schedule(row)


async def update_schedule(
    conn: AsyncConnection, schedule_id: int, values: dict[str, Any]
) -> SnapshotSchedule | None:
    row = (
        await conn.execute(
            update(snapshot_schedules)
            .where(snapshot_schedules.c.id == schedule_id)
            .values(**values)
            .returning(snapshot_schedules)
        )
    ).first()
    return _schedule(row) if row is not None else None


async def delete_schedule(conn: AsyncConnection, schedule_id: int) -> bool:
    result = await conn.execute(
        delete(snapshot_schedules).where(snapshot_schedules.c.id == schedule_id)
    )
    return result.rowcount > 0


async def insert_snapshot(conn: AsyncConnection, values: dict[str, Any]) -> int:
    result = await conn.execute(insert(snapshots).values(**values).returning(snapshots.c.id))
    return int(result.scalar_one())


async def list_snapshots(
    conn: AsyncConnection, camera_id: str, start: datetime, end: datetime, limit: int
) -> list[dict[str, Any]]:
    """Newest first, taken within [start, end]."""
    rows = await conn.execute(
        select(snapshots)
        .where(
            snapshots.c.camera_id == camera_id,
            snapshots.c.taken_at >= start,
            snapshots.c.taken_at <= end,
        )
        .order_by(snapshots.c.taken_at.desc(), snapshots.c.id.desc())
        .limit(limit)
    )
    return [dict(row._mapping) for row in rows]


async def take_expired(conn: AsyncConnection, now: datetime, limit: int) -> list[str]:
    """Delete up to `limit` rows older than their schedule's `keep_hours` (a still whose schedule
    is gone: `ORPHAN_KEEP_HOURS`) and return their paths, for the caller to unlink."""
    keep = {s.id: s.keep_hours for s in await list_schedules(conn)}
    cutoffs: list[tuple[int | None, int]] = [*keep.items(), (None, ORPHAN_KEEP_HOURS)]
    expired: list[tuple[int, str]] = []
    for schedule_id, hours in cutoffs:
        owner = (
            snapshots.c.schedule_id.is_(None)
            if schedule_id is None
            else snapshots.c.schedule_id == schedule_id
        )
        rows = await conn.execute(
            select(snapshots.c.id, snapshots.c.path)
            .where(owner, snapshots.c.taken_at < now - timedelta(hours=hours))
            .limit(limit - len(expired))
        )
        expired += [(row.id, row.path) for row in rows]
        if len(expired) >= limit:
            break
    if expired:
        await conn.execute(delete(snapshots).where(snapshots.c.id.in_([i for i, _ in expired])))
    return [path for _, path in expired]


ORPHAN_KEEP_HOURS = 168
