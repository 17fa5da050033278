"""Recorded footage metadata: `/cameras/{id}/segments`, `/timeline`, `/gaps` (`video:playback`).

Times are RFC 3339 with an offset; `from` defaults to 24 h before `to`, `to` to now. A reversed,
empty, longer-than-a-year or implausible range is 422 `invalid_range`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from heldar.api.deps import KernelDep, VideoPlayback
from heldar.api.routes.cameras import CameraIdPath
from heldar.errors import InvalidInput
from heldar.recording.catalog import Gaps, Timeline
from heldar.recording.models import Segment

router = APIRouter(prefix="/cameras/{camera_id}", tags=["recordings"])

MAX_SPAN = timedelta(days=366)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
FromQuery = Annotated[datetime | None, Query(alias="from", description="RFC 3339 start")]
ToQuery = Annotated[datetime | None, Query(description="RFC 3339 end")]


def time_range(
    start: datetime | None, end: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """Validate and default a query range (SECURITY.md class 10: bounded)."""
    for value in (start, end):
        if value is not None and value.tzinfo is None:
            raise InvalidInput(
                "times need an offset (RFC 3339, e.g. 2026-11-25T12:00:00Z)", code="invalid_range"
            )
    end = (end or now).astimezone(UTC)
    start = (start or end - timedelta(days=1)).astimezone(UTC)
    if start >= end:
        raise InvalidInput("`from` must be before `to`", code="invalid_range")
    if end - start > MAX_SPAN:
        raise InvalidInput("a range may span at most 366 days", code="invalid_range")
    if start < EARLIEST or end > now + timedelta(days=366):
        raise InvalidInput("the range lies outside any plausible recording", code="invalid_range")
    return start, end


@router.get("/segments", response_model=list[Segment])
async def list_segments(
    camera_id: CameraIdPath,
    kernel: KernelDep,
    principal: VideoPlayback,
    from_: FromQuery = None,
    to: ToQuery = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[Segment]:
    principal.check_camera(camera_id)
    await kernel.cameras.get(camera_id)
    start, end = time_range(from_, to, kernel.clock.now())
    return await kernel.catalog.segments(camera_id, start, end, limit)


@router.get("/timeline", response_model=Timeline, response_model_by_alias=True)
async def get_timeline(
    camera_id: CameraIdPath,
    kernel: KernelDep,
    principal: VideoPlayback,
    from_: FromQuery = None,
    to: ToQuery = None,
) -> Timeline:
    """Recorded ranges (segments < 2 s apart merged) and totals over [from, to)."""
    principal.check_camera(camera_id)
    await kernel.cameras.get(camera_id)
    start, end = time_range(from_, to, kernel.clock.now())
    return await kernel.catalog.timeline(camera_id, start, end)


@router.get("/gaps", response_model=Gaps, response_model_by_alias=True)
async def get_gaps(
    camera_id: CameraIdPath,
    kernel: KernelDep,
    principal: VideoPlayback,
    from_: FromQuery = None,
    to: ToQuery = None,
) -> Gaps:
    """Holes > 3 s between consecutive segments while the camera was recording."""
    principal.check_camera(camera_id)
    await kernel.cameras.get(camera_id)
    start, end = time_range(from_, to, kernel.clock.now())
    return await kernel.catalog.gaps(camera_id, start, end)
