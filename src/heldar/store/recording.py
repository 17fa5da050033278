"""SQL of the recorder: camera status rows and recording schedules."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from heldar.recording.models import CameraStatus, Schedule
from heldar.store.dialect import upsert
from heldar.store.tables import camera_status, cameras, schedules


async def save_status(
    conn: AsyncConnection, camera_id: str, status: CameraStatus, now: datetime
) -> bool:
    """Upsert the status row; False when the camera no longer exists."""
    exists = await conn.scalar(select(cameras.c.id).where(cameras.c.id == camera_id))
    if exists is None:
        return False
    values: dict[str, Any] = status.model_dump() | {"camera_id": camera_id, "updated_at": now}
    await upsert(conn, camera_status, values, keys=["camera_id"])
    return True


async def load_statuses(conn: AsyncConnection) -> dict[str, CameraStatus]:
    rows = await conn.execute(select(camera_status))
    result = {}
    for row in rows:
        data = dict(row._mapping)
        camera_id = data.pop("camera_id")
        data.pop("updated_at")
        result[camera_id] = CameraStatus.model_validate(data)
    return result


def _schedule(row: Any) -> Schedule:
    return Schedule.model_validate(dict(row._mapping))


async def list_schedules(conn: AsyncConnection, camera_id: str | None = None) -> list[Schedule]:
    query = select(schedules).order_by(schedules.c.camera_id, schedules.c.id)
    if camera_id is not None:
        query = query.where(schedules.c.camera_id == camera_id)
    return [_schedule(row) for row in await conn.execute(query)]


async def get_schedule(conn: AsyncConnection, schedule_id: int) -> Schedule | None:
    row = (await conn.execute(select(schedules).where(schedules.c.id == schedule_id))).first()
    return _schedule(row) if row is not None else None


async def insert_schedule(
    conn: AsyncConnection, camera_id: str, values: dict[str, Any], now: datetime
) -> Schedule:
    result = await conn.execute(
        insert(schedules)
        .values(camera_id=camera_id, created_at=now, updated_at=now, **values)
        .returning(schedules)
    )
    return _schedule(result.one())


async def update_schedule(
    conn: AsyncConnection, schedule_id: int, values: dict[str, Any], now: datetime
) -> None:
    await conn.execute(
        update(schedules).where(schedules.c.id == schedule_id).values(updated_at=now, **values)
    )


async def delete_schedule(conn: AsyncConnection, schedule_id: int) -> bool:
    result = await conn.execute(delete(schedules).where(schedules.c.id == schedule_id))
    return bool(result.rowcount)
