"""`GET|POST /cameras/{id}/test` opens real streams: our simcam, GStreamer's server, dead ends."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

from heldar.simcam.server import SimCamServer
from tests.support.rtsp import SIMCAM_PASSWORD, SIMCAM_USER

pytestmark = pytest.mark.slow


async def _add(client: httpx.AsyncClient, camera_id: str, url: str, **extra: object) -> None:
    body = {"id": camera_id, "name": camera_id, "main_stream_url": url, **extra}
    response = await client.post("/api/v1/cameras", json=body)
    assert response.status_code == 201, response.text


async def test_simcam_reports_codec_and_size(
    client: httpx.AsyncClient, simcam: SimCamServer
) -> None:
    await _add(client, "sim", simcam.url(1), sub_stream_url=simcam.url(2))
    result = (await client.get("/api/v1/cameras/sim/test")).json()
    assert result["reachable"] is True, result
    assert (result["codec"], result["width"], result["height"]) == ("h264", 640, 360)
    assert result["stream"] == "main"
    assert result["url"] == simcam.url(1)
    sub = (await client.post("/api/v1/cameras/sim/test", json={"stream": "sub"})).json()
    assert sub["reachable"] is True
    assert sub["url"] == simcam.url(2)


async def test_protected_simcam_with_right_and_wrong_credentials(
    client: httpx.AsyncClient, simcam_auth: SimCamServer
) -> None:
    await _add(client, "good", simcam_auth.url(1), username=SIMCAM_USER, password=SIMCAM_PASSWORD)
    await _add(client, "bad", simcam_auth.url(1), username=SIMCAM_USER, password="wrong-password")
    await _add(client, "none", simcam_auth.url(1))
    good = await client.get("/api/v1/cameras/good/test")
    assert good.json()["reachable"] is True, good.text
    assert good.json()["url"].startswith("rtsp://***@127.0.0.1:")
    for camera in ("bad", "none"):
        response = await client.get(f"/api/v1/cameras/{camera}/test")
        result = response.json()
        assert result["reachable"] is False
        assert result["error"] == "auth_failed", result
        assert SIMCAM_PASSWORD not in response.text
        assert "s3cret" not in response.text


async def test_closed_port_is_unreachable(client: httpx.AsyncClient) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # the socket is closed again: nothing listens on `port`
    await _add(client, "gone", f"rtsp://127.0.0.1:{port}/cam1")
    result = (await client.get("/api/v1/cameras/gone/test")).json()
    assert result["reachable"] is False
    assert result["error"] == "unreachable"


async def test_silent_server_is_a_timeout(client: httpx.AsyncClient) -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # TCP open, never a byte back

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        await _add(client, "mute", f"rtsp://127.0.0.1:{port}/cam1")
        result = (await client.get("/api/v1/cameras/mute/test")).json()
    finally:
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()
    assert result["reachable"] is False
    assert result["error"] == "timeout"
    assert result["elapsed_ms"] >= 4000


async def test_unknown_path_is_unreachable(client: httpx.AsyncClient, simcam: SimCamServer) -> None:
    await _add(client, "typo", simcam.url(1).replace("/cam1", "/cam9"))
    result = (await client.get("/api/v1/cameras/typo/test")).json()
    assert result["reachable"] is False
    assert result["error"] == "unreachable"


async def test_third_party_rtsp_server(client: httpx.AsyncClient, gst_rtsp_server: str) -> None:
    await _add(client, "gst", gst_rtsp_server)
    result = (await client.get("/api/v1/cameras/gst/test")).json()
    assert result["reachable"] is True, result
    assert (result["codec"], result["width"], result["height"]) == ("h264", 640, 480)
