"""Playback and export: clips (`video:export`), HLS sessions and snapshots (`video:playback`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from heldar.api.deps import AuditDep, KernelDep, VideoExport, VideoPlayback
from heldar.api.routes.cameras import CameraIdPath
from heldar.api.routes.recordings import time_range
from heldar.playback.service import ClipOut, SessionOut

router = APIRouter(tags=["playback"])


class RangeBody(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: datetime = Field(alias="from", description="RFC 3339 start")
    to: datetime = Field(description="RFC 3339 end")


@router.post("/cameras/{camera_id}/clip", response_model=ClipOut, response_model_by_alias=True)
async def export_clip(
    camera_id: CameraIdPath,
    body: RangeBody,
    kernel: KernelDep,
    audit: AuditDep,
    principal: VideoExport,
) -> ClipOut:
    """One MP4 of [from, to) (≤ 3600 s), stream copy, starting at the keyframe before `from`."""
    principal.check_camera(camera_id)
    await kernel.cameras.get(camera_id)
    start, end = time_range(body.from_, body.to, kernel.clock.now())
    clip = await kernel.playback.clip(camera_id, start, end)
    await audit.record(
        principal.audit_event(
            "clip.export",
            camera_id=camera_id,
            target=f"clip:{clip.id}",
            detail={"from": start.isoformat(), "to": end.isoformat()},
        )
    )
    return clip


@router.post(
    "/cameras/{camera_id}/playback/sessions",
    response_model=SessionOut,
    response_model_by_alias=True,
    status_code=status.HTTP_201_CREATED,
)
async def open_session(
    camera_id: CameraIdPath, body: RangeBody, kernel: KernelDep, principal: VideoPlayback
) -> SessionOut:
    """An HLS VOD playlist over the recorded files themselves (no remux), alive for 60 min."""
    principal.check_camera(camera_id)
    await kernel.cameras.get(camera_id)
    start, end = time_range(body.from_, body.to, kernel.clock.now())
    return await kernel.playback.open_session(camera_id, start, end)


@router.delete("/playback/sessions/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
async def close_session(
    session_id: Annotated[str, Path(max_length=64)], kernel: KernelDep, principal: VideoPlayback
) -> Response:
    camera_id, _ = kernel.playback.session(session_id)
    principal.check_camera(camera_id)
    kernel.playback.close_session(session_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/cameras/{camera_id}/snapshot",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}},
)
async def snapshot(
    camera_id: CameraIdPath,
    kernel: KernelDep,
    principal: VideoPlayback,
    at: Annotated[datetime | None, Query(description="RFC 3339; default: newest frame")] = None,
) -> Response:
    principal.check_camera(camera_id)
    await kernel.cameras.get(camera_id)
    if at is not None:
        at, _ = time_range(at, None, kernel.clock.now())
    else:
        # Newest live frame first (a running pull, or a one-shot grab); recordings as fallback.
        live = await kernel.live.snapshot(camera_id)
        if live is not None:
            return Response(live, media_type="image/jpeg", headers={"Cache-Control": "no-store"})
    jpeg = await kernel.playback.snapshot(camera_id, at)
    return Response(jpeg, media_type="image/jpeg")
