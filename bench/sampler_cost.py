"""Sampler cost: CPU-seconds to deliver 1 frame/s from a 1080p15 stream with a 1 s GOP.

`heldar simcam --height 1080` serves the stream (a separate process whose CPU is not counted).
Each method runs in turn; once it has delivered its first frame, its CPU is measured over the
same window (default 60 s):
  reference: `ffmpeg -rtsp_transport tcp -i URL -vf fps=1 -update 1 -y latest.jpg`, the
             reference's method (decodes every frame, encodes one JPEG per second);
  all:       Heldar's `Sampler`, its decoder child forced to decode every frame and drop;
  auto:      Heldar's `Sampler` as the kernel runs it (keyframes only when they suffice).
Window CPU is utime + stime of the child from /proc/<pid>/stat, plus for the sampler the bench
process's own CPU (the event loop that reads and stores the frames). "Incl. start-up" is the
rusage of the reaped child from spawn to exit (plus the bench process for the sampler). It
prints each figure per minute, the frames delivered, and the steady-state ratio reference /
sampler (target >= 3.5).

    .venv/bin/python bench/sampler_cost.py [--seconds 60] [--width 1920]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from heldar.ffmpeg.binary import find_ffmpeg
from heldar.perception.budget import Allocation, StreamKey
from heldar.perception.frames import FrameStore
from heldar.perception.sampler import Sampler, SamplerConfig

TARGET_RATIO = 3.5
TICKS = os.sysconf("SC_CLK_TCK")
START_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def proc_cpu(pid: int) -> float:
    """utime + stime of one live process (its own, not its children's)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


@dataclass
class Figure:
    """One method's cost: steady state over the window, and everything from spawn to reap."""

    window_cpu: float
    total_cpu: float
    frames: int
    detail: str = ""


def run_ffmpeg(url: str, seconds: float, workdir: Path) -> Figure:
    out = workdir / "latest.jpg"
    argv = [find_ffmpeg(), "-nostdin", "-hide_banner", "-loglevel", "error"]
    argv += ["-rtsp_transport", "tcp", "-i", url, "-vf", "fps=1", "-update", "1", "-y", str(out)]
    before = cpu(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not out.exists():  # warm-up: connected and delivering
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("ffmpeg wrote no frame")
            time.sleep(0.02)
        writes, last = 0, out.stat().st_mtime_ns
        start = proc_cpu(proc.pid)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(0.02)
            if (mtime := out.stat().st_mtime_ns) != last:
                last, writes = mtime, writes + 1
        window = proc_cpu(proc.pid) - start
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=15)
    return Figure(window, cpu(resource.RUSAGE_CHILDREN) - before, writes)


async def run_sampler(url: str, seconds: float, width: int, mode: str) -> Figure:
    store = FrameStore()
    key = StreamKey("bench", "main")
    sampler = Sampler(key, frames=store, config=SamplerConfig(mode=mode))
    sampler.assign(url, Allocation(1.0, width))
    before = cpu(resource.RUSAGE_CHILDREN) + cpu(resource.RUSAGE_SELF)
    task = asyncio.create_task(sampler.run())
    try:
        first = await store.wait_newer(key, None, START_TIMEOUT_S)
        pid = sampler.pid
        if first is None or pid is None:
            raise SystemExit(f"the sampler delivered no frame ({sampler.last_error})")
        start = proc_cpu(pid) + cpu(resource.RUSAGE_SELF)
        await asyncio.sleep(seconds)
        if sampler.pid != pid:
            raise SystemExit("the decoder restarted during the window")
        window = proc_cpu(pid) + cpu(resource.RUSAGE_SELF) - start
        frames = store.last_seq(key) - first.seq
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    total = cpu(resource.RUSAGE_CHILDREN) + cpu(resource.RUSAGE_SELF) - before
    decoded = "keyframes only" if sampler.keyframes_only else "every frame"
    return Figure(window, total, frames, decoded)


def start_simcam(workdir: Path) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    argv = [sys.executable, "-m", "heldar.cli", "simcam", "--port", str(port)]
    argv += ["--height", "1080", "--fps", "15", "--data-dir", str(workdir / "src")]
    source = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert source.stdout is not None
    url = source.stdout.readline().strip()  # printed once the clip is rendered and served
    if not url:
        raise SystemExit("heldar simcam did not start")
    return source, url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="window per measurement")
    parser.add_argument("--width", type=int, default=1920, help="width the sampler delivers")
    args = parser.parse_args()
    per_min = 60.0 / args.seconds
    with tempfile.TemporaryDirectory(prefix="heldar-bench-") as tmp:
        workdir = Path(tmp)
        source, url = start_simcam(workdir)
        try:
            print(f"source: heldar simcam 1920x1080 15 fps, 1 s GOP (not measured); {url}")
            print(f"window: {args.seconds:.0f} s of steady state each, 1 frame/s asked")
            print(
                f"{'method':<48} {'cpu-s/min':>9} {'window cpu-s':>12} "
                f"{'incl. start-up':>14} {'frames':>6}"
            )
            figures = {"reference": run_ffmpeg(url, args.seconds, workdir)}
            for mode in ("all", "auto"):
                figures[mode] = asyncio.run(run_sampler(url, args.seconds, args.width, mode))
            labels = {
                "reference": "ffmpeg -vf fps=1 -update 1 (reference, 1920 px)",
                "all": f"heldar sampler, all ({figures['all'].detail}), {args.width} px",
                "auto": f"heldar sampler, auto ({figures['auto'].detail}), {args.width} px",
            }
            for name, fig in figures.items():
                print(
                    f"{labels[name]:<48} {fig.window_cpu * per_min:>9.2f} {fig.window_cpu:>12.2f} "
                    f"{fig.total_cpu:>14.2f} {fig.frames:>6}"
                )
            base, ours = figures["reference"], figures["auto"]
            ratio = base.window_cpu / ours.window_cpu if ours.window_cpu else float("inf")
            verdict = "ok" if ratio >= TARGET_RATIO else "BELOW TARGET"
            print(f"ratio reference / sampler, steady state: {ratio:.1f}x "
                  f"(target >= {TARGET_RATIO}x: {verdict})")  # fmt: skip
            print(f"ratio reference / sampler, start-up included: "
                  f"{base.total_cpu / ours.total_cpu:.1f}x")  # fmt: skip
        finally:
            source.send_signal(signal.SIGTERM)
            source.wait(timeout=15)


if __name__ == "__main__":
    main()
