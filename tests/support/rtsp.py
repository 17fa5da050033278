"""Pytest plugin with real RTSP servers for tests: Heldar's simulated camera and gst-rtsp-server.

Register with `pytest_plugins = ["tests.support.rtsp"]`. Fixtures: `simcam_clip` (session-scoped
cached clip), `simcam` / `simcam_auth` (running `SimCamServer`s on a free port, two streams), and
`gst_rtsp_server` (GStreamer's reference server, skipped where Debian's python3 lacks it).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import selectors
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from heldar.ffmpeg.binary import find_ffmpeg
from heldar.simcam.clip import ensure_clip
from heldar.simcam.server import SimCamServer

SIMCAM_USER = "admin"
SIMCAM_PASSWORD = "s3cret:p@ss/word"  # needs percent-encoding in a URL: ':' '@' '/'
SYSTEM_PYTHON = "/usr/bin/python3"
GST_SCRIPT = Path(__file__).with_name("gst_rtsp_server.py")
GST_READY_TIMEOUT_S = 15.0


@pytest.fixture(scope="session")
def simcam_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 640x360, 15 fps, 4 s clip (1 s GOP), rendered once per test session."""
    cache = tmp_path_factory.mktemp("simcam-clip")
    return asyncio.run(ensure_clip(cache, ffmpeg=find_ffmpeg(), height=360, fps=15, seconds=4))


@pytest.fixture
async def simcam(simcam_clip: Path) -> AsyncIterator[SimCamServer]:
    """A running simulated camera without auth: `simcam.url(1)`, `simcam.url(2)`."""
    async with SimCamServer(simcam_clip, port=0, streams=2) as server:
        yield server


@pytest.fixture
async def simcam_auth(simcam_clip: Path) -> AsyncIterator[SimCamServer]:
    """Like `simcam`, but every request needs `SIMCAM_USER` / `SIMCAM_PASSWORD`."""
    server = SimCamServer(
        simcam_clip, port=0, streams=2, username=SIMCAM_USER, password=SIMCAM_PASSWORD
    )
    async with server:
        yield server


def with_credentials(url: str, user: str = SIMCAM_USER, password: str = SIMCAM_PASSWORD) -> str:
    """`url` with percent-encoded userinfo, the way an operator would paste it."""
    userinfo = f"{quote(user, safe='')}:{quote(password, safe='')}"
    return url.replace("rtsp://", f"rtsp://{userinfo}@", 1)


ENCODER_ELEMENTS = {"h264": ("x264enc", "rtph264pay"), "h265": ("x265enc", "rtph265pay")}


@functools.cache
def gst_rtsp_server_available(codec: str = "h264") -> str | None:
    """None when the reference server can run here, else the reason it cannot."""
    if not Path(SYSTEM_PYTHON).is_file():
        return f"{SYSTEM_PYTHON} not found"
    elements = ("videotestsrc", *ENCODER_ELEMENTS[codec])
    probe = (
        "import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0');"
        "from gi.repository import Gst, GstRtspServer; Gst.init(None);"
        f"assert all(Gst.ElementFactory.find(e) for e in {elements!r})"
    )
    result = subprocess.run(
        [SYSTEM_PYTHON, "-c", probe], capture_output=True, timeout=30, check=False
    )
    if result.returncode != 0:
        return f"GstRtspServer (python3-gi, gir1.2-gst-rtsp-server-1.0, {elements[1]}) is missing"
    return None


def _wait_ready(proc: subprocess.Popen[str], timeout: float) -> int:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while (left := deadline - time.monotonic()) > 0:
            if not selector.select(left):
                break
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"gst_rtsp_server.py exited with {proc.wait()} before READY")
            if line.startswith("READY port="):
                return int(line.removeprefix("READY port=").strip())
    raise TimeoutError(f"gst_rtsp_server.py not READY within {timeout} s")


def _terminate(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
    proc.wait()


@contextlib.contextmanager
def gst_rtsp_server_process(
    log_dir: Path,
    *,
    user: str | None = None,
    password: str | None = None,
    auth: str = "digest",
    codec: str = "h264",
) -> Iterator[str]:
    """Run the reference server on a free port; yields `rtsp://127.0.0.1:PORT/test`."""
    reason = gst_rtsp_server_available(codec)
    if reason:
        pytest.skip(reason)
    args = [SYSTEM_PYTHON, str(GST_SCRIPT), "--port", "0", "--path", "/test", "--codec", codec]
    if user is not None and password is not None:
        args += ["--user", user, "--password", password, "--auth", auth]
    with (log_dir / "gst_rtsp_server.log").open("w") as log:
        proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            start_new_session=True,
        )
        try:
            port = _wait_ready(proc, GST_READY_TIMEOUT_S)
            yield f"rtsp://127.0.0.1:{port}/test"
        finally:
            _terminate(proc)
            if proc.stdout is not None:
                proc.stdout.close()


@pytest.fixture
def gst_rtsp_server(tmp_path: Path) -> Iterator[str]:
    """GStreamer's RTSP server with a live 640x480 15 fps H.264 pattern, no auth."""
    with gst_rtsp_server_process(tmp_path) as url:
        yield url
