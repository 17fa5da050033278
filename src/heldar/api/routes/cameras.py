"""`/api/v1/cameras`: the camera registry and stream tests.

Reads need `camera:read`, changes and stream tests `camera:manage`; a camera outside the caller's
scope answers exactly like a missing one. Changes are audited.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict

from heldar.api.deps import (
    AuditDep,
    CameraManage,
    CameraRead,
    CamerasDep,
    KernelDep,
    RecorderDep,
)
from heldar.cameras.models import (
    CAMERA_ID_PATTERN,
    Camera,
    CameraCreate,
    CameraUpdate,
    StreamTestResult,
)
from heldar.cameras.registry import public
from heldar.cameras.vendors import StreamProfile

router = APIRouter(prefix="/cameras", tags=["cameras"])

CameraIdPath = Annotated[str, Path(pattern=CAMERA_ID_PATTERN, max_length=64)]


class StreamTestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stream: StreamProfile | None = None


@router.get("", response_model=list[Camera])
async def list_cameras(
    cameras: CamerasDep, recorder: RecorderDep, principal: CameraRead
) -> list[Camera]:
    return [
        public(record, recorder.status(record.id))
        for record in await cameras.list()
        if principal.sees_camera(record.id)
    ]


@router.post("", response_model=Camera, status_code=status.HTTP_201_CREATED)
async def create_camera(
    body: CameraCreate,
    cameras: CamerasDep,
    recorder: RecorderDep,
    audit: AuditDep,
    principal: CameraManage,
    response: Response,
) -> Camera:
    principal.check_unscoped("create cameras")
    record = await cameras.create(body)
    await audit.record(principal.audit_event("camera.create", camera_id=record.id))
    response.headers["Location"] = f"/api/v1/cameras/{record.id}"
    return public(record, recorder.status(record.id))


@router.get("/{camera_id}", response_model=Camera)
async def get_camera(
    camera_id: CameraIdPath, cameras: CamerasDep, recorder: RecorderDep, principal: CameraRead
) -> Camera:
    principal.check_camera(camera_id)
    return public(await cameras.get(camera_id), recorder.status(camera_id))


@router.patch("/{camera_id}", response_model=Camera)
async def update_camera(
    camera_id: CameraIdPath,
    body: CameraUpdate,
    cameras: CamerasDep,
    recorder: RecorderDep,
    audit: AuditDep,
    principal: CameraManage,
) -> Camera:
    principal.check_camera(camera_id)
    record = await cameras.update(camera_id, body)
    changed = sorted(body.model_fields_set)
    await audit.record(
        principal.audit_event("camera.update", camera_id=camera_id, detail={"changed": changed})
    )
    return public(record, recorder.status(camera_id))


@router.delete("/{camera_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_camera(
    camera_id: CameraIdPath,
    cameras: CamerasDep,
    kernel: KernelDep,
    audit: AuditDep,
    principal: CameraManage,
) -> Response:
    """Delete the camera and all its recordings; 409 `segments_locked` while any is locked."""
    principal.check_camera(camera_id)
    await cameras.get(camera_id)  # 404 before 409
    await kernel.retention.ensure_deletable(camera_id)
    await cameras.delete(camera_id)  # stops its recorder (registry listener)
    deleted = await kernel.retention.delete_camera_recordings(camera_id)
    await audit.record(
        principal.audit_event(
            "camera.delete", camera_id=camera_id, detail={"segments_deleted": deleted.segments}
        )
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{camera_id}/test", response_model=StreamTestResult)
async def probe_camera(
    camera_id: CameraIdPath,
    cameras: CamerasDep,
    principal: CameraManage,
    stream: Annotated[StreamProfile | None, Query()] = None,
) -> StreamTestResult:
    """Open the camera's stream for real (bounded in time) and report codec and size."""
    principal.check_camera(camera_id)
    return await cameras.test(camera_id, stream)


@router.post("/{camera_id}/test", response_model=StreamTestResult)
async def probe_camera_post(
    camera_id: CameraIdPath,
    cameras: CamerasDep,
    principal: CameraManage,
    body: Annotated[StreamTestRequest | None, Body()] = None,
) -> StreamTestResult:
    """Same as GET; the body may name the stream (`{"stream": "sub"}`)."""
    principal.check_camera(camera_id)
    return await cameras.test(camera_id, body.stream if body else None)
