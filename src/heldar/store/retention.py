"""SQL of retention and evidence: totals, deletable windows, the crash-safe deletion phases,
locks and incidents, and the persisted retention settings row."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, case, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from heldar.recording.eviction import (
    CameraTotals,
    Candidate,
    Incident,
    Marked,
    RetentionSettings,
)
from heldar.recording.models import SegmentRow
from heldar.store.dialect import upsert
from heldar.store.tables import cameras, gaps, retention_settings, segments

# Bound parameters per statement: far below SQLite's (32,766) and asyncpg's (32,767) limits.
_CHUNK = 1000


def _chunks(ids: Sequence[int]) -> list[Sequence[int]]:
    return [ids[i : i + _CHUNK] for i in range(0, len(ids), _CHUNK)]


_live = segments.c.deleting.is_(False)
_unlocked = segments.c.locked.is_(False)


# -- what retention looks at ----------------------------------------------------------------------


async def camera_totals(conn: AsyncConnection) -> list[CameraTotals]:
    """Per camera id found in the index (registered or not): counts, bytes, newest start."""
    locked_bytes = func.coalesce(
        func.sum(case((segments.c.locked.is_(True), segments.c.size_bytes), else_=0)), 0
    )
    rows = await conn.execute(
        select(
            segments.c.camera_id,
            func.count().label("n"),
            func.coalesce(func.sum(segments.c.size_bytes), 0).label("total"),
            locked_bytes.label("locked"),
            func.max(segments.c.start_time).label("newest"),
        )
        .where(_live)
        .group_by(segments.c.camera_id)
        .order_by(segments.c.camera_id)
    )
    return [
        CameraTotals(row.camera_id, int(row.n), int(row.total), int(row.locked), row.newest)
        for row in rows
    ]


async def camera_policies(conn: AsyncConnection) -> dict[str, tuple[int, float | None]]:
    """Registered camera id → (retention_hours, retention_quota_gb)."""
    rows = await conn.execute(
        select(cameras.c.id, cameras.c.retention_hours, cameras.c.retention_quota_gb)
    )
    return {row.id: (int(row.retention_hours), row.retention_quota_gb) for row in rows}


async def newest_start(conn: AsyncConnection, camera_id: str) -> datetime | None:
    """Start of the camera's newest segment (an index lookup)."""
    newest: datetime | None = await conn.scalar(
        select(func.max(segments.c.start_time)).where(segments.c.camera_id == camera_id, _live)
    )
    return newest


async def segment_count(conn: AsyncConnection, camera_id: str) -> int:
    return int(
        await conn.scalar(select(func.count()).where(segments.c.camera_id == camera_id, _live)) or 0
    )


def _aged(camera_id: str, cutoff: datetime) -> Any:
    # start <= end, so `start_time < cutoff` lets the (camera_id, start_time) index bound the scan
    return and_(
        segments.c.camera_id == camera_id,
        segments.c.start_time < cutoff,
        segments.c.end_time < cutoff,
        _unlocked,
        _live,
    )


async def aged_totals(conn: AsyncConnection, camera_id: str, cutoff: datetime) -> tuple[int, int]:
    """(count, bytes) of a camera's unlocked segments that ended before `cutoff`."""
    row = (
        await conn.execute(
            select(func.count(), func.coalesce(func.sum(segments.c.size_bytes), 0)).where(
                _aged(camera_id, cutoff)
            )
        )
    ).one()
    return int(row[0]), int(row[1])


async def oldest_unlocked(conn: AsyncConnection, camera_id: str, limit: int) -> list[Candidate]:
    """A camera's oldest unlocked segments, oldest first (the window retention chooses from)."""
    rows = await conn.execute(
        select(
            segments.c.id,
            segments.c.camera_id,
            segments.c.start_time,
            segments.c.end_time,
            segments.c.size_bytes,
        )
        .where(segments.c.camera_id == camera_id, _unlocked, _live)
        .order_by(segments.c.start_time, segments.c.id)
        .limit(limit)
    )
    return [Candidate(r.id, r.camera_id, r.start_time, r.end_time, r.size_bytes) for r in rows]


# -- crash-safe deletion: mark, (unlink), forget --------------------------------------------------


def _marked(rows: Any) -> list[Marked]:
    return [Marked(r.id, r.camera_id, r.path, r.size_bytes) for r in rows]


async def mark_unlocked(conn: AsyncConnection, ids: Sequence[int]) -> list[Marked]:
    """Phase 1: mark the given rows `deleting` unless they are locked (or marked) by now."""
    marked: list[Marked] = []
    for chunk in _chunks(ids):
        result = await conn.execute(
            update(segments)
            .where(segments.c.id.in_(chunk), _unlocked, _live)
            .values(deleting=True)
            .returning(segments.c.id, segments.c.camera_id, segments.c.path, segments.c.size_bytes)
        )
        marked.extend(_marked(result))
    return marked


async def locked_count(conn: AsyncConnection, camera_id: str) -> int:
    return int(
        await conn.scalar(
            select(func.count()).where(
                segments.c.camera_id == camera_id, segments.c.locked.is_(True)
            )
        )
        or 0
    )


async def mark_camera(conn: AsyncConnection, camera_id: str) -> list[Marked]:
    """Phase 1 for a whole camera (the caller has checked, in this transaction, that none is
    locked; a lock taken later fails, because locking needs `deleting = false`)."""
    result = await conn.execute(
        update(segments)
        .where(segments.c.camera_id == camera_id, _unlocked)
        .values(deleting=True)
        .returning(segments.c.id, segments.c.camera_id, segments.c.path, segments.c.size_bytes)
    )
    return _marked(result)


async def marked_rows(conn: AsyncConnection) -> list[Marked]:
    """Rows a deletion marked and did not finish (a failure or a kill between the phases)."""
    rows = await conn.execute(
        select(segments.c.id, segments.c.camera_id, segments.c.path, segments.c.size_bytes).where(
            segments.c.deleting.is_(True)
        )
    )
    return _marked(rows)


async def forget(conn: AsyncConnection, ids: Sequence[int]) -> int:
    """Phase 3: delete marked rows (their files are gone)."""
    deleted = 0
    for chunk in _chunks(ids):
        result = await conn.execute(
            delete(segments).where(segments.c.id.in_(chunk), segments.c.deleting.is_(True))
        )
        deleted += int(result.rowcount or 0)
    return deleted


async def forget_gaps(conn: AsyncConnection, camera_id: str, *, before: datetime | None) -> int:
    """Delete a camera's gap rows that ended before `before` (None: all of them)."""
    statement = delete(gaps).where(gaps.c.camera_id == camera_id)
    if before is not None:
        statement = statement.where(gaps.c.start_time < before, gaps.c.end_time < before)
    return int((await conn.execute(statement)).rowcount or 0)


# -- evidence: locks and incidents ----------------------------------------------------------------


def _segment(row: Any) -> SegmentRow:
    return SegmentRow.model_validate(dict(row._mapping))


async def live_segment(conn: AsyncConnection, segment_id: int) -> SegmentRow | None:
    """A segment that is not being deleted (one being deleted counts as gone)."""
    row = (await conn.execute(select(segments).where(segments.c.id == segment_id, _live))).first()
    return _segment(row) if row is not None else None


async def change_segment(
    conn: AsyncConnection, segment_id: int, values: dict[str, Any]
) -> SegmentRow | None:
    """Set `locked` and/or `incident_id` of a live segment; None when it is gone (or going)."""
    result = await conn.execute(
        update(segments)
        .where(segments.c.id == segment_id, _live)
        .values(**values)
        .returning(*segments.c)
    )
    row = result.first()
    return _segment(row) if row is not None else None


def _scoped(statement: Select[Any], camera_scope: Collection[str] | None) -> Select[Any]:
    if camera_scope is None:
        return statement
    return statement.where(segments.c.camera_id.in_(sorted(camera_scope)))


async def incidents(
    conn: AsyncConnection, camera_scope: Collection[str] | None, limit: int
) -> list[Incident]:
    """Incidents with at least one live segment in scope, the most recent first."""
    last_end = func.max(segments.c.end_time)
    summary = _scoped(
        select(
            segments.c.incident_id,
            func.count().label("n"),
            func.min(segments.c.start_time).label("first_start"),
            last_end.label("last_end"),
            func.coalesce(func.sum(case((segments.c.locked.is_(True), 1), else_=0)), 0).label(
                "locked"
            ),
        )
        .where(segments.c.incident_id.is_not(None), _live)
        .group_by(segments.c.incident_id)
        .order_by(last_end.desc(), segments.c.incident_id)
        .limit(limit),
        camera_scope,
    )
    rows = list(await conn.execute(summary))
    if not rows:
        return []
    ids = [row.incident_id for row in rows]
    pairs = await conn.execute(
        _scoped(
            select(segments.c.incident_id, segments.c.camera_id)
            .where(segments.c.incident_id.in_(ids), _live)
            .distinct(),
            camera_scope,
        )
    )
    by_incident: dict[str, set[str]] = {}
    for pair in pairs:
        by_incident.setdefault(pair.incident_id, set()).add(pair.camera_id)
    return [
        Incident(
            incident_id=row.incident_id,
            segment_count=int(row.n),
            camera_ids=sorted(by_incident.get(row.incident_id, set())),
            first_start=row.first_start,
            last_end=row.last_end,
            locked_count=int(row.locked),
        )
        for row in rows
    ]


async def incident_segments(
    conn: AsyncConnection, incident_id: str, camera_scope: Collection[str] | None, limit: int
) -> list[SegmentRow]:
    rows = await conn.execute(
        _scoped(
            select(segments)
            .where(segments.c.incident_id == incident_id, _live)
            .order_by(segments.c.start_time, segments.c.id)
            .limit(limit),
            camera_scope,
        )
    )
    return [_segment(row) for row in rows]


# -- the settings row -----------------------------------------------------------------------------


async def load_settings(conn: AsyncConnection) -> RetentionSettings | None:
    row = (await conn.execute(select(retention_settings))).first()
    if row is None:
        return None
    return RetentionSettings(
        max_recordings_gb=row.max_recordings_gb,
        min_free_disk_gb=row.min_free_disk_gb,
        guard_max_share=row.guard_max_share,
        interval_s=row.interval_s,
    )


async def save_settings(conn: AsyncConnection, values: RetentionSettings, now: datetime) -> None:
    await upsert(
        conn,
        retention_settings,
        {"id": 1, **values.model_dump(), "updated_at": now},
        keys=["id"],
    )
