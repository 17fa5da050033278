"""Perception over HTTP: AI tasks, worker discovery and leases, samplers, frames, ingest,
detections (docs/design/perception.md).

Tasks are read with `camera:read` and changed with `ai:tasks`; workers (role `integration`)
discover, lease and pull frames with `ai:frames` and post with `ai:ingest`. Camera scope applies
everywhere: a worker key scoped to two cameras never sees a third one's tasks or frames.
"""

from __future__ import annotations

from datetime import UTC
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status

from heldar.api.deps import (
    AiFrames,
    AiIngest,
    AiTasks,
    AuditDep,
    CameraRead,
    EventsRead,
    KernelDep,
    SystemRead,
)
from heldar.api.raw_body import json_body, parse
from heldar.api.routes.cameras import CameraIdPath
from heldar.api.routes.recordings import FromQuery, ToQuery, time_range
from heldar.app import Kernel
from heldar.auth.models import Principal
from heldar.cameras.vendors import StreamProfile
from heldar.errors import InvalidInput, NotFound
from heldar.perception.budget import StreamKey
from heldar.perception.models import (
    AiTask,
    AiTaskCreate,
    AiTaskUpdate,
    DetectionOut,
    DiscoveredTask,
    IngestRequest,
    IngestResponse,
    Lease,
    LeaseRequest,
    WorkerId,
)
from heldar.perception.sampler import SamplerStatus
from heldar.perception.service import discovered
from heldar.perception.tickets import TicketClaims

router = APIRouter(tags=["perception"])

TaskIdPath = Annotated[str, Path(pattern=r"^[0-9a-f]{1,32}$")]
MAX_WAIT_MS = 10_000


# -- tasks ----------------------------------------------------------------------------------------


@router.get("/cameras/{camera_id}/ai-tasks", response_model=list[AiTask])
async def list_tasks(
    camera_id: CameraIdPath, kernel: KernelDep, principal: CameraRead
) -> list[AiTask]:
    principal.check_camera(camera_id)
    return await kernel.perception.tasks.list(camera_id)


@router.post(
    "/cameras/{camera_id}/ai-tasks",
    response_model=AiTask,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "the task already existed and is returned as is"}},
)
async def create_task(
    camera_id: CameraIdPath,
    body: AiTaskCreate,
    response: Response,
    kernel: KernelDep,
    audit: AuditDep,
    principal: AiTasks,
) -> AiTask:
    """Sample this camera for `task_type`; an existing (camera, task_type, profile) is 200."""
    principal.check_camera(camera_id)
    task, created = await kernel.perception.tasks.create(camera_id, body)
    if not created:
        response.status_code = status.HTTP_200_OK
        return task
    await audit.record(
        principal.audit_event("ai_task.create", camera_id=camera_id, target=f"ai_task:{task.id}")
    )
    return task


@router.patch("/ai-tasks/{task_id}", response_model=AiTask)
async def update_task(
    task_id: TaskIdPath, body: AiTaskUpdate, kernel: KernelDep, audit: AuditDep, principal: AiTasks
) -> AiTask:
    current = await _visible_task(kernel, principal, task_id)
    task = await kernel.perception.tasks.update(task_id, body)
    await audit.record(
        principal.audit_event(
            "ai_task.update", camera_id=current.camera_id, target=f"ai_task:{task_id}"
        )
    )
    return task


@router.delete("/ai-tasks/{task_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_task(
    task_id: TaskIdPath, kernel: KernelDep, audit: AuditDep, principal: AiTasks
) -> Response:
    current = await _visible_task(kernel, principal, task_id)
    await kernel.perception.tasks.delete(task_id)
    await audit.record(
        principal.audit_event(
            "ai_task.delete", camera_id=current.camera_id, target=f"ai_task:{task_id}"
        )
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def _visible_task(kernel: Kernel, principal: Principal, task_id: str) -> AiTask:
    """The task, or the same 404 whether it is missing or out of the caller's scope."""
    task = await kernel.perception.tasks.get(task_id)
    if not principal.sees_camera(task.camera_id):
        raise NotFound(f"AI task {task_id!r} not found", code="task_not_found")
    return task


# -- workers --------------------------------------------------------------------------------------


@router.get("/ai/tasks", response_model=list[DiscoveredTask])
async def discover(
    worker_id: Annotated[WorkerId, Query(description="This worker's stable id")],
    response: Response,
    kernel: KernelDep,
    principal: AiFrames,
) -> list[DiscoveredTask]:
    """Heartbeat this worker and answer its share of the enabled tasks in the caller's scope
    (the reference's bare list; `x-heartbeat-interval-s` says how often to call again)."""
    perception = kernel.perception
    tasks = await perception.visible_tasks(principal.camera_scope)
    mine = perception.leases.share(principal.actor, worker_id, tasks)
    response.headers["x-heartbeat-interval-s"] = f"{perception.leases.worker_timeout_s / 3:g}"
    return [discovered(t) for t in mine]


@router.post("/ai/leases", response_model=Lease)
async def lease(body: LeaseRequest, kernel: KernelDep, principal: AiFrames) -> Lease:
    """Hold tasks exclusively for `ttl_secs`; posting again with the same worker id renews."""
    perception = kernel.perception
    tasks = await perception.visible_tasks(principal.camera_scope)
    if body.task_types is not None:
        wanted = set(body.task_types)
        tasks = [t for t in tasks if t.task_type in wanted]
    state, granted = perception.leases.grant(
        principal.actor, body.worker_id, tasks, max_tasks=body.max_tasks, ttl_s=body.ttl_secs
    )
    return Lease(
        lease_id=state.lease_id,
        worker_id=state.worker_id,
        expires_at=state.expires_at,
        tasks=[discovered(t) for t in granted],
    )


@router.delete("/ai/leases/{lease_id}", status_code=status.HTTP_204_NO_CONTENT)
async def release(
    lease_id: Annotated[str, Path(max_length=64)], kernel: KernelDep, principal: AiFrames
) -> Response:
    kernel.perception.leases.release(principal.actor, lease_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/ai/samplers", response_model=list[SamplerStatus])
async def samplers(kernel: KernelDep, principal: SystemRead) -> list[SamplerStatus]:
    return [s for s in kernel.perception.samplers.status() if principal.sees_camera(s.camera_id)]


# -- frames ---------------------------------------------------------------------------------------


@router.get(
    "/cameras/{camera_id}/frame",
    response_class=Response,
    responses={
        200: {"content": {"image/jpeg": {}}},
        204: {"description": "no newer frame within wait_ms"},
    },
)
async def frame(
    camera_id: CameraIdPath,
    kernel: KernelDep,
    principal: AiFrames,
    profile: Annotated[StreamProfile | None, Query()] = None,
    task: Annotated[str | None, Query(pattern=r"^[0-9a-f]{1,32}$")] = None,
    after_seq: Annotated[int | None, Query(ge=0, le=2**62)] = None,
    wait_ms: Annotated[int, Query(ge=0, le=MAX_WAIT_MS)] = 0,
) -> Response:
    """The newest sampled JPEG; with `after_seq`, wait up to `wait_ms` for a newer one."""
    principal.check_camera(camera_id)
    perception = kernel.perception
    ticket_for = None
    if task is not None:
        leased = await perception.tasks.get(task)
        if leased.camera_id != camera_id:
            raise InvalidInput("the task belongs to another camera", code="task_camera_mismatch")
        profile = profile or leased.stream_profile
        ticket_for = perception.leases.holder(principal.actor, task)
    key = StreamKey(camera_id, profile or "sub")
    if after_seq is None:
        found = perception.frames.latest(key)
        if found is None:
            raise NotFound("no frame yet for this camera and profile", code="no_frame")
    else:
        found = await perception.frames.wait_newer(key, after_seq, wait_ms / 1000)
        if found is None:
            if perception.frames.latest(key) is None and wait_ms == 0:
                raise NotFound("no frame yet for this camera and profile", code="no_frame")
            return Response(status_code=status.HTTP_204_NO_CONTENT)
    now = kernel.clock.now()
    headers = {
        "x-frame-seq": str(found.seq),
        "x-frame-captured-at": found.captured_at.astimezone(UTC).isoformat(),
        "x-frame-age-ms": str(max(0, int((now - found.captured_at).total_seconds() * 1000))),
        "Cache-Control": "no-store",
    }
    if ticket_for is not None and task is not None:
        headers["x-frame-ticket"] = perception.tickets.issue(
            TicketClaims(task, camera_id, found.seq, found.captured_at, ticket_for.lease_id)
        )
    return Response(found.jpeg, media_type="image/jpeg", headers=headers)


# -- ingest and detections ------------------------------------------------------------------------


@router.post(
    "/ai/events",
    response_model=IngestResponse,
    response_model_exclude_none=True,
    openapi_extra={"requestBody": json_body(IngestRequest)},
)
async def ingest(request: Request, kernel: KernelDep, principal: AiIngest) -> IngestResponse:
    """Store a batch of detections (idempotent per (camera_id, frame_id)) and fan it out."""
    body = await parse(request, IngestRequest)
    return await kernel.perception.ingest.accept(principal, body)


@router.get("/cameras/{camera_id}/detections", response_model=list[DetectionOut])
async def detections(
    camera_id: CameraIdPath,
    kernel: KernelDep,
    principal: EventsRead,
    from_: FromQuery = None,
    to: ToQuery = None,
    label: Annotated[str | None, Query(max_length=64)] = None,
    track_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[DetectionOut]:
    """Stored detections in [from, to] (default: the last 24 h), newest first."""
    principal.check_camera(camera_id)
    await kernel.cameras.get(camera_id)
    start, end = time_range(from_, to, kernel.clock.now())
    return await kernel.perception.detections(
        camera_id, start, end, label=label, track_id=track_id, limit=limit
    )
