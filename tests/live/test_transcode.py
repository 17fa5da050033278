"""A camera sending H.265 (GStreamer's RTSP server with x265enc): stream-copied as H.265 by
default, transcoded to H.264 — decodable from its first fragment — only with
`HELDAR_LIVE_TRANSCODE=true`, by the same single pull."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import av
import httpx
import pytest
from fastapi import FastAPI

from heldar.settings import Settings
from tests.live.support import WsViewer, serving, ws_url
from tests.support.auth import ADMIN_PASSWORD, ADMIN_USER, bearer, login
from tests.support.rtsp import gst_rtsp_server_process
from tests.support.waiting import processes_with

pytestmark = pytest.mark.slow


@pytest.fixture(params=[True, False], ids=["transcode", "copy"])
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    return settings.model_copy(update={"live_transcode": request.param})


@pytest.fixture
def hevc_camera(tmp_path: Path) -> Iterator[str]:
    with gst_rtsp_server_process(tmp_path, codec="h265") as url:
        yield url


@pytest.fixture
async def http(app: FastAPI, hevc_camera: str) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(app) as base, httpx.AsyncClient(base_url=base, timeout=20) as http:
        http.headers.update(bearer(await login(http, ADMIN_USER, ADMIN_PASSWORD)))
        camera = {"id": "hevc", "name": "HEVC", "main_stream_url": hevc_camera}
        created = await http.post("/api/v1/cameras", json=camera)
        assert created.status_code == 201, created.text
        yield http


async def test_h265_is_copied_or_transcoded_as_configured(
    http: httpx.AsyncClient, settings: Settings, hevc_camera: str
) -> None:
    view = (await http.get("/api/v1/cameras/hevc/liveview", params={"profile": "main"})).json()
    viewer = WsViewer(ws_url(str(http.base_url).rstrip("/"), view["ws_url"]))
    task = asyncio.create_task(viewer.run())
    try:
        await viewer.wait_fragments(20, timeout=30)
        assert viewer.init_message is not None and viewer.init is not None
        codec = viewer.init_message["codec"]
        port = hevc_camera.rsplit(":", 1)[1].split("/")[0]
        assert len(processes_with(f":{port}/test")) == 1  # one pull, whichever way
        if not settings.live_transcode:
            assert codec.startswith(("hvc1", "hev1")), codec  # a browser cannot play it: copied
            return
        assert codec.startswith("avc1."), codec
        assert (viewer.init_message["width"], viewer.init_message["height"]) == (640, 480)
        stream = io.BytesIO(viewer.init + b"".join(viewer.fragments[:20]))
        with av.open(stream, format="mp4", mode="r") as container:
            frames = list(container.decode(video=0))
        assert len(frames) == 20 and frames[0].key_frame
        assert (frames[-1].width, frames[-1].height) == (640, 480)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
