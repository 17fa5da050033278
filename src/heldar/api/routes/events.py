"""`/events`: the event log, newest first, with a cursor (`before_id`) for paging back."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from heldar.api.deps import EventsRead, KernelDep
from heldar.cameras.models import CAMERA_ID_PATTERN
from heldar.events.models import Event, Severity

router = APIRouter(tags=["events"])

MAX_EVENTS_PAGE = 1000


@router.get("/events", response_model=list[Event])
async def list_events(
    kernel: KernelDep,
    principal: EventsRead,
    camera_id: Annotated[str | None, Query(pattern=CAMERA_ID_PATTERN, max_length=64)] = None,
    event_type: Annotated[str | None, Query(max_length=64)] = None,
    severity: Severity | None = None,
    before_id: Annotated[int | None, Query(ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_EVENTS_PAGE)] = 100,
) -> list[Event]:
    """Events matching every given filter. A camera-scoped caller sees only its cameras."""
    if camera_id is not None:
        principal.check_camera(camera_id)
    events = await kernel.events.list(
        camera_id=camera_id,
        event_type=event_type,
        severity=severity,
        before_id=before_id,
        limit=limit,
    )
    return [e for e in events if e.camera_id is None or principal.sees_camera(e.camera_id)]
