"""The whole kernel as a process: SIGTERM finalizes every ffmpeg; kill -9 leaves no orphan
recorder and a restart resumes with exactly one ffmpeg per camera."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from heldar.simcam.server import SimCamServer
from tests.recording.media import decodable_frames
from tests.support.auth import ADMIN_PASSWORD, ADMIN_USER
from tests.support.waiting import eventually, processes_with

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class KernelProcess:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HELDAR_")}
        env.update(
            HELDAR_DATA_DIR=str(self.data_dir),
            HELDAR_API_PORT=str(self.port),
            HELDAR_BOOTSTRAP_ADMIN_USER=ADMIN_USER,
            HELDAR_BOOTSTRAP_ADMIN_PASSWORD=ADMIN_PASSWORD,
            HELDAR_PASSWORD_HASH_MEMORY_KIB="19456",
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "heldar.cli", "serve"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    @contextlib.asynccontextmanager
    async def client(self) -> AsyncIterator[httpx.AsyncClient]:
        async def up() -> bool:
            try:
                async with httpx.AsyncClient() as http:
                    return (await http.get(self.base + "/healthz", timeout=1)).status_code == 200
            except httpx.TransportError:
                return False

        await eventually(up, timeout=60, what="the kernel")
        async with httpx.AsyncClient(base_url=self.base, timeout=30) as http:
            login = await http.post(
                "/api/v1/auth/login", json={"username": ADMIN_USER, "password": ADMIN_PASSWORD}
            )
            http.cookies.clear()
            http.headers["Authorization"] = f"Bearer {login.json()['token']}"
            yield http

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait(timeout=30)


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[KernelProcess]:
    process = KernelProcess(tmp_path / "data")
    try:
        yield process
    finally:
        process.stop()
        for pid in processes_with(str(tmp_path / "data")):  # never leave an ffmpeg behind
            os.kill(pid, signal.SIGKILL)


async def _record(http: httpx.AsyncClient, simcam: SimCamServer, segment_seconds: int = 60) -> None:
    for n in (1, 2):
        body = {
            "id": f"c{n}",
            "name": f"c{n}",
            "main_stream_url": simcam.url(n),
            "segment_seconds": segment_seconds,
        }
        assert (await http.post("/api/v1/cameras", json=body)).status_code == 201

    async def recording() -> bool:
        cameras = (await http.get("/api/v1/cameras")).json()
        return all(c["status"]["state"] == "recording" for c in cameras)

    await eventually(recording, timeout=30, what="both cameras recording")


async def test_sigterm_finalizes_every_ffmpeg(kernel: KernelProcess, simcam: SimCamServer) -> None:
    kernel.start()
    async with kernel.client() as http:
        await _record(http, simcam)
    recordings = kernel.data_dir / "recordings"
    await eventually(
        lambda: all(
            sum(p.stat().st_size for p in (recordings / f"c{n}").glob("*.mp4")) > 100_000
            for n in (1, 2)
        ),
        timeout=20,
    )
    assert len(processes_with(str(recordings))) == 2
    assert kernel.proc is not None
    started = time.monotonic()
    kernel.proc.send_signal(signal.SIGTERM)
    await eventually(lambda: kernel.proc is not None and kernel.proc.poll() is not None, timeout=10)
    await eventually(
        lambda: processes_with(str(recordings)) == [], timeout=10 - (time.monotonic() - started)
    )
    for n in (1, 2):
        (last,) = sorted((recordings / f"c{n}").glob("*.mp4"))
        assert decodable_frames(last) >= 15  # finalized: decodes to the end without error


async def test_kill_9_leaves_no_second_recorder(
    kernel: KernelProcess, simcam: SimCamServer
) -> None:
    kernel.start()
    async with kernel.client() as http:
        await _record(http, simcam, segment_seconds=2)
    recordings = str(kernel.data_dir / "recordings")
    assert len(processes_with(recordings)) == 2
    assert kernel.proc is not None
    # complete segments before the kill: every file but the newest of each camera
    await eventually(
        lambda: all(
            len(list((kernel.data_dir / "recordings" / f"c{n}").glob("*.mp4"))) >= 2 for n in (1, 2)
        ),
        timeout=30,
        what="a closed segment per camera",
    )
    complete = {
        path.name
        for n in (1, 2)
        for path in sorted((kernel.data_dir / "recordings" / f"c{n}").glob("*.mp4"))[:-1]
    }
    kernel.proc.kill()
    kernel.proc.wait(timeout=10)
    # Children get SIGTERM from the kernel's death (PR_SET_PDEATHSIG) and finalize.
    await eventually(lambda: processes_with(recordings) == [], timeout=15, what="orphans gone")
    kernel.start()
    async with kernel.client() as http:

        async def recording_again() -> bool:
            cameras = (await http.get("/api/v1/cameras")).json()
            return all(c["status"]["state"] == "recording" for c in cameras)

        await eventually(recording_again, timeout=30)
        assert len(processes_with(recordings)) == 2
        for n in (1, 2):
            assert len(processes_with(f"{recordings}/c{n}/")) == 1
        indexed = set()
        for n in (1, 2):
            rows = (await http.get(f"/api/v1/cameras/c{n}/segments")).json()
            indexed |= {row["url"].rsplit("/", 1)[1] for row in rows}
        assert complete <= indexed  # nothing complete before the kill is missing from the index
    kernel.proc.send_signal(signal.SIGTERM)
    kernel.proc.wait(timeout=20)
    check = subprocess.run(
        [sys.executable, "-m", "heldar.cli", "check", "--data-dir", str(kernel.data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("HELDAR_")},
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "0 failed" in check.stdout
