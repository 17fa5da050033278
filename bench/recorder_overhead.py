"""Recorder overhead: CPU of `heldar serve` + its ffmpeg children vs the same number of bare ffmpeg.

For N cameras (default 1, 8, 32) served by `heldar simcam` (a separate process whose CPU is not
counted), the script measures over the same window length:
  kernel: total CPU seconds of the kernel process and all its ffmpeg children, recording N cameras;
  bare:   total CPU seconds of N `ffmpeg -c copy -f segment` processes the script runs itself.
It prints both, the ratio (target ≤ 1.10 at N = 32) and the kernel process's own RSS
(target < 150 MiB at N = 32).

    .venv/bin/python bench/recorder_overhead.py [--cameras 1 8 32] [--window 20] [--height 720]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from heldar.ffmpeg.args import record_argv
from heldar.ffmpeg.binary import find_ffmpeg

TICKS = os.sysconf("SC_CLK_TCK")
ADMIN, PASSWORD = "bench", "bench-password-1234"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process (its own, not its children's)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid:
                found.append(int(entry.name))
    return found


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def tree_cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):  # a process may end between listing and reading
            total += cpu_seconds(pid)
    return total


def measure(pids_of: Callable[[], list[int]], window: float) -> float:
    before = tree_cpu(pids_of())
    time.sleep(window)
    return tree_cpu(pids_of()) - before


def api(base: str, method: str, path: str, token: str | None, body: object | None = None) -> object:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.25)
    raise SystemExit(f"timed out waiting for {what}")


def run_kernel(n: int, urls: list[str], window: float, workdir: Path) -> tuple[float, float]:
    port = free_port()
    env = dict(
        os.environ,
        HELDAR_DATA_DIR=str(workdir / f"kernel-{n}"),
        HELDAR_API_PORT=str(port),
        HELDAR_BOOTSTRAP_ADMIN_USER=ADMIN,
        HELDAR_BOOTSTRAP_ADMIN_PASSWORD=PASSWORD,
        HELDAR_LOG_LEVEL="warning",
    )
    kernel = subprocess.Popen(
        [sys.executable, "-m", "heldar.cli", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(
            lambda: urllib.request.urlopen(base + "/healthz", timeout=2).status == 200,
            60,
            "the kernel",
        )
        login = api(
            base, "POST", "/api/v1/auth/login", None, {"username": ADMIN, "password": PASSWORD}
        )
        token = login["token"]  # type: ignore[index]
        for i, url in enumerate(urls[:n], start=1):
            api(
                base,
                "POST",
                "/api/v1/cameras",
                token,
                {"id": f"b{i}", "name": f"b{i}", "main_stream_url": url, "segment_seconds": 10},
            )

        def all_recording() -> bool:
            cams = api(base, "GET", "/api/v1/cameras", token)
            return all(c["status"]["state"] == "recording" for c in cams)  # type: ignore[union-attr, index]

        wait_for(all_recording, 90, f"{n} cameras recording")
        used = measure(lambda: [kernel.pid, *children(kernel.pid)], window)
        return used, rss_mib(kernel.pid)
    finally:
        kernel.send_signal(signal.SIGTERM)
        kernel.wait(timeout=30)


def run_bare(n: int, urls: list[str], window: float, workdir: Path) -> float:
    ffmpeg = find_ffmpeg()
    procs = []
    try:
        for i, url in enumerate(urls[:n], start=1):
            out = workdir / f"bare-{n}" / f"b{i}"
            out.mkdir(parents=True)
            argv = record_argv(ffmpeg, url=url, out_dir=out, segment_seconds=10, record_audio=False)
            procs.append(
                subprocess.Popen(
                    argv,
                    env={"TZ": "UTC"},
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        wait_for(
            lambda: all(any((workdir / f"bare-{n}" / f"b{i}").iterdir()) for i in range(1, n + 1)),
            60,
            "bare ffmpeg recording",
        )
        return measure(lambda: [p.pid for p in procs], window)
    finally:
        for p in procs:
            p.send_signal(signal.SIGINT)
        for p in procs:
            p.wait(timeout=15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--window", type=float, default=20.0, help="seconds measured per phase")
    parser.add_argument("--height", type=int, default=720)
    args = parser.parse_args()
    most = max(args.cameras)
    with tempfile.TemporaryDirectory(prefix="heldar-bench-") as tmp:
        workdir = Path(tmp)
        rtsp_port = free_port()
        source = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "heldar.cli",
                "simcam",
                "--port",
                str(rtsp_port),
                "--streams",
                str(most),
                "--height",
                str(args.height),
                "--data-dir",
                str(workdir / "src"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert source.stdout is not None
            urls = [source.stdout.readline().strip() for _ in range(most)]
            print(f"source: heldar simcam, {most} streams {args.height}p 15 fps (not measured)")
            print(
                f"{'N':>3} {'kernel+ffmpeg cpu-s':>20} {'bare ffmpeg cpu-s':>18} {'ratio':>6} "
                f"{'kernel RSS MiB':>15}"
            )
            for n in args.cameras:
                kernel_cpu, rss = run_kernel(n, urls, args.window, workdir)
                bare_cpu = run_bare(n, urls, args.window, workdir)
                ratio = kernel_cpu / bare_cpu if bare_cpu else float("inf")
                print(
                    f"{n:>3} {kernel_cpu:>20.2f} {bare_cpu:>18.2f} {ratio:>6.2f} {rss:>15.1f}",
                    flush=True,
                )
        finally:
            source.send_signal(signal.SIGTERM)
            source.wait(timeout=15)


if __name__ == "__main__":
    main()
