"""SQL of the event log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from heldar.events.models import Event, Severity
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


async def list_events(
    conn: AsyncConnection,
    *,
    camera_id: str | None = None,
    event_type: str | None = None,
    severity: Severity | None = None,
    before_id: int | None = None,
    since_id: int | None = None,
    limit: int = 100,
) -> list[Event]:
    """Newest first; `since_id` returns only newer rows (oldest first is the caller's choice)."""
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
    rows = await conn.execute(query.order_by(events.c.id.desc()).limit(limit))
    return [Event.model_validate(dict(row._mapping)) for row in rows]
