"""`/events`: the event log (newest first, or forward from a cursor), its types, and the live
server-sent-event stream `/events/stream` (beyond the reference).

Every answer is filtered by the caller's camera scope in the query itself, so a scoped caller's
page is never short. The stream re-checks the credential before each batch it sends and at every
heartbeat: a revoked key or an ended session receives nothing more.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.exceptions import HTTPException

from heldar.api.deps import EventsRead, KernelDep, presented_credential
from heldar.app import Kernel
from heldar.auth.models import Principal
from heldar.auth.rbac import Capability
from heldar.cameras.models import CAMERA_ID_PATTERN
from heldar.errors import InvalidInput
from heldar.events.catalog import EventTypeInfo, event_types
from heldar.events.models import EVENT_TYPE_PATTERN, Event, Severity
from heldar.events.stream import StreamFilter

router = APIRouter(tags=["events"])

MAX_EVENTS_PAGE = 1000
MAX_OBSERVED_TYPES = 500
EVENT_STREAM = "text/event-stream"

CameraQuery = Annotated[str | None, Query(pattern=CAMERA_ID_PATTERN, max_length=64)]
EventTypeQuery = Annotated[str | None, Query(pattern=EVENT_TYPE_PATTERN, max_length=64)]


@router.get("/events", response_model=list[Event])
async def list_events(
    kernel: KernelDep,
    principal: EventsRead,
    camera_id: CameraQuery = None,
    event_type: EventTypeQuery = None,
    severity: Severity | None = None,
    before_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    since_id: Annotated[int | None, Query(ge=0, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_EVENTS_PAGE)] = 100,
) -> list[Event]:
    """Events matching every given filter, newest first; page back with `before_id`. With
    `since_id` the order is ascending from just after it: poll forward with the last id seen."""
    if before_id is not None and since_id is not None:
        raise InvalidInput("give before_id or since_id, not both", code="invalid_cursor")
    if camera_id is not None:
        principal.check_camera(camera_id)
    return await kernel.events.list(
        camera_id=camera_id,
        event_type=event_type,
        severity=severity,
        before_id=before_id,
        since_id=since_id,
        camera_scope=principal.camera_scope,
        limit=limit,
    )


@router.get("/events/types", response_model=list[EventTypeInfo])
async def list_event_types(kernel: KernelDep, principal: EventsRead) -> list[EventTypeInfo]:
    """The kernel's event types with their meaning, then the other types found in the log."""
    del principal
    return event_types(await kernel.events.types(MAX_OBSERVED_TYPES))


@router.get(
    "/events/stream",
    response_class=StreamingResponse,
    responses={
        200: {"content": {EVENT_STREAM: {}}, "description": "Server-sent events."},
        406: {"description": "The request does not accept text/event-stream."},
        429: {"description": "Too many open streams; Retry-After."},
    },
)
async def stream_events(
    request: Request,
    kernel: KernelDep,
    principal: EventsRead,
    camera_id: CameraQuery = None,
    event_type: EventTypeQuery = None,
    severity: Severity | None = None,
    since_id: Annotated[int | None, Query(ge=0, le=2**62)] = None,
    last_event_id: Annotated[str | None, Header(alias="last-event-id", max_length=32)] = None,
) -> StreamingResponse:
    """Live events as `text/event-stream` (`id:` = event id, `data:` = the event JSON), with a
    comment heartbeat when idle. Resume with `Last-Event-ID` (browsers send it on reconnect) or
    `since_id`: the events after it come first, exactly once. Needs `Accept: text/event-stream`."""
    if EVENT_STREAM not in request.headers.get("accept", ""):
        raise HTTPException(406, detail=f"this endpoint streams {EVENT_STREAM}; send Accept: it")
    if camera_id is not None:
        principal.check_camera(camera_id)
    cursor = since_id
    if last_event_id is not None and last_event_id.strip():
        try:
            cursor = int(last_event_id.strip())
        except ValueError:
            cursor = -1
        if not 0 <= cursor <= 2**62:
            raise InvalidInput("Last-Event-ID must be an event id", code="invalid_last_event_id")
    stream = kernel.observability.stream
    stream.admit()
    selector = StreamFilter(
        camera_scope=principal.camera_scope,
        camera_id=camera_id,
        event_type=event_type,
        severity=severity,
    )
    body = stream.follow(
        selector,
        since_id=cursor,
        heartbeat_s=kernel.settings.event_stream_heartbeat_s,
        still_allowed=_revalidator(request, kernel, principal, selector),
    )
    return StreamingResponse(body, media_type=EVENT_STREAM, headers={"X-Accel-Buffering": "no"})


def _revalidator(
    request: Request, kernel: Kernel, principal: Principal, selector: StreamFilter
) -> Callable[[], Awaitable[StreamFilter | None]] | None:
    """What the stream calls to re-check the caller (None: nothing to re-check, auth is off)."""
    presented = presented_credential(request)
    if not kernel.auth.enabled or presented is None:
        return None
    token, method = presented

    async def still_allowed() -> StreamFilter | None:
        fresh = await kernel.auth.authenticate(
            token, auth_method=method, client_addr=principal.client_addr
        )
        if fresh is None or not fresh.can(Capability.EVENTS_READ):
            return None
        if selector.camera_id is not None and not fresh.sees_camera(selector.camera_id):
            return None
        return replace(selector, camera_scope=fresh.camera_scope)

    return still_allowed
