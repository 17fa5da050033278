"""How the simulated camera is owned: `run()` under a supervisor, `async with`, `serve_simcam`."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from heldar.simcam.server import SimCamServer, serve_simcam
from tests.support.rtsp_client import RawRtspClient
from tests.support.waiting import eventually


def serving(server: SimCamServer) -> bool:
    try:
        return server.port > 0
    except RuntimeError:
        return False


async def options_status(url: str) -> int:
    async with await RawRtspClient.connect(url) as client:
        return (await client.request("OPTIONS", url)).status


async def test_run_serves_until_cancelled_then_closes_everything(simcam_clip: Path) -> None:
    server = SimCamServer(simcam_clip, port=0, streams=1)
    task = asyncio.create_task(server.run())
    try:
        await eventually(lambda: serving(server), timeout=10, interval=0.02, what="run() to listen")
        url = server.url(1)
        async with await RawRtspClient.connect(url) as client:
            await client.play(url)
            await client.read_access_units(1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            with pytest.raises((asyncio.IncompleteReadError, ConnectionError)):
                for _ in range(100):
                    await client.read_frame(timeout=2)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    with pytest.raises(ConnectionRefusedError):
        await options_status(url)


async def test_start_twice_is_refused_and_urls_are_checked(simcam: SimCamServer) -> None:
    with pytest.raises(RuntimeError):
        await simcam.start()
    assert simcam.url(2).endswith(f":{simcam.port}/cam2")
    with pytest.raises(ValueError):
        simcam.url(3)
    with pytest.raises(RuntimeError):
        _ = SimCamServer(Path("x.mp4"), port=0).port
    with pytest.raises(ValueError):
        SimCamServer(Path("x.mp4"), username="admin")


async def test_serve_simcam_prints_urls_and_serves(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    printed: list[str] = []

    def urls_printed() -> bool:
        printed.extend(capsys.readouterr().out.split())
        return len(printed) >= 2

    task = asyncio.create_task(
        serve_simcam(
            cache_dir=tmp_path, port=0, streams=2, height=144, fps=5, username=None, password=None
        )
    )
    try:
        await eventually(urls_printed, timeout=10, interval=0.02, what="the stream URLs")
        assert [url.rsplit("/", 1)[1] for url in printed] == ["cam1", "cam2"]
        assert all(url.startswith("rtsp://127.0.0.1:") for url in printed)
        assert await options_status(printed[1]) == 200
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    with pytest.raises(ConnectionRefusedError):
        await options_status(printed[0])
