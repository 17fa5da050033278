"""Camera health and the system overview: `/health/cameras`, `/cameras/{id}/health`, `/system`.

Health is camera data (`camera:read`, filtered by the caller's camera scope; an out-of-scope camera
answers like a missing one); the system overview is `system:read`.
"""

from __future__ import annotations

from fastapi import APIRouter

from heldar.api.deps import CameraRead, KernelDep, SystemRead
from heldar.api.routes.cameras import CameraIdPath
from heldar.observability.health import CameraHealth
from heldar.observability.service import SystemInfo

router = APIRouter(tags=["observability"])


@router.get("/health/cameras", response_model=list[CameraHealth])
async def cameras_health(kernel: KernelDep, principal: CameraRead) -> list[CameraHealth]:
    """Every visible camera's health, by id: state (`error` when stale), last segment, errors."""
    return await kernel.observability.health.all(principal.camera_scope)


@router.get("/cameras/{camera_id}/health", response_model=CameraHealth)
async def camera_health(
    camera_id: CameraIdPath, kernel: KernelDep, principal: CameraRead
) -> CameraHealth:
    principal.check_camera(camera_id)
    return await kernel.observability.health.camera(camera_id)


@router.get("/system", response_model=SystemInfo)
async def system(kernel: KernelDep, principal: SystemRead) -> SystemInfo:
    """Version, uptime, store, disk, recordings footprint, retention settings, counts."""
    del principal
    return await kernel.observability.system(
        started_at=kernel.started_at, retention=await kernel.retention.settings()
    )
