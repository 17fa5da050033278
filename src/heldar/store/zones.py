"""SQL of zones: definitions, emitted zone events, the engine's saved track state."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from heldar.store.dialect import insert_ids, upsert
from heldar.store.tables import zone_events, zone_state, zones
from heldar.zones.models import Zone

# -- zones ----------------------------------------------------------------------------------------


def _zone(row: Any) -> Zone:
    return Zone.model_validate(dict(row._mapping))


async def list_zones(conn: AsyncConnection, camera_id: str | None = None) -> list[Zone]:
    query = select(zones).order_by(zones.c.camera_id, zones.c.id)
    if camera_id is not None:
        query = query.where(zones.c.camera_id == camera_id)
    return [_zone(row) for row in await conn.execute(query)]


async def get_zone(conn: AsyncConnection, zone_id: int) -> Zone | None:
    row = (await conn.execute(select(zones).where(zones.c.id == zone_id))).first()
    return _zone(row) if row is not None else None


async def count_zones(conn: AsyncConnection, camera_id: str) -> int:
    return len(list(await conn.execute(select(zones.c.id).where(zones.c.camera_id == camera_id))))


async def insert_zone(conn: AsyncConnection, values: dict[str, Any]) -> Zone:
    return _zone((await conn.execute(insert(zones).values(**values).returning(zones))).one())


async def update_zone(conn: AsyncConnection, zone_id: int, values: dict[str, Any]) -> Zone | None:
    row = (
        await conn.execute(
            update(zones).where(zones.c.id == zone_id).values(**values).returning(zones)
        )
    ).first()
    return _zone(row) if row is not None else None


async def delete_zone(conn: AsyncConnection, zone_id: int) -> bool:
    return (await conn.execute(delete(zones).where(zones.c.id == zone_id))).rowcount > 0


# -- zone events ----------------------------------------------------------------------------------


async def insert_events(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert zone events in one statement; their ids, in order."""
    return await insert_ids(conn, zone_events, rows)


async def list_events(
    conn: AsyncConnection,
    camera_id: str,
    start: datetime,
    end: datetime,
    *,
    zone_id: int | None = None,
    event_type: str | None = None,
    track_id: str | None = None,
    limit: int,
) -> list[dict[str, Any]]:
    """Newest first, within [start, end]."""
    query = select(zone_events).where(
        zone_events.c.camera_id == camera_id,
        zone_events.c.timestamp >= start,
        zone_events.c.timestamp <= end,
    )
    if zone_id is not None:
        query = query.where(zone_events.c.zone_id == zone_id)
    if event_type is not None:
        query = query.where(zone_events.c.event_type == event_type)
    if track_id is not None:
        query = query.where(zone_events.c.track_id == track_id)
    query = query.order_by(zone_events.c.timestamp.desc(), zone_events.c.id.desc()).limit(limit)
    return [dict(row._mapping) for row in await conn.execute(query)]


async def event_times(
    conn: AsyncConnection, camera_id: str, start: datetime, end: datetime, limit: int
) -> list[tuple[datetime, str, int]]:
    """(timestamp, event_type, zone_id) of the camera's zone events in [start, end), for counts."""
    rows = await conn.execute(
        select(zone_events.c.timestamp, zone_events.c.event_type, zone_events.c.zone_id)
        .where(
            zone_events.c.camera_id == camera_id,
            zone_events.c.timestamp >= start,
            zone_events.c.timestamp < end,
        )
        .limit(limit)
    )
    return [(row.timestamp, row.event_type, row.zone_id) for row in rows]


async def prune_events(conn: AsyncConnection, cutoff: datetime) -> list[str]:
    """Delete zone events older than `cutoff`; the evidence paths they had, to unlink."""
    old = zone_events.c.timestamp < cutoff
    paths = [
        row.evidence
        for row in await conn.execute(select(zone_events.c.evidence).where(old))
        if row.evidence
    ]
    await conn.execute(delete(zone_events).where(old))
    return paths


# -- engine state ---------------------------------------------------------------------------------


async def load_states(conn: AsyncConnection) -> dict[str, tuple[Any, int]]:
    rows = await conn.execute(select(zone_state))
    return {row.camera_id: (row.state, int(row.last_batch_id)) for row in rows}


async def save_states(
    conn: AsyncConnection, states: dict[str, tuple[Any, int]], now: datetime
) -> None:
    """Upsert the engine state of several cameras: `{camera_id: (state, last batch id)}`."""
    rows = [
        {"camera_id": camera_id, "state": state, "last_batch_id": batch_id, "updated_at": now}
        for camera_id, (state, batch_id) in states.items()
    ]
    await upsert(conn, zone_state, rows, keys=["camera_id"])


async def forget_state(conn: AsyncConnection, camera_id: str) -> None:
    await conn.execute(delete(zone_state).where(zone_state.c.camera_id == camera_id))
