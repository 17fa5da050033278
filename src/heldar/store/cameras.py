"""SQL of the camera registry."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from heldar.cameras.models import CameraRecord
from heldar.errors import Conflict, NotFound
from heldar.store.tables import cameras


def _record(row: Any) -> CameraRecord:
    return CameraRecord.model_validate(dict(row._mapping))


async def list_cameras(conn: AsyncConnection) -> list[CameraRecord]:
    rows = await conn.execute(select(cameras).order_by(cameras.c.id))
    return [_record(row) for row in rows]


async def get_camera(conn: AsyncConnection, camera_id: str) -> CameraRecord | None:
    row = (await conn.execute(select(cameras).where(cameras.c.id == camera_id))).first()
    return _record(row) if row is not None else None


async def require_camera(conn: AsyncConnection, camera_id: str) -> CameraRecord:
    """The camera, or 404 `camera_not_found` (what every per-camera collection answers)."""
    record = await get_camera(conn, camera_id)
    if record is None:
        raise NotFound(f"camera {camera_id!r} not found", code="camera_not_found")
    return record


async def insert_camera(conn: AsyncConnection, record: CameraRecord) -> None:
    try:
        async with conn.begin_nested():
            await conn.execute(insert(cameras).values(**record.model_dump()))
    except IntegrityError as exc:
        raise Conflict(f"camera {record.id!r} already exists", code="camera_exists") from exc


async def update_camera(conn: AsyncConnection, record: CameraRecord) -> None:
    values = record.model_dump(exclude={"id", "created_at"})
    await conn.execute(update(cameras).where(cameras.c.id == record.id).values(**values))


async def delete_camera(conn: AsyncConnection, camera_id: str) -> bool:
    result = await conn.execute(delete(cameras).where(cameras.c.id == camera_id))
    return bool(result.rowcount)
