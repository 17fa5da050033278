"""Zones over HTTP: `/cameras/{id}/zones`, `/zones/{zone_id}`, zone events, occupancy, aggregates.

Zones and their events are read with `zones:read` and changed with `zones:manage`; a zone of a
camera outside the caller's scope answers like a missing one.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response, status

from heldar.api.deps import AuditDep, KernelDep, ZonesManage, ZonesRead
from heldar.api.routes.cameras import CameraIdPath
from heldar.api.routes.recordings import FromQuery, ToQuery, time_range
from heldar.app import Kernel
from heldar.auth.models import Principal
from heldar.errors import NotFound
from heldar.zones.models import Zone, ZoneCreate, ZoneUpdate
from heldar.zones.views import Aggregates, Occupancy, ZoneEventOut, ZoneOccupancy

router = APIRouter(tags=["zones"])

ZoneIdPath = Annotated[int, Path(ge=1, le=2**62)]
EventType = Literal["enter", "exit", "dwell", "cross_ab", "cross_ba"]


async def _visible(kernel: Kernel, principal: Principal, zone_id: int) -> Zone:
    zone = await kernel.zones.get(zone_id)
    if not principal.sees_camera(zone.camera_id):
        raise NotFound(f"zone {zone_id} not found", code="zone_not_found")
    return zone


@router.get("/cameras/{camera_id}/zones", response_model=list[Zone])
async def list_zones(
    camera_id: CameraIdPath, kernel: KernelDep, principal: ZonesRead
) -> list[Zone]:
    principal.check_camera(camera_id)
    return await kernel.zones.list(camera_id)


@router.post("/cameras/{camera_id}/zones", response_model=Zone, status_code=status.HTTP_201_CREATED)
async def create_zone(
    camera_id: CameraIdPath,
    body: ZoneCreate,
    kernel: KernelDep,
    audit: AuditDep,
    principal: ZonesManage,
) -> Zone:
    """A region, presence area or line in normalized coordinates (0..1, y down)."""
    principal.check_camera(camera_id)
    zone = await kernel.zones.create(camera_id, body)
    await audit.record(
        principal.audit_event("zone.create", camera_id=camera_id, target=f"zone:{zone.id}")
    )
    return zone


@router.patch("/zones/{zone_id}", response_model=Zone)
async def update_zone(
    zone_id: ZoneIdPath,
    body: ZoneUpdate,
    kernel: KernelDep,
    audit: AuditDep,
    principal: ZonesManage,
) -> Zone:
    current = await _visible(kernel, principal, zone_id)
    zone = await kernel.zones.update(zone_id, body)
    await audit.record(
        principal.audit_event("zone.update", camera_id=current.camera_id, target=f"zone:{zone_id}")
    )
    return zone


@router.delete("/zones/{zone_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_zone(
    zone_id: ZoneIdPath, kernel: KernelDep, audit: AuditDep, principal: ZonesManage
) -> Response:
    current = await _visible(kernel, principal, zone_id)
    await kernel.zones.delete(zone_id)
    await audit.record(
        principal.audit_event("zone.delete", camera_id=current.camera_id, target=f"zone:{zone_id}")
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/cameras/{camera_id}/zone-events", response_model=list[ZoneEventOut])
async def zone_events(
    camera_id: CameraIdPath,
    kernel: KernelDep,
    principal: ZonesRead,
    from_: FromQuery = None,
    to: ToQuery = None,
    zone_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    event_type: Annotated[EventType | None, Query()] = None,
    track_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[ZoneEventOut]:
    """Zone events in [from, to] (default: the last 24 h), newest first."""
    principal.check_camera(camera_id)
    await kernel.cameras.get(camera_id)
    start, end = time_range(from_, to, kernel.clock.now())
    return await kernel.zones.zone_events(
        camera_id,
        start,
        end,
        zone_id=zone_id,
        event_type=event_type,
        track_id=track_id,
        limit=limit,
    )


@router.get("/cameras/{camera_id}/zones/occupancy", response_model=Occupancy)
async def occupancy(camera_id: CameraIdPath, kernel: KernelDep, principal: ZonesRead) -> Occupancy:
    """Tracks inside each presence zone now, per label."""
    principal.check_camera(camera_id)
    zones = await kernel.zones.list(camera_id)
    counts = kernel.zones.occupancy(camera_id)
    return Occupancy(
        camera_id=camera_id,
        zones=[
            ZoneOccupancy(
                zone_id=z.id,
                total=sum(counts.get(z.id, {}).values()),
                by_label=counts.get(z.id, {}),
            )
            for z in zones
            if z.kind == "presence"
        ],
    )


@router.get(
    "/cameras/{camera_id}/zone-events/aggregates",
    response_model=Aggregates,
    response_model_by_alias=True,
)
async def aggregates(
    camera_id: CameraIdPath,
    kernel: KernelDep,
    principal: ZonesRead,
    from_: FromQuery = None,
    to: ToQuery = None,
    bucket_minutes: Annotated[int, Query(ge=1, le=1440)] = 60,
) -> Aggregates:
    """Zone event counts per time bucket and event type over [from, to)."""
    principal.check_camera(camera_id)
    await kernel.cameras.get(camera_id)
    start, end = time_range(from_, to, kernel.clock.now())
    return await kernel.zones.aggregates(camera_id, start, end, bucket_minutes)
