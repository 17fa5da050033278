"""Dashboard load: time to the first live frame on a 3×3 wall, and Chromium's CPU with 16 tiles.

Starts a real kernel (`heldar serve`), `heldar simcam` with 16 streams (360p, 15 fps) and Debian's
Chromium through Playwright. Prints:
  - time from opening the wall to the first frame in every one of 9 live tiles, against the same
    for a single tile (baseline, measured first in the same run);
  - Chromium's CPU (all its processes, % of one core) while 16 live tiles play for --seconds,
    against the same browser showing the idle login page for 10 s (baseline).

    .venv/bin/python bench/ui_load.py [--seconds 60] [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from kernel_process import PASSWORD, free_port, kernel
from playwright.sync_api import Page, sync_playwright

MARKER = "--heldar-ui-bench"
TICKS = os.sysconf("SC_CLK_TCK")
LIVE_FRAMES = """(n) => {
  const tiles = [...document.querySelectorAll('[data-testid=camera-tile]')].slice(0, n);
  return tiles.length === n && tiles.every(t => {
    const v = t.querySelector('video');
    return t.dataset.mode === 'live' && v.videoWidth > 0 && v.currentTime > 0;
  });
}"""


def _cpu_ticks(root_pid: int) -> int:
    """utime + stime of `root_pid` and all its descendants (from /proc)."""
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            stat = Path(f"/proc/{entry}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            parents[int(entry)] = int(fields[1])
            ticks[int(entry)] = int(fields[11]) + int(fields[12])
    family = {root_pid}
    grew = True
    while grew:
        grew = False
        for pid, ppid in parents.items():
            if ppid in family and pid not in family:
                family.add(pid)
                grew = True
    return sum(ticks.get(pid, 0) for pid in family)


def _browser_pid() -> int:
    for entry in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            if MARKER.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                return int(entry)
    raise SystemExit("could not find the Chromium process")


def _cpu_percent(pid: int, seconds: float) -> float:
    before = _cpu_ticks(pid)
    time.sleep(seconds)
    return 100.0 * (_cpu_ticks(pid) - before) / TICKS / seconds


def _open_wall(page: Page, base: str, layout: int) -> float:
    """Seconds from opening the wall (signed in) to a live frame in the first `layout` tiles."""
    page.goto(base + "/#/events")
    page.wait_for_selector("[data-testid=events-table]")
    page.evaluate(
        f"localStorage.setItem('heldar.wall', JSON.stringify({{layout: {layout}, page: 0}}))"
    )
    started = time.monotonic()
    page.goto(base + "/#/wall")
    page.wait_for_function(LIVE_FRAMES, arg=layout, timeout=120_000)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="heldar-ui-bench-") as tmp:
        simcam = subprocess.Popen(
            [sys.executable, "-m", "heldar.cli", "simcam", "--port", str(port), "--streams", "16",
             "--height", "360", "--data-dir", tmp],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 120
            while True:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                    break
                if time.monotonic() > deadline or simcam.poll() is not None:
                    raise SystemExit("simcam did not start")
                time.sleep(0.3)
            with kernel() as base:
                _run(base, port, args)
        finally:
            simcam.terminate()
            simcam.wait(timeout=15)


def _run(base: str, simcam_port: int, args: argparse.Namespace) -> None:
    token = httpx.post(
        f"{base}/api/v1/auth/login", json={"username": "admin", "password": PASSWORD}
    ).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    for n in range(1, 17):
        body = {"id": f"cam{n:02d}", "name": f"Camera {n}",
                "main_stream_url": f"rtsp://127.0.0.1:{simcam_port}/cam{n}"}  # fmt: skip
        httpx.post(f"{base}/api/v1/cameras", json=body, headers=headers).raise_for_status()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=args.chromium,
            args=[MARKER, "--autoplay-policy=no-user-gesture-required"],
        )
        pid = _browser_pid()
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        page.goto(base + "/")
        idle = _cpu_percent(pid, 10)
        page.get_by_test_id("login-username").fill("admin")
        page.get_by_test_id("login-password").fill(PASSWORD)
        page.get_by_test_id("login-submit").click()
        page.wait_for_selector("[data-testid=user-menu]")
        one = _open_wall(page, base, 1)
        nine = _open_wall(page, base, 9)
        _open_wall(page, base, 16)
        busy = _cpu_percent(pid, args.seconds)
        frames_ok = page.evaluate(LIVE_FRAMES, 16)
        browser.close()
    print(f"time to first live frame, 1 tile (baseline):  {one:6.2f} s")
    print(f"time to first live frame, 9 tiles:            {nine:6.2f} s  ({nine / one:.2f}x)")
    print(f"Chromium CPU, idle login page (baseline):     {idle:6.1f} % of a core")
    print(
        f"Chromium CPU, 16 live tiles for {args.seconds:.0f} s:        {busy:6.1f} % of a core"
        f"  (+{busy - idle:.1f} points; {busy / 16:.1f} % per tile; still live: {frames_ok})"
    )


if __name__ == "__main__":
    main()
