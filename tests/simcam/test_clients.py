"""SimCamServer against the clients the kernel really uses: the ffmpeg binary and PyAV.

Also pins down how those clients fail (exit codes, PyAV exception classes), which the kernel's
error classification relies on, and checks the GStreamer reference server fixture.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import av
import pytest

from heldar.simcam.server import SimCamServer
from tests.support.rtsp import SIMCAM_PASSWORD, gst_rtsp_server_process, with_credentials
from tests.support.rtsp_client import probe, run_ffmpeg_client


def open_and_decode(url: str) -> tuple[int, int]:
    """Blocking: open `url` with PyAV over TCP and decode one frame (run it in a thread)."""
    with av.open(url, options={"rtsp_transport": "tcp"}, timeout=10) as container:
        frame = next(container.decode(video=0))
        return frame.width, frame.height


@pytest.mark.slow
async def test_ffmpeg_records_three_seconds(simcam: SimCamServer, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    result = await run_ffmpeg_client(simcam.url(2), out, seconds=3)
    assert result.returncode == 0, result.stderr
    recorded = probe(out)
    assert (recorded.codec, recorded.width, recorded.height) == ("h264", 640, 360)
    assert 40 <= recorded.frames <= 50


async def test_pyav_decodes_a_frame(simcam: SimCamServer) -> None:
    assert await asyncio.to_thread(open_and_decode, simcam.url(1)) == (640, 360)


@pytest.mark.slow
async def test_four_ffmpeg_clients_at_once(simcam: SimCamServer, tmp_path: Path) -> None:
    outs = [tmp_path / f"out{i}.mp4" for i in range(4)]
    results = await asyncio.gather(
        *(run_ffmpeg_client(simcam.url(1 + i % 2), out, frames=20) for i, out in enumerate(outs))
    )
    assert [r.returncode for r in results] == [0] * 4, [r.stderr for r in results]
    assert [probe(out).frames for out in outs] == [20] * 4


async def test_ffmpeg_with_digest_auth(simcam_auth: SimCamServer, tmp_path: Path) -> None:
    good = await run_ffmpeg_client(with_credentials(simcam_auth.url(1)), tmp_path / "a.mp4")
    assert good.returncode == 0, good.stderr
    assert probe(tmp_path / "a.mp4").frames == 5
    wrong = with_credentials(simcam_auth.url(1), password=SIMCAM_PASSWORD + "x")
    bad = await run_ffmpeg_client(wrong, tmp_path / "b.mp4")
    assert bad.returncode != 0
    assert "401" in bad.stderr
    assert not (tmp_path / "b.mp4").exists()


async def test_pyav_with_auth(simcam_auth: SimCamServer) -> None:
    url = simcam_auth.url(2)
    assert await asyncio.to_thread(open_and_decode, with_credentials(url)) == (640, 360)
    wrong = with_credentials(url, password="wrong")
    with pytest.raises(av.error.HTTPUnauthorizedError):
        await asyncio.to_thread(open_and_decode, wrong)
    with pytest.raises(av.error.HTTPUnauthorizedError):
        await asyncio.to_thread(open_and_decode, url)


async def test_pyav_errors_for_404_and_a_closed_port(simcam: SimCamServer) -> None:
    missing = simcam.url(1).replace("/cam1", "/cam9")
    with pytest.raises(av.error.HTTPNotFoundError):
        await asyncio.to_thread(open_and_decode, missing)
    await simcam.stop()
    with pytest.raises(av.error.ConnectionRefusedError) as refused:
        await asyncio.to_thread(open_and_decode, simcam.url(1))
    assert isinstance(refused.value, ConnectionRefusedError), "also the builtin OSError subclass"


async def test_gst_reference_server(gst_rtsp_server: str, tmp_path: Path) -> None:
    result = await run_ffmpeg_client(gst_rtsp_server, tmp_path / "gst.mp4", frames=5)
    assert result.returncode == 0, result.stderr
    recorded = probe(tmp_path / "gst.mp4")
    assert (recorded.codec, recorded.width, recorded.height) == ("h264", 640, 480)


async def test_gst_reference_server_with_digest_auth(tmp_path: Path) -> None:
    with gst_rtsp_server_process(tmp_path, user="admin", password=SIMCAM_PASSWORD) as url:
        good = await run_ffmpeg_client(with_credentials(url), tmp_path / "a.mp4", frames=5)
        bad = await run_ffmpeg_client(with_credentials(url, password="x"), tmp_path / "b.mp4")
    assert good.returncode == 0, good.stderr
    assert bad.returncode != 0
    assert "401" in bad.stderr
