"""SQL of the event log: insert, filtered pages (newest first or from a cursor), types."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from heldar.events.models import Event, Severity
from heldar.store.dialect import insert_ids
from heldar.store.tables import events


async def insert_event(
    conn: AsyncConnection,
    *,
    camera_id: str | None,
    event_type: str,
    severity: Severity,
    timestamp: datetime,
    payload: dict[str, Any],
) -> int:
    result = await conn.execute(
        insert(events)
        .values(
            camera_id=camera_id,
            event_type=event_type,
            severity=severity,
            timestamp=timestamp,
            payload=payload,
        )
        .returning(events.c.id)
    )
    return int(result.scalar_one())


async def insert_events(conn: AsyncConnection, rows: list[dict[str, Any]]) -> list[int]:
    """Insert several events in one statement; their ids, in the order given."""
    return await insert_ids(conn, events, rows)


async def list_events(
    conn: AsyncConnection,
    *,
    camera_id: str | None = None,
    event_type: str | None = None,
    severity: Severity | None = None,
    before_id: int | None = None,
    since_id: int | None = None,
    camera_scope: Collection[str] | None = None,
    limit: int = 100,
) -> list[Event]:
    """Newest first; with `since_id`, the oldest rows newer than it first (a forward cursor).

    `camera_scope` keeps events of those cameras and camera-less (system) events only, in SQL, so
    a scoped caller's page is never short because of rows it may not see.
    """
    query = select(events)
    if camera_id is not None:
        query = query.where(events.c.camera_id == camera_id)
    if event_type is not None:
        query = query.where(events.c.event_type == event_type)
    if severity is not None:
        query = query.where(events.c.severity == severity)
    if before_id is not None:
        query = query.where(events.c.id < before_id)
    if since_id is not None:
        query = query.where(events.c.id > since_id)
    if camera_scope is not None:
        query = query.where(
            or_(events.c.camera_id.is_(None), events.c.camera_id.in_(sorted(camera_scope)))
        )
    order = events.c.id.asc() if since_id is not None else events.c.id.desc()
    rows = await conn.execute(query.order_by(order).limit(limit))
    return [Event.model_validate(dict(row._mapping)) for row in rows]


async def event_types(conn: AsyncConnection, limit: int) -> list[str]:
    """Distinct event types in the log, alphabetical."""
    rows = await conn.execute(
        select(events.c.event_type).distinct().order_by(events.c.event_type).limit(limit)
    )
    return [str(row[0]) for row in rows]


async def newest_id(conn: AsyncConnection) -> int:
    """The highest event id (0 for an empty log)."""
    value = await conn.scalar(select(func.max(events.c.id)))
    return int(value or 0)
