"""SQL of the recordings index: segments and gaps."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from heldar.recording.models import GapRow, SegmentRow
from heldar.store.tables import gaps, segments


def _segment(row: Any) -> SegmentRow:
    return SegmentRow.model_validate(dict(row._mapping))


async def insert_segment(conn: AsyncConnection, values: dict[str, Any]) -> int | None:
    """Insert one row; None when its path is already indexed (idempotent)."""
    try:
        async with conn.begin_nested():
            result = await conn.execute(insert(segments).values(**values).returning(segments.c.id))
    except IntegrityError:
        return None
    return int(result.scalar_one())


async def previous_segment(
    conn: AsyncConnection, camera_id: str, before: datetime
) -> SegmentRow | None:
    row = (
        await conn.execute(
            select(segments)
            .where(segments.c.camera_id == camera_id, segments.c.start_time <= before)
            .order_by(segments.c.start_time.desc())
            .limit(1)
        )
    ).first()
    return _segment(row) if row is not None else None


async def list_segments(
    conn: AsyncConnection, camera_id: str, start: datetime, end: datetime, limit: int
) -> list[SegmentRow]:
    rows = await conn.execute(
        select(segments)
        .where(
            segments.c.camera_id == camera_id,
            segments.c.end_time > start,
            segments.c.start_time < end,
            segments.c.deleting.is_(False),
        )
        .order_by(segments.c.start_time)
        .limit(limit)
    )
    return [_segment(row) for row in rows]


async def intervals(
    conn: AsyncConnection, camera_id: str, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """(start, end) of every segment overlapping [start, end): the timeline's raw material."""
    rows = await conn.execute(
        select(segments.c.start_time, segments.c.end_time)
        .where(
            segments.c.camera_id == camera_id,
            segments.c.end_time > start,
            segments.c.start_time < end,
            segments.c.deleting.is_(False),
        )
        .order_by(segments.c.start_time)
    )
    return [(row.start_time, row.end_time) for row in rows]


async def all_paths(conn: AsyncConnection) -> dict[str, tuple[int, int, bool]]:
    """path → (id, size_bytes, deleting) of every row."""
    rows = await conn.execute(
        select(segments.c.path, segments.c.id, segments.c.size_bytes, segments.c.deleting)
    )
    return {row.path: (row.id, row.size_bytes, row.deleting) for row in rows}


async def all_rows(conn: AsyncConnection) -> list[SegmentRow]:
    rows = await conn.execute(
        select(segments).order_by(segments.c.camera_id, segments.c.start_time)
    )
    return [_segment(row) for row in rows]


async def delete_rows(conn: AsyncConnection, ids: list[int]) -> int:
    if not ids:
        return 0
    result = await conn.execute(delete(segments).where(segments.c.id.in_(ids)))
    return int(result.rowcount or 0)


async def mark_deleting(conn: AsyncConnection, ids: list[int]) -> None:
    if ids:
        await conn.execute(update(segments).where(segments.c.id.in_(ids)).values(deleting=True))


async def count(conn: AsyncConnection) -> int:
    return int(await conn.scalar(select(func.count()).select_from(segments)) or 0)


async def insert_gap(conn: AsyncConnection, camera_id: str, start: datetime, end: datetime) -> None:
    await conn.execute(
        insert(gaps).values(
            camera_id=camera_id,
            start_time=start,
            end_time=end,
            seconds=(end - start).total_seconds(),
        )
    )


async def list_gaps(
    conn: AsyncConnection, camera_id: str, start: datetime, end: datetime
) -> list[GapRow]:
    rows = await conn.execute(
        select(gaps)
        .where(gaps.c.camera_id == camera_id, gaps.c.end_time > start, gaps.c.start_time < end)
        .order_by(gaps.c.start_time)
    )
    return [GapRow.model_validate(dict(row._mapping)) for row in rows]


async def newest_segments(conn: AsyncConnection, camera_id: str, limit: int) -> list[SegmentRow]:
    rows = await conn.execute(
        select(segments)
        .where(segments.c.camera_id == camera_id, segments.c.deleting.is_(False))
        .order_by(segments.c.start_time.desc())
        .limit(limit)
    )
    return [_segment(row) for row in rows]


async def recent_paths(conn: AsyncConnection, limit: int) -> list[str]:
    """Paths of the `limit` most recently started segments, over every camera."""
    rows = await conn.execute(
        select(segments.c.path)
        .where(segments.c.deleting.is_(False))
        .order_by(segments.c.start_time.desc())
        .limit(limit)
    )
    return [row.path for row in rows]


async def span(
    conn: AsyncConnection, camera_id: str, start: datetime, end: datetime
) -> tuple[datetime, datetime, int] | None:
    """(first start, last end, count) of the segments overlapping [start, end), by index seeks
    and one index-range count — never reading every row of a long range."""
    live = (segments.c.camera_id == camera_id, segments.c.deleting.is_(False))
    straddle = (
        await conn.execute(
            select(segments.c.start_time, segments.c.end_time)
            .where(*live, segments.c.start_time < start)
            .order_by(segments.c.start_time.desc())
            .limit(1)
        )
    ).first()
    first = straddle.start_time if straddle is not None and straddle.end_time > start else None
    if first is None:
        first = await conn.scalar(
            select(func.min(segments.c.start_time)).where(
                *live, segments.c.start_time >= start, segments.c.start_time < end
            )
        )
    if first is None:
        return None
    last = (
        await conn.execute(
            select(segments.c.end_time)
            .where(*live, segments.c.start_time < end)
            .order_by(segments.c.start_time.desc())
            .limit(1)
        )
    ).scalar_one()
    count = await conn.scalar(
        select(func.count())
        .select_from(segments)
        .where(*live, segments.c.start_time >= first, segments.c.start_time < end)
    )
    return first, last, int(count or 0)
