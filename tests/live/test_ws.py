"""The WebSocket transport against the real kernel, a real RTSP camera and real ffmpeg."""

from __future__ import annotations

import asyncio
import io

import av
import httpx
import pytest
import websockets

from heldar.live.tokens import RECHECK_S
from tests.live.conftest import LiveSite
from tests.live.support import WsViewer, ws_url
from tests.support.auth import ADMIN_PASSWORD, ADMIN_USER, bearer, login
from tests.support.rtsp import SIMCAM_PASSWORD
from tests.support.waiting import eventually, processes_with


def _pulls(site: LiveSite) -> list[int]:
    """Live ffmpeg pulls of the site's camera (their argv ends with `pipe:1`)."""
    return processes_with(f":{site.camera.port}/cam")


async def test_ws_plays_decodable_h264_from_a_keyframe(site: LiveSite) -> None:
    view = await site.http.post("/api/v1/cameras/cam/liveview")
    assert view.status_code == 200, view.text
    body = view.json()
    assert body["webrtc_url"] is None
    assert body["ws_url"].startswith("/live/cam/ws?token=")
    viewer = WsViewer(ws_url(site.base, body["ws_url"]))
    task = asyncio.create_task(viewer.run())
    try:
        await viewer.wait_fragments(30)
        assert viewer.init_message is not None
        assert viewer.init_message["codec"].startswith("avc1.")
        assert (viewer.init_message["width"], viewer.init_message["height"]) == (640, 360)
        assert viewer.init is not None
        # Decode what a browser would: init + fragments, every frame, no error.
        stream = io.BytesIO(viewer.init + b"".join(viewer.fragments[:30]))
        with av.open(stream, format="mp4", mode="r") as container:
            frames = list(container.decode(video=0))
        assert len(frames) == 30
        assert frames[0].key_frame
        assert (frames[-1].width, frames[-1].height) == (640, 360)
        status = (await site.http.get("/api/v1/live")).json()
        assert [(p["camera_id"], p["viewers"], p["state"]) for p in status["pulls"]] == [
            ("cam", 1, "running")
        ]
        assert status["pulls"][0]["bytes_per_s"] > 0
        assert len(_pulls(site)) == 1
        everything = view.text + str(view.headers) + "".join(viewer.texts) + status.__repr__()
        assert SIMCAM_PASSWORD not in everything
        assert "s3cret" not in everything
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    # The last viewer left: the pull stops after the (1 s) idle timeout.
    await eventually(lambda: not _pulls(site), timeout=10, what="the pull to stop")
    assert (await site.http.get("/api/v1/live")).json()["pulls"] == []


async def test_logout_closes_an_open_websocket(site: LiveSite) -> None:
    async with httpx.AsyncClient(base_url=site.base, timeout=20) as http:
        http.headers.update(bearer(await login(http, ADMIN_USER, ADMIN_PASSWORD)))
        view = (await http.get("/api/v1/cameras/cam/liveview")).json()
        viewer = WsViewer(ws_url(site.base, view["ws_url"]))
        task = asyncio.create_task(viewer.run())
        try:
            await viewer.wait_fragments(3)
            assert (await http.post("/api/v1/auth/logout")).status_code == 204
            async with asyncio.timeout(RECHECK_S + 5):
                await task
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    assert viewer.close_code == 1008
    assert viewer.end_message is not None and "revoked" in viewer.end_message["reason"]


async def test_a_refused_handshake_is_401_or_403(site: LiveSite) -> None:
    view = (await site.http.get("/api/v1/cameras/cam/liveview")).json()
    for path, status in (
        ("/live/cam/ws", 401),
        ("/live/cam/ws?token=forged", 401),
        (view["ws_url"].replace("/live/cam/", "/live/other/"), 403),
    ):
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(ws_url(site.base, path)):
                pass
        assert refused.value.response.status_code == status, path


async def test_a_warm_camera_pulls_without_viewers(site: LiveSite) -> None:
    patched = await site.http.patch("/api/v1/cameras/cam", json={"live_warm": True})
    assert patched.status_code == 200, patched.text
    await eventually(lambda: len(_pulls(site)) == 1, timeout=10, what="the warm pull")
    status = (await site.http.get("/api/v1/live")).json()["pulls"]
    assert [(p["profile"], p["viewers"]) for p in status] == [("sub", 0)]
    await site.http.patch("/api/v1/cameras/cam", json={"live_warm": False})
    await eventually(lambda: not _pulls(site), timeout=10, what="the pull to stop when cold")
