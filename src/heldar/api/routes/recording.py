"""Recording control: `/cameras/{id}/record-trigger`, `/cameras/{id}/schedules`, `/schedules/{id}`.

Schedules are read with `camera:read` and changed with `recording:manage`; a trigger needs
`recording:manage`. A schedule of a camera outside the caller's scope answers like a missing one.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Response, status
from pydantic import BaseModel, ConfigDict, Field

from heldar.api.deps import AuditDep, CameraRead, KernelDep, RecordingManage
from heldar.api.routes.cameras import CameraIdPath
from heldar.recording.models import Schedule, ScheduleCreate, ScheduleUpdate, TriggerResult

router = APIRouter(tags=["recording"])

ScheduleIdPath = Annotated[int, Path(ge=1, le=2**62)]


class TriggerRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="api", max_length=200, description="Why; shown in the event.")


@router.post("/cameras/{camera_id}/record-trigger", response_model=TriggerResult)
async def record_trigger(
    camera_id: CameraIdPath,
    kernel: KernelDep,
    principal: RecordingManage,
    body: Annotated[TriggerRequest | None, Body()] = None,
) -> TriggerResult:
    """Open or extend an event camera's recording window to now + post_roll (never shortens)."""
    principal.check_camera(camera_id)
    return await kernel.recorder.trigger(camera_id, reason=body.reason if body else "api")


@router.get("/cameras/{camera_id}/schedules", response_model=list[Schedule])
async def list_schedules(
    camera_id: CameraIdPath, kernel: KernelDep, principal: CameraRead
) -> list[Schedule]:
    principal.check_camera(camera_id)
    return await kernel.schedules.list(camera_id)


@router.post(
    "/cameras/{camera_id}/schedules", response_model=Schedule, status_code=status.HTTP_201_CREATED
)
async def create_schedule(
    camera_id: CameraIdPath,
    body: ScheduleCreate,
    kernel: KernelDep,
    audit: AuditDep,
    principal: RecordingManage,
) -> Schedule:
    principal.check_camera(camera_id)
    schedule = await kernel.schedules.create(camera_id, body)
    await audit.record(
        principal.audit_event(
            "schedule.create", camera_id=camera_id, target=f"schedule:{schedule.id}"
        )
    )
    return schedule


@router.patch("/schedules/{schedule_id}", response_model=Schedule)
async def update_schedule(
    schedule_id: ScheduleIdPath,
    body: ScheduleUpdate,
    kernel: KernelDep,
    audit: AuditDep,
    principal: RecordingManage,
) -> Schedule:
    current = await kernel.schedules.get(schedule_id)
    principal.check_camera(current.camera_id)
    schedule = await kernel.schedules.update(schedule_id, body)
    await audit.record(
        principal.audit_event(
            "schedule.update", camera_id=current.camera_id, target=f"schedule:{schedule_id}"
        )
    )
    return schedule


@router.delete("/schedules/{schedule_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_schedule(
    schedule_id: ScheduleIdPath, kernel: KernelDep, audit: AuditDep, principal: RecordingManage
) -> Response:
    current = await kernel.schedules.get(schedule_id)
    principal.check_camera(current.camera_id)
    await kernel.schedules.delete(schedule_id)
    await audit.record(
        principal.audit_event(
            "schedule.delete", camera_id=current.camera_id, target=f"schedule:{schedule_id}"
        )
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
