"""SQL of perception: AI tasks, the ingest outbox with its detections, consumer cursors."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from heldar.perception.models import AiTask, Detection, DetectionBatch, DetectionOut
from heldar.store.dialect import insert_ids, sqlite_insert_many, upsert
from heldar.store.tables import ai_tasks, consumer_cursors, detections, ingest_batches

# -- tasks ----------------------------------------------------------------------------------------


def _task(row: Any) -> AiTask:
    return AiTask.model_validate(dict(row._mapping))


async def list_tasks(conn: AsyncConnection, camera_id: str | None = None) -> list[AiTask]:
    query = select(ai_tasks).order_by(ai_tasks.c.camera_id, ai_tasks.c.id)
    if camera_id is not None:
        query = query.where(ai_tasks.c.camera_id == camera_id)
    return [_task(row) for row in await conn.execute(query)]


async def get_task(conn: AsyncConnection, task_id: str) -> AiTask | None:
    row = (await conn.execute(select(ai_tasks).where(ai_tasks.c.id == task_id))).first()
    return _task(row) if row is not None else None


async def find_task(
    conn: AsyncConnection, camera_id: str, task_type: str, profile: str
) -> AiTask | None:
    row = (
        await conn.execute(
            select(ai_tasks).where(
                ai_tasks.c.camera_id == camera_id,
                ai_tasks.c.task_type == task_type,
                ai_tasks.c.stream_profile == profile,
            )
        )
    ).first()
    return _task(row) if row is not None else None


async def insert_task(conn: AsyncConnection, values: dict[str, Any]) -> AiTask:
    row = (await conn.execute(insert(ai_tasks).values(**values).returning(ai_tasks))).one()
    return _task(row)


async def update_task(conn: AsyncConnection, task_id: str, values: dict[str, Any]) -> AiTask | None:
    row = (
        await conn.execute(
            update(ai_tasks).where(ai_tasks.c.id == task_id).values(**values).returning(ai_tasks)
        )
    ).first()
    return _task(row) if row is not None else None


async def delete_task(conn: AsyncConnection, task_id: str) -> bool:
    result = await conn.execute(delete(ai_tasks).where(ai_tasks.c.id == task_id))
    return result.rowcount > 0


# -- the ingest outbox ----------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchKey:
    id: int
    body_hash: str


async def existing_batches(
    conn: AsyncConnection, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], BatchKey]:
    """The stored batches among `(camera_id, frame_id)` keys."""
    found: dict[tuple[str, str], BatchKey] = {}
    by_camera: dict[str, list[str]] = {}
    for camera_id, frame_id in keys:
        by_camera.setdefault(camera_id, []).append(frame_id)
    for camera_id, frame_ids in by_camera.items():
        rows = await conn.execute(
            select(
                ingest_batches.c.id, ingest_batches.c.frame_id, ingest_batches.c.body_hash
            ).where(
                ingest_batches.c.camera_id == camera_id, ingest_batches.c.frame_id.in_(frame_ids)
            )
        )
        for row in rows:
            found[(camera_id, row.frame_id)] = BatchKey(row.id, row.body_hash)
    return found


@dataclass(frozen=True)
class BatchDetections:
    """The detections of one batch and what they share (camera, task type, time)."""

    camera_id: str
    task_type: str
    timestamp: datetime
    detections: tuple[Detection, ...]


async def insert_batches(
    conn: AsyncConnection, batches: list[dict[str, Any]], groups: list[BatchDetections]
) -> list[int]:
    """Outbox rows and their detections (`groups[i]` belongs to `batches[i]`) in three
    statements whatever their number; the caller's transaction makes them atomic. Returns the
    batch ids."""
    if not batches:
        return []
    ids = await insert_ids(conn, ingest_batches, batches)
    if conn.dialect.name == "sqlite":
        await _insert_detections_sqlite(conn, ids, groups)
        return ids
    rows = [
        {
            "batch_id": batch_id,
            "camera_id": group.camera_id,
            "task_type": group.task_type,
            "timestamp": group.timestamp,
            "label": d.label,
            "confidence": d.confidence,
            "x": d.bbox[0],
            "y": d.bbox[1],
            "w": d.bbox[2],
            "h": d.bbox[3],
            "track_id": d.track_id,
            "attributes": d.attributes,
        }
        for batch_id, group in zip(ids, groups, strict=True)
        for d in group.detections
    ]
    if rows:
        await conn.execute(insert(detections), rows)
    return ids


_DETECTION_COLUMNS = (
    "batch_id",
    "camera_id",
    "task_type",
    "timestamp",
    "label",
    "confidence",
    "x",
    "y",
    "w",
    "h",
    "track_id",
    "attributes",
)


async def _insert_detections_sqlite(
    conn: AsyncConnection, ids: list[int], groups: list[BatchDetections]
) -> None:
    """The hot path of ingest on SQLite: one driver-level executemany with values in their
    stored form (naive UTC text with microseconds, `json.dumps` text) — SQLAlchemy's per-row
    parameter processing was most of the writer's CPU. The tests read these rows back through
    the normal column types."""
    params = []
    for batch_id, group in zip(ids, groups, strict=True):
        stamp = group.timestamp.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        for d in group.detections:
            x, y, w, h = d.bbox
            attributes = json.dumps(d.attributes) if d.attributes else "{}"
            row = (batch_id, group.camera_id, group.task_type, stamp, d.label, d.confidence)
            params.append((*row, x, y, w, h, d.track_id, attributes))
    await sqlite_insert_many(conn, detections, _DETECTION_COLUMNS, params)


async def head_batch_id(conn: AsyncConnection) -> int:
    return int((await conn.execute(select(func.max(ingest_batches.c.id)))).scalar() or 0)


async def batches_after(
    conn: AsyncConnection, after_id: int, limit: int, task_types: Sequence[str] | None = None
) -> list[DetectionBatch]:
    """Committed batches with id > `after_id`, oldest first, with their detections."""
    query = select(ingest_batches).where(ingest_batches.c.id > after_id)
    query = query.order_by(ingest_batches.c.id).limit(limit)
    heads = list(await conn.execute(query))
    if not heads:
        return []
    ids = [row.id for row in heads]
    found: dict[int, list[Detection]] = {i: [] for i in ids}
    rows = await conn.execute(
        select(detections).where(detections.c.batch_id.in_(ids)).order_by(detections.c.id)
    )
    for row in rows:
        found[row.batch_id].append(
            Detection(
                row.label,
                row.confidence,
                (row.x, row.y, row.w, row.h),
                row.track_id,
                row.attributes,
            )
        )
    return [
        DetectionBatch(
            id=row.id,
            camera_id=row.camera_id,
            task_type=row.task_type,
            frame_id=row.frame_id,
            timestamp=row.timestamp,
            detections=tuple(found[row.id]),
            event=row.event,
            provenance=row.provenance,
        )
        for row in heads
    ]


async def list_detections(
    conn: AsyncConnection,
    camera_id: str,
    start: datetime,
    end: datetime,
    *,
    label: str | None,
    track_id: str | None,
    limit: int,
) -> list[DetectionOut]:
    """Newest first, within [start, end]; `attributes` carry the batch's `source` and `_prov`."""
    query = select(detections, ingest_batches.c.provenance).join(
        ingest_batches, ingest_batches.c.id == detections.c.batch_id
    )
    query = query.where(
        detections.c.camera_id == camera_id,
        detections.c.timestamp >= start,
        detections.c.timestamp <= end,
    )
    if label is not None:
        query = query.where(detections.c.label == label)
    if track_id is not None:
        query = query.where(detections.c.track_id == track_id)
    query = query.order_by(detections.c.timestamp.desc(), detections.c.id.desc()).limit(limit)
    return [
        DetectionOut(
            id=row.id,
            batch_id=row.batch_id,
            camera_id=row.camera_id,
            task_type=row.task_type,
            timestamp=row.timestamp,
            label=row.label,
            confidence=row.confidence,
            bbox=[row.x, row.y, row.w, row.h],
            track_id=row.track_id,
            attributes={**row.attributes, **server_attributes(row.provenance)},
        )
        for row in await conn.execute(query)
    ]


def server_attributes(provenance: dict[str, Any]) -> dict[str, Any]:
    """`source` and `_prov` of a detection, from its batch's provenance."""
    prov = {k: v for k, v in provenance.items() if k != "source"}
    return {"source": provenance.get("source"), "_prov": prov}


async def prune_before(conn: AsyncConnection, cutoff: datetime, limit: int) -> int:
    """Delete up to `limit` of the oldest batches older than `cutoff`, with their detections."""
    ids = [
        row.id
        for row in await conn.execute(
            select(ingest_batches.c.id)
            .where(ingest_batches.c.created_at < cutoff)
            .order_by(ingest_batches.c.id)
            .limit(limit)
        )
    ]
    if ids:
        await conn.execute(delete(detections).where(detections.c.batch_id.in_(ids)))
        await conn.execute(delete(ingest_batches).where(ingest_batches.c.id.in_(ids)))
    return len(ids)


# -- consumer cursors -----------------------------------------------------------------------------


async def get_cursor(conn: AsyncConnection, consumer: str) -> int | None:
    row = (
        await conn.execute(
            select(consumer_cursors.c.last_batch_id).where(consumer_cursors.c.consumer == consumer)
        )
    ).first()
    return None if row is None else int(row.last_batch_id)


async def set_cursor(conn: AsyncConnection, consumer: str, batch_id: int, now: datetime) -> None:
    await upsert(
        conn,
        consumer_cursors,
        {"consumer": consumer, "last_batch_id": batch_id, "updated_at": now},
        keys=["consumer"],
    )
