"""HLS from the shared pull, read end to end by ffmpeg; live snapshots; no credential leaks."""

from __future__ import annotations

import asyncio
import io
import logging

import av
import pytest

from heldar.ffmpeg.binary import find_ffmpeg
from tests.live.conftest import LiveSite
from tests.support.rtsp import SIMCAM_PASSWORD
from tests.support.waiting import processes_with

SECRETS = (SIMCAM_PASSWORD, "s3cret", "s3cret%3Ap%40ss")


async def test_ffmpeg_reads_the_hls_playlist(
    site: LiveSite, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="heldar")
    view = (await site.http.get("/api/v1/cameras/cam/liveview")).json()
    playlist = await site.http.get(view["hls_url"])
    assert playlist.status_code == 200, playlist.text
    assert playlist.headers["content-type"].startswith("application/vnd.apple.mpegurl")
    assert playlist.headers["cache-control"] == "no-store"
    assert f'#EXT-X-MAP:URI="init.mp4?token={view["token"]}"' in playlist.text
    assert ".m4s?token=" in playlist.text
    proc = await asyncio.create_subprocess_exec(
        find_ffmpeg(),
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-protocol_whitelist",
        "http,tcp",
        "-i",
        site.base + view["hls_url"],
        "-frames:v",
        "30",
        "-f",
        "null",
        "-",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(30):
            _, stderr = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, stderr.decode()
    assert stderr.decode().strip() == ""  # no decode error in what ffmpeg read
    status = (await site.http.get("/api/v1/live")).json()["pulls"][0]
    assert status["hls_active"] is True
    assert len(processes_with(f":{site.camera.port}/cam")) == 1
    for text in (playlist.text, str(playlist.headers), str(status), caplog.text):
        assert not any(secret in text for secret in SECRETS)


async def test_live_snapshot_from_the_pull_and_one_shot(site: LiveSite) -> None:
    # No pull runs: a one-shot grab from the camera.
    shot = await site.http.get("/api/v1/cameras/cam/snapshot")
    assert shot.status_code == 200, shot.text
    assert shot.headers["content-type"] == "image/jpeg"
    assert _size(shot.content) == (640, 360)
    assert not processes_with(f":{site.camera.port}/cam")  # the grab's ffmpeg was reaped
    # With a running pull: its newest frame, quickly.
    playlist = await site.http.get(
        (await site.http.get("/api/v1/cameras/cam/liveview")).json()["hls_url"]
    )
    assert playlist.status_code == 200
    pulls = (await site.http.get("/api/v1/live")).json()["pulls"]
    assert [p["profile"] for p in pulls] == ["sub"]
    loop = asyncio.get_running_loop()
    started = loop.time()
    shot = await site.http.get("/api/v1/cameras/cam/snapshot")
    assert shot.status_code == 200
    assert loop.time() - started < 1.0
    assert _size(shot.content) == (640, 360)


def _size(jpeg: bytes) -> tuple[int, int]:
    assert jpeg[:2] == b"\xff\xd8"
    with av.open(io.BytesIO(jpeg), mode="r") as container:
        frame = next(container.decode(video=0))
    return frame.width, frame.height
