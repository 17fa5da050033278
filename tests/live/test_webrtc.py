"""WebRTC (WHEP) live view: a real aiortc peer in this process against the real kernel, a real
RTSP camera and real ffmpeg; ICE over this machine's own (host) addresses, no STUN/TURN.

aioice never offers loopback candidates, so the tests that connect need one non-loopback
interface (any: the packets stay on this machine); without one they are skipped, saying why.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aioice.ice import get_host_addresses
from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCSessionDescription,
)
from av import VideoFrame
from fastapi import FastAPI

from heldar.api.app import create_app
from heldar.errors import ConfigurationError
from heldar.settings import Settings
from heldar.simcam.server import SimCamServer
from tests.live.conftest import LiveSite
from tests.live.support import serving
from tests.support.auth import ADMIN_PASSWORD, ADMIN_USER, bearer, login
from tests.support.rtsp import SIMCAM_PASSWORD, SIMCAM_USER
from tests.support.waiting import eventually, processes_with

SDP = {"Content-Type": "application/sdp"}
needs_host_address = pytest.mark.skipif(
    not get_host_addresses(use_ipv4=True, use_ipv6=True),
    reason="no non-loopback interface: aioice gathers no ICE candidates on loopback",
)


@pytest.fixture
def webrtc_on() -> bool:
    return True


@pytest.fixture
def settings(settings: Settings, webrtc_on: bool) -> Settings:
    return settings.model_copy(update={"live_webrtc": webrtc_on, "live_webrtc_max_sessions": 1})


@contextlib.asynccontextmanager
async def offerer() -> AsyncIterator[RTCPeerConnection]:
    """A receive-only video peer preferring H.264, its offer (with candidates) already made."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        transceiver = pc.addTransceiver("video", direction="recvonly")
        h264 = [
            c
            for c in RTCRtpReceiver.getCapabilities("video").codecs
            if c.mimeType.lower() in ("video/h264", "video/rtx")
        ]
        transceiver.setCodecPreferences(h264)
        await pc.setLocalDescription(await pc.createOffer())
        yield pc
    finally:
        await pc.close()


def _offer(pc: RTCPeerConnection) -> str:
    assert pc.localDescription is not None
    return pc.localDescription.sdp


async def _status(http: httpx.AsyncClient) -> dict[str, Any]:
    status: dict[str, Any] = (await http.get("/api/v1/live")).json()
    return status


@needs_host_address
async def test_whep_plays_the_sub_stream_and_delete_hangs_up(site: LiveSite) -> None:
    view = await site.http.post("/api/v1/cameras/cam/liveview")
    assert view.status_code == 200, view.text
    body = view.json()
    assert body["webrtc_url"] == "/live/cam"
    async with offerer() as pc:
        answer = await site.http.post(
            f"{body['webrtc_url']}/whep",
            params={"token": body["token"]},
            content=_offer(pc),
            headers=SDP,
        )
        assert answer.status_code == 201, answer.text
        assert answer.headers["content-type"] == "application/sdp"
        assert answer.headers["cache-control"] == "no-store"
        location = answer.headers["location"]
        assert location.startswith("/live/cam/whep/") and "token" not in location
        assert "H264" in answer.text and "VP8" not in answer.text
        assert "a=candidate:" in answer.text  # no trickle: every candidate is in the answer
        everything = answer.text + str(answer.headers) + view.text
        assert SIMCAM_PASSWORD not in everything and "s3cret" not in everything

        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer.text, type="answer"))
        track = pc.getTransceivers()[0].receiver.track
        async with asyncio.timeout(15):
            frames = [await track.recv() for _ in range(10)]
        assert all(isinstance(f, VideoFrame) for f in frames)
        assert {(f.width, f.height) for f in frames if isinstance(f, VideoFrame)} == {(640, 360)}
        assert pc.connectionState == "connected"
        status = await _status(site.http)
        assert status["webrtc_sessions"] == 1
        assert [(p["camera_id"], p["viewers"]) for p in status["pulls"]] == [("cam", 1)]
        async with offerer() as second:  # HELDAR_LIVE_WEBRTC_MAX_SESSIONS=1 here
            full = await site.http.post(
                "/live/cam/whep",
                params={"token": body["token"]},
                content=_offer(second),
                headers=SDP,
            )
        assert (full.status_code, full.json()["error"]) == (503, "webrtc_sessions_full")
        assert "retry-after" in full.headers

        hung_up = await site.http.delete(location)
        assert hung_up.status_code == 204, hung_up.text
        assert (await _status(site.http))["webrtc_sessions"] == 0
        assert (await site.http.delete(location)).status_code == 404
        await eventually(
            lambda: pc.connectionState in ("closed", "failed"), timeout=10, what="hang-up"
        )
    # The only viewer left: the shared pull (and its ffmpeg) stops after the 1 s idle timeout.
    await eventually(
        lambda: not processes_with(f":{site.camera.port}/cam"), timeout=10, what="pull to stop"
    )


@needs_host_address
async def test_revoked_credential_ends_the_session(site: LiveSite) -> None:
    async with httpx.AsyncClient(base_url=site.base, timeout=20) as http:
        http.headers.update(bearer(await login(http, ADMIN_USER, ADMIN_PASSWORD)))
        token = (await http.get("/api/v1/cameras/cam/liveview")).json()["token"]
        async with offerer() as pc:
            answer = await http.post(
                "/live/cam/whep", params={"token": token}, content=_offer(pc), headers=SDP
            )
            assert answer.status_code == 201, answer.text
            await pc.setRemoteDescription(RTCSessionDescription(sdp=answer.text, type="answer"))
            track = pc.getTransceivers()[0].receiver.track
            async with asyncio.timeout(15):
                await track.recv()
            assert (await http.post("/api/v1/auth/logout")).status_code == 204
            # Re-checked every RECHECK_S (5 s), like an open WebSocket.
            await eventually(
                lambda: _sessions(site) == 0, timeout=10, interval=0.2, what="session end"
            )


@needs_host_address
async def test_editing_the_camera_ends_its_sessions(site: LiveSite) -> None:
    token = (await site.http.get("/api/v1/cameras/cam/liveview")).json()["token"]
    async with offerer() as pc:
        answer = await site.http.post(
            "/live/cam/whep", params={"token": token}, content=_offer(pc), headers=SDP
        )
        assert answer.status_code == 201, answer.text
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer.text, type="answer"))
        async with asyncio.timeout(15):
            await pc.getTransceivers()[0].receiver.track.recv()
        patched = await site.http.patch("/api/v1/cameras/cam", json={"name": "Back door"})
        assert patched.status_code == 200, patched.text
        await eventually(lambda: _sessions(site) == 0, timeout=5, what="session end")
        assert (await site.http.delete(answer.headers["location"])).status_code == 404


@needs_host_address
async def test_stopping_the_kernel_hangs_up_and_reaps(
    settings: Settings, simcam_auth: SimCamServer
) -> None:
    app = create_app(settings)
    async with offerer() as pc:
        async with app.router.lifespan_context(app), serving(app) as base:
            async with httpx.AsyncClient(base_url=base, timeout=20) as http:
                http.headers.update(bearer(await login(http, ADMIN_USER, ADMIN_PASSWORD)))
                camera = {
                    "id": "cam",
                    "name": "cam",
                    "main_stream_url": simcam_auth.url(1),
                    "sub_stream_url": simcam_auth.url(2),
                    "username": SIMCAM_USER,
                    "password": SIMCAM_PASSWORD,
                }
                assert (await http.post("/api/v1/cameras", json=camera)).status_code == 201
                token = (await http.get("/api/v1/cameras/cam/liveview")).json()["token"]
                answer = await http.post(
                    "/live/cam/whep", params={"token": token}, content=_offer(pc), headers=SDP
                )
                assert answer.status_code == 201, answer.text
            await pc.setRemoteDescription(RTCSessionDescription(sdp=answer.text, type="answer"))
            async with asyncio.timeout(15):
                await pc.getTransceivers()[0].receiver.track.recv()
        assert not processes_with(f":{simcam_auth.port}/cam")  # the pull's ffmpeg was reaped
        await eventually(
            lambda: pc.connectionState in ("closed", "failed"), timeout=10, what="hang-up"
        )


def _sessions(site: LiveSite) -> int:
    webrtc = site.app.state.kernel.live.webrtc
    assert webrtc is not None
    return len(webrtc)


# -- refusals (ASGI; no camera is dialled) ---------------------------------------------------------


async def _token(http: httpx.AsyncClient, camera: str = "cam") -> str:
    token: str = (await http.get(f"/api/v1/cameras/{camera}/liveview")).json()["token"]
    return token


async def test_bad_tokens_are_refused_and_create_nothing(
    app: FastAPI, client: httpx.AsyncClient, anon_client: httpx.AsyncClient, cams: None
) -> None:
    token = await _token(client)
    async with offerer() as pc:
        offer = _offer(pc)
    for params, status, code in (
        ({}, 401, "live_token_missing"),
        ({"token": "garbage"}, 401, "live_token_invalid"),
        ({"token": token[:-2] + "xx"}, 401, "live_token_invalid"),
        ({"token": await _token(client, "other")}, 403, "live_token_camera"),
    ):
        refused = await anon_client.post(
            "/live/cam/whep", params=params, content=offer, headers=SDP
        )
        assert (refused.status_code, refused.json()["error"]) == (status, code), params
    assert (await client.post("/api/v1/auth/logout")).status_code == 204
    revoked = await anon_client.post(
        "/live/cam/whep", params={"token": token}, content=offer, headers=SDP
    )
    assert (revoked.status_code, revoked.json()["error"]) == (401, "live_token_revoked")
    status = app.state.kernel.live.status()
    assert (status.webrtc_sessions, status.pulls) == (0, [])
    unknown = await anon_client.delete("/live/cam/whep/" + "A" * 32)
    assert (unknown.status_code, unknown.json()["error"]) == (404, "webrtc_session_not_found")
    trickle = await anon_client.patch("/live/cam/whep/" + "A" * 32, content=b"", headers=SDP)
    assert trickle.status_code == 405


async def test_bad_offers_are_4xx_with_a_code(
    client: httpx.AsyncClient, anon_client: httpx.AsyncClient, cams: None
) -> None:
    params = {"token": await _token(client)}
    async with offerer() as pc:
        offer = _offer(pc)
    for headers, content, status, code in (
        ({"Content-Type": "application/json"}, b"{}", 415, "whep_content_type"),
        ({}, offer.encode(), 415, "whep_content_type"),
        (SDP, b"v=0\r\n" + b"a=x\r\n" * 20_000, 413, "payload_too_large"),
        (SDP, b"\xff\xfe not text", 400, "whep_offer_invalid"),
        (SDP, b"hello", 400, "whep_offer_invalid"),
        (SDP, offer.replace("m=video", "m=audio").encode(), 400, "whep_offer_invalid"),
        (SDP, (offer + "a=fmtp:31 x\r\n").encode(), 400, "whep_offer_invalid"),
        (SDP, offer.replace("H264", "VP8").encode(), 400, "whep_offer_no_h264"),
    ):
        refused = await anon_client.post(
            "/live/cam/whep", params=params, content=content, headers=headers
        )
        assert (refused.status_code, refused.json()["error"]) == (status, code), content[:40]
    assert (await _status(client))["pulls"] == []


@pytest.mark.parametrize("webrtc_on", [False])
async def test_off_by_default_no_url_and_404(
    app: FastAPI, client: httpx.AsyncClient, anon_client: httpx.AsyncClient, cams: None
) -> None:
    assert Settings.model_fields["live_webrtc"].default is False
    view = (await client.get("/api/v1/cameras/cam/liveview")).json()
    assert view["webrtc_url"] is None
    async with offerer() as pc:
        offer = _offer(pc)
    refused = await anon_client.post(
        "/live/cam/whep", params={"token": view["token"]}, content=offer, headers=SDP
    )
    assert (refused.status_code, refused.json()["error"]) == (404, "webrtc_disabled")
    assert app.state.kernel.live.webrtc is None
    assert (await _status(client))["webrtc_sessions"] == 0


async def test_webrtc_without_aiortc_refuses_to_start(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "aiortc", None)  # as if the `webrtc` extra were missing
    monkeypatch.delitem(sys.modules, "heldar.live.webrtc", raising=False)
    app = create_app(settings)
    with pytest.raises(ConfigurationError, match=r"HELDAR_LIVE_WEBRTC.*heldar\[webrtc\]"):
        async with app.router.lifespan_context(app):
            pass
