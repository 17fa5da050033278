"""Periodic stills: `/cameras/{id}/snapshot-schedules`, `/snapshot-schedules/{id}`,
`/cameras/{id}/snapshots`.

Schedules are read with `camera:read` and changed with `recording:manage`; the stills themselves
are footage (`video:playback`). A schedule of a camera outside the caller's scope answers like a
missing one.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from heldar.api.deps import AuditDep, CameraRead, KernelDep, RecordingManage, VideoPlayback
from heldar.api.routes.cameras import CameraIdPath
from heldar.api.routes.recordings import FromQuery, ToQuery, time_range
from heldar.app import Kernel
from heldar.auth.models import Principal
from heldar.errors import NotFound
from heldar.playback.snapshot_models import (
    SnapshotOut,
    SnapshotSchedule,
    SnapshotScheduleCreate,
    SnapshotScheduleUpdate,
)

router = APIRouter(tags=["snapshots"])

SnapshotScheduleIdPath = Annotated[int, Path(ge=1, le=2**62)]


async def _visible(kernel: Kernel, principal: Principal, schedule_id: int) -> SnapshotSchedule:
    """The schedule, or the same 404 whether it is missing or out of the caller's scope."""
    schedule = await kernel.snapshot_schedules.get(schedule_id)
    if not principal.sees_camera(schedule.camera_id):
        raise NotFound(
            f"snapshot schedule {schedule_id} not found", code="snapshot_schedule_not_found"
        )
    return schedule


@router.get("/cameras/{camera_id}/snapshot-schedules", response_model=list[SnapshotSchedule])
async def list_snapshot_schedules(
    camera_id: CameraIdPath, kernel: KernelDep, principal: CameraRead
) -> list[SnapshotSchedule]:
    principal.check_camera(camera_id)
    return await kernel.snapshot_schedules.list(camera_id)


@router.post(
    "/cameras/{camera_id}/snapshot-schedules",
    response_model=SnapshotSchedule,
    status_code=status.HTTP_201_CREATED,
)
async def create_snapshot_schedule(
    camera_id: CameraIdPath,
    body: SnapshotScheduleCreate,
    kernel: KernelDep,
    audit: AuditDep,
    principal: RecordingManage,
) -> SnapshotSchedule:
    """Take a still from the newest recording every `interval_seconds`; the first one now."""
    principal.check_camera(camera_id)
    schedule = await kernel.snapshot_schedules.create(camera_id, body)
    await audit.record(
        principal.audit_event(
            "snapshot_schedule.create",
            camera_id=camera_id,
            target=f"snapshot_schedule:{schedule.id}",
        )
    )
    return schedule


@router.patch("/snapshot-schedules/{schedule_id}", response_model=SnapshotSchedule)
async def update_snapshot_schedule(
    schedule_id: SnapshotScheduleIdPath,
    body: SnapshotScheduleUpdate,
    kernel: KernelDep,
    audit: AuditDep,
    principal: RecordingManage,
) -> SnapshotSchedule:
    current = await _visible(kernel, principal, schedule_id)
    schedule = await kernel.snapshot_schedules.update(schedule_id, body)
    await audit.record(
        principal.audit_event(
            "snapshot_schedule.update",
            camera_id=current.camera_id,
            target=f"snapshot_schedule:{schedule_id}",
        )
    )
    return schedule


@router.delete("/snapshot-schedules/{schedule_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_snapshot_schedule(
    schedule_id: SnapshotScheduleIdPath,
    kernel: KernelDep,
    audit: AuditDep,
    principal: RecordingManage,
) -> Response:
    """Stop taking stills; the ones already taken expire after 7 days."""
    current = await _visible(kernel, principal, schedule_id)
    await kernel.snapshot_schedules.delete(schedule_id)
    await audit.record(
        principal.audit_event(
            "snapshot_schedule.delete",
            camera_id=current.camera_id,
            target=f"snapshot_schedule:{schedule_id}",
        )
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/cameras/{camera_id}/snapshots", response_model=list[SnapshotOut])
async def list_snapshots(
    camera_id: CameraIdPath,
    kernel: KernelDep,
    principal: VideoPlayback,
    from_: FromQuery = None,
    to: ToQuery = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[SnapshotOut]:
    """Stored stills taken in [from, to] (default: the last 24 h), newest first."""
    principal.check_camera(camera_id)
    start, end = time_range(from_, to, kernel.clock.now())
    return await kernel.snapshot_schedules.snapshots(camera_id, start, end, limit)
