"""A real kernel, real simulated cameras and Debian's Chromium for the dashboard tests.

One kernel (`heldar serve` on a free port, temp data dir) and two `heldar simcam` processes are
shared by the module: `main` serves four cameras, `spare` one camera that a test stops to see the
tile go offline. Chromium is `/usr/bin/chromium` through Playwright's `executable_path` (no browser
download); a test is skipped when either is missing. Screenshots go to `$HELDAR_WEB_ARTIFACTS`, else
`<pytest basetemp>/web-artifacts` (the path is printed).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = os.environ.get("HELDAR_TEST_CHROMIUM", "/usr/bin/chromium")
ADMIN_PASSWORD = "web-Admin-passw0rd"
VIEWER_PASSWORD = "web-Viewer-passw0rd"
XSS_NAME = "<img src=x onerror=alert(1)>"
SEGMENT_SECONDS = 2

playwright_sync = pytest.importorskip("playwright.sync_api")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited early with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.2)
    raise RuntimeError(f"nothing listens on {port} after {timeout} s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _simcam(data_dir: Path, streams: int) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    argv = [sys.executable, "-m", "heldar.cli", "simcam", "--port", str(port)]
    argv += [
        "--streams",
        str(streams),
        "--height",
        "360",
        "--fps",
        "15",
        "--data-dir",
        str(data_dir),
    ]
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True
    )
    try:
        _wait_port(port, proc, 90)
    except BaseException:
        _stop(proc)
        raise
    return proc, port


@dataclass
class WebKernel:
    base: str
    admin: httpx.Client
    simcam_port: int
    spare: subprocess.Popen[bytes]
    cameras: list[str] = field(default_factory=list)
    artifacts: Path = Path()

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.admin.request(method, f"/api/v1{path}", **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None


@pytest.fixture(scope="module")
def web_kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebKernel]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    root = tmp_path_factory.mktemp("web")
    artifacts = Path(os.environ.get("HELDAR_WEB_ARTIFACTS") or root / "web-artifacts")
    artifacts.mkdir(parents=True, exist_ok=True)
    print(f"\ndashboard screenshots: {artifacts}")
    cache = root / "simcam-cache"
    main, main_port = _simcam(cache, 4)
    procs = [main]
    try:
        spare, spare_port = _simcam(cache, 1)
        procs.append(spare)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("HELDAR_")}
        env |= {
            "HELDAR_BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "HELDAR_PASSWORD_HASH_MEMORY_KIB": "19456",
            "HELDAR_PASSWORD_HASH_TIME_COST": "2",
            "HELDAR_LOG_LEVEL": "warning",
        }
        argv = [sys.executable, "-m", "heldar.cli", "serve", "--port", str(port)]
        argv += ["--data-dir", str(root / "data")]
        kernel = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        procs.append(kernel)
        _wait_port(port, kernel, 60)
        base = f"http://127.0.0.1:{port}"
        token = httpx.post(
            f"{base}/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
        ).json()["token"]
        with httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as admin:
            wk = WebKernel(base, admin, main_port, spare, artifacts=artifacts)
            for n in range(1, 5):
                _create_camera(wk, f"cam{n}", f"Camera {n}", f"rtsp://127.0.0.1:{main_port}/cam{n}")
            _create_camera(wk, "spare", XSS_NAME, f"rtsp://127.0.0.1:{spare_port}/cam1")
            wk.api(
                "POST",
                "/users",
                json={"username": "viewer", "password": VIEWER_PASSWORD, "role": "viewer"},
            )
            yield wk
    finally:
        for proc in reversed(procs):
            _stop(proc)


def _create_camera(wk: WebKernel, camera_id: str, name: str, url: str) -> None:
    wk.api(
        "POST",
        "/cameras",
        json={
            "id": camera_id,
            "name": name,
            "main_stream_url": url,
            "segment_seconds": SEGMENT_SECONDS,
            "pre_roll_seconds": 0,
        },
    )
    wk.cameras.append(camera_id)


@pytest.fixture(scope="module")
def browser(web_kernel: WebKernel) -> Iterator[Any]:
    del web_kernel  # started first so a missing Chromium skips before anything else
    with playwright_sync.sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM, args=["--autoplay-policy=no-user-gesture-required"]
        )
        try:
            yield chromium
        finally:
            chromium.close()


def login_page(browser: Any, wk: WebKernel, user: str, password: str, **context: Any) -> Any:
    """A fresh browser context logged in through the login form; answers the page."""
    ctx = browser.new_context(
        viewport=context.pop("viewport", {"width": 1366, "height": 768}),
        accept_downloads=True,
        **context,
    )
    page = ctx.new_page()
    page.dialogs: list[str] = []  # type: ignore[attr-defined, misc]
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))  # type: ignore[attr-defined]
    page.goto(wk.base + "/")
    page.get_by_test_id("login-username").fill(user)
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()
    page.wait_for_selector("[data-testid=user-menu]")
    return page


def wait_recorded(wk: WebKernel, camera_id: str, seconds: float, timeout: float = 90) -> None:
    """Until the camera's timeline holds at least `seconds` of recording."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        timeline = wk.api("GET", f"/cameras/{camera_id}/timeline")
        if timeline["recorded_seconds"] >= seconds:
            return
        time.sleep(1)
    raise AssertionError(f"{camera_id}: under {seconds} s recorded after {timeout} s")
