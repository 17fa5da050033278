"""Live view routes (issue 9): `router` under /api/v1, `media_router` at the root (/live/...).

`GET|POST /api/v1/cameras/{id}/liveview` (video:live, camera scope) issues a live token and the
URLs that carry it; the media routes are public in `PUBLIC_ROUTES` because each checks that
token instead (signature, expiry, camera, and that its principal still may watch). WHEP
(`POST /live/{id}/whep`, opt-in WebRTC) checks it on the offer; the session URL it answers with
is unguessable and ends only that session.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response, WebSocket
from fastapi.responses import JSONResponse
from starlette.websockets import WebSocketDisconnect, WebSocketState

from heldar.api.deps import KernelDep, SystemRead, VideoLive, get_kernel, presented_credential
from heldar.api.routes.cameras import CameraIdPath
from heldar.app import Kernel
from heldar.errors import HeldarError, NotFound, PayloadTooLarge, UnsupportedMediaType
from heldar.live.models import LiveStatus, LiveView
from heldar.live.tokens import RECHECK_S, Grant
from heldar.live.viewer import Chunk, Viewer

router = APIRouter(tags=["live"])
media_router = APIRouter(tags=["live"])

NO_STORE = {"Cache-Control": "no-store"}
PART_NAME = re.compile(r"^(0|[1-9][0-9]{0,11})\.m4s$")
HLS_START_PARTS = 2
WS_CLOSE_END = 1011
WS_CLOSE_POLICY = 1008
MAX_OFFER_BYTES = 64 * 1024
SessionIdPath = Annotated[str, Path(min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class BadSdp(HeldarError):
    status = 400
    default_code = "whep_offer_invalid"


Token = Annotated[str | None, Query(max_length=256, description="live token from /liveview")]


@router.get("/cameras/{camera_id}/liveview", response_model=LiveView)
@router.post("/cameras/{camera_id}/liveview", response_model=LiveView)
async def liveview(
    camera_id: CameraIdPath,
    request: Request,
    response: Response,
    kernel: KernelDep,
    principal: VideoLive,
    profile: Literal["main", "sub"] = "sub",
) -> LiveView:
    """A live token for this camera and the URLs to watch it (relative to the API origin)."""
    principal.check_camera(camera_id)
    record = await kernel.cameras.get(camera_id)
    credential = presented_credential(request) if kernel.auth.enabled else None
    token, grant = kernel.live.tokens.issue(camera_id, profile, principal, credential)
    response.headers.update(NO_STORE)
    query = f"?token={token}"
    return LiveView(
        name=record.name,
        hls_url=f"/live/{camera_id}/index.m3u8{query}",
        ws_url=f"/live/{camera_id}/ws{query}",
        webrtc_url=f"/live/{camera_id}" if kernel.settings.live_webrtc else None,
        token=token,
        expires_at=grant.expires_at,
    )


@router.get("/live", response_model=LiveStatus)
async def live_status(kernel: KernelDep, principal: SystemRead) -> LiveStatus:
    """Running pulls: viewers per camera, bytes/s, dropped viewers, restarts."""
    principal.check_unscoped("see every camera's live status")
    return kernel.live.status()


# -- HLS ------------------------------------------------------------------------------------------


@media_router.get("/live/{camera_id}/index.m3u8", response_class=Response)
async def hls_playlist(camera_id: CameraIdPath, request: Request, token: Token = None) -> Response:
    kernel = get_kernel(request)
    grant = await kernel.live.tokens.check(token, camera_id)
    pull = await kernel.live.hls(camera_id, grant.profile, wait_parts=HLS_START_PARTS)
    return Response(
        pull.hls.playlist(f"?token={token}"),
        media_type="application/vnd.apple.mpegurl",
        headers=NO_STORE,
    )


@media_router.get("/live/{camera_id}/{part}", response_class=Response)
async def hls_part(
    camera_id: CameraIdPath, part: str, request: Request, token: Token = None
) -> Response:
    kernel = get_kernel(request)
    grant = await kernel.live.tokens.check(token, camera_id)
    pull = kernel.live.pull_of(camera_id, grant.profile)
    if pull is not None:
        pull.touch_hls()
        if part == "init.mp4" and pull.init is not None:
            return Response(pull.init, media_type="video/mp4", headers=NO_STORE)
        match = PART_NAME.match(part)
        found = pull.hls.part(int(match.group(1))) if match else None
        if found is not None:
            return Response(found.data, media_type="video/iso.segment", headers=NO_STORE)
    raise NotFound("no such live part", code="live_part_not_found")


# -- WebSocket ------------------------------------------------------------------------------------


@media_router.websocket("/live/{camera_id}/ws")
async def live_ws(websocket: WebSocket, camera_id: str, token: str | None = None) -> None:
    """A JSON `init` message (mime, size), the init segment, then fMP4 fragments from a keyframe;
    a JSON `end` message and close 1011 when the stream ends (camera offline, too slow)."""
    kernel: Kernel = websocket.app.state.kernel
    try:
        grant = await kernel.live.tokens.check(token, camera_id)
        pull, viewer = await kernel.live.join(camera_id, grant.profile)
    except HeldarError as exc:
        await _refuse(websocket, exc)
        return
    try:
        await websocket.accept()
        sender = asyncio.create_task(_send(websocket, kernel, grant, viewer))
        listener = asyncio.create_task(_drain(websocket))
        try:
            await asyncio.wait({sender, listener}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sender, listener):
                task.cancel()
            await asyncio.gather(sender, listener, return_exceptions=True)
    finally:
        pull.leave(viewer)
        if websocket.application_state is WebSocketState.CONNECTED:
            with contextlib.suppress(RuntimeError, WebSocketDisconnect):
                await websocket.close()


async def _refuse(websocket: WebSocket, exc: HeldarError) -> None:
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        body = {"error": exc.code, "detail": str(exc)}
        await websocket.send_denial_response(JSONResponse(body, exc.status, headers=NO_STORE))
    else:
        await websocket.close(WS_CLOSE_POLICY, reason=exc.code)


async def _drain(websocket: WebSocket) -> None:
    """Read (and ignore) client messages until the client goes away."""
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass


async def _send(websocket: WebSocket, kernel: Kernel, grant: Grant, viewer: Viewer) -> None:
    checked = time.monotonic()
    while True:
        item = await viewer.next(within_s=RECHECK_S)
        if time.monotonic() - checked >= RECHECK_S:
            checked = time.monotonic()
            try:
                await kernel.live.tokens.renew(grant)
            except HeldarError as exc:
                await _end(websocket, WS_CLOSE_POLICY, str(exc))
                return
        if item is None:
            continue
        if not isinstance(item, Chunk):
            await _end(websocket, WS_CLOSE_END, item.reason)
            return
        if item.kind == "init":
            pull = kernel.live.pull_of(grant.camera_id, grant.profile)
            info = pull.info if pull is not None else None
            message: dict[str, str | int] = {
                "type": "init",
                "camera_id": grant.camera_id,
                "profile": grant.profile,
            }
            if info is not None:
                message |= {
                    "mime": info.mime,
                    "codec": info.codec,
                    "width": info.width,
                    "height": info.height,
                    "timescale": info.timescale,
                }
            await websocket.send_text(json.dumps(message))
        await websocket.send_bytes(item.data)


async def _end(websocket: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(RuntimeError, WebSocketDisconnect):
        await websocket.send_text(json.dumps({"type": "end", "reason": reason}))
        await websocket.close(code, reason=reason[:120])


# -- WebRTC (WHEP) --------------------------------------------------------------------------------


_SDP_BODY = {"content": {"application/sdp": {"schema": {"type": "string"}}}}


@media_router.post(
    "/live/{camera_id}/whep",
    status_code=201,
    response_class=Response,
    openapi_extra={"requestBody": {"required": True, **_SDP_BODY}},
    responses={201: {"description": "the SDP answer", **_SDP_BODY}},
)
async def whep_offer(camera_id: CameraIdPath, request: Request, token: Token = None) -> Response:
    """WHEP: an `application/sdp` offer in, 201 with the SDP answer (all candidates, no trickle)
    and the session's `Location` (DELETE it to hang up). H.264 is forwarded, never re-encoded."""
    kernel = get_kernel(request)
    kernel.live.require_webrtc()
    grant = await kernel.live.tokens.check(token, camera_id)
    offer = await _sdp_body(request)
    session_id, answer = await kernel.live.whep(grant, offer)
    headers = NO_STORE | {"Location": f"/live/{camera_id}/whep/{session_id}"}
    return Response(answer, status_code=201, media_type="application/sdp", headers=headers)


@media_router.delete("/live/{camera_id}/whep/{session_id}", status_code=204)
async def whep_delete(
    camera_id: CameraIdPath, session_id: SessionIdPath, request: Request
) -> Response:
    """End a WebRTC session; its (unguessable) URL is the only credential needed."""
    kernel = get_kernel(request)
    kernel.live.require_webrtc()
    await kernel.live.whep_delete(camera_id, session_id)
    return Response(status_code=204, headers=NO_STORE)


@media_router.patch("/live/{camera_id}/whep/{session_id}", status_code=405)
async def whep_trickle(camera_id: CameraIdPath, session_id: SessionIdPath) -> Response:
    """Trickle ICE is not supported: the answer already carries every candidate."""
    body = {"error": "whep_trickle_unsupported", "detail": "the answer carries every candidate"}
    return JSONResponse(body, 405, headers=NO_STORE | {"Allow": "DELETE"})


async def _sdp_body(request: Request) -> str:
    kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if kind != "application/sdp":
        raise UnsupportedMediaType("send the offer as application/sdp", code="whep_content_type")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_OFFER_BYTES:
        raise PayloadTooLarge(f"an SDP offer is at most {MAX_OFFER_BYTES} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_OFFER_BYTES:
            raise PayloadTooLarge(f"an SDP offer is at most {MAX_OFFER_BYTES} bytes")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadSdp("the SDP offer is not UTF-8 text") from exc
