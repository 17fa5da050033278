"""Live fan-out: kernel CPU and bytes/s for 1, 10 and 50 WebSocket viewers of one camera.

A real kernel (`heldar serve`, per-message deflate off) pulls one simulated 1080p15 camera
(`heldar simcam`'s server, in this process) and fans it out to N WebSocket viewers held by this
process. For each N it measures, over a window, the kernel process's CPU (the Python fan-out),
its one ffmpeg pull's CPU, and the bytes/s the viewers received. Baseline, measured in the same
run: one bare `ffmpeg -c copy` remux of the same stream to /dev/null (what any live view costs
at minimum). Prints the per-viewer CPU increment and the ratio to the baseline.

With `--webrtc N` (needs the `webrtc` extra) the kernel also runs with `HELDAR_LIVE_WEBRTC=true`
and the same is measured for 1 and N WebRTC (WHEP) viewers — aiortc peers in this process, which
decode what they receive (their CPU is this process's, not the kernel's) — and the kernel CPU per
added WebRTC viewer is printed next to the WebSocket figure.

    .venv/bin/python bench/live_fanout.py [--viewers 1,10,50] [--window 10] [--height 1080]
                                          [--webrtc 4]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kernel_process import PASSWORD, kernel, kernel_pid

from heldar.ffmpeg.binary import find_ffmpeg
from heldar.live.pull import MOVFLAGS
from heldar.simcam.clip import ensure_clip
from heldar.simcam.server import SimCamServer

TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process (not its children)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def ffmpeg_children(pid: int) -> list[int]:
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError), open(f"/proc/{entry}/stat") as stat:
            if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


async def viewer(url: str, counter: list[int], stop: asyncio.Event) -> None:
    async with websockets.connect(url, compression=None, max_size=None) as ws:
        while not stop.is_set():
            message = await ws.recv()
            counter[0] += len(message)


async def baseline(url: str, window: float) -> float:
    """CPU share of one core used by a bare stream-copy remux of the camera."""
    proc = await asyncio.create_subprocess_exec(
        find_ffmpeg(), "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", url,
        "-map", "0:v:0", "-c", "copy", "-f", "mp4", "-movflags", MOVFLAGS, "-flush_packets", "1",
        "-y", "/dev/null", stdin=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await asyncio.sleep(3)  # connect and settle before measuring
        before = cpu_s(proc.pid)
        await asyncio.sleep(window)
        return (cpu_s(proc.pid) - before) / window
    finally:
        proc.kill()
        await proc.wait()


async def webrtc_viewer(
    http: httpx.AsyncClient, counter: list[int], ready: asyncio.Event, stop: asyncio.Event
) -> None:
    """One WHEP viewer of the main stream: counts frames until `stop`, then hangs up."""
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpReceiver, RTCSessionDescription

    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    location = None
    try:
        transceiver = pc.addTransceiver("video", direction="recvonly")
        codecs = RTCRtpReceiver.getCapabilities("video").codecs
        transceiver.setCodecPreferences([c for c in codecs if c.mimeType == "video/H264"])
        await pc.setLocalDescription(await pc.createOffer())
        view = (await http.get("/api/v1/cameras/cam/liveview", params={"profile": "main"})).json()
        answer = await http.post(
            f"{view['webrtc_url']}/whep",
            params={"token": view["token"]},
            content=pc.localDescription.sdp,
            headers={"Content-Type": "application/sdp"},
        )
        assert answer.status_code == 201, answer.text
        location = answer.headers["location"]
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer.text, type="answer"))
        track = transceiver.receiver.track
        await track.recv()
        ready.set()
        while not stop.is_set():
            await track.recv()
            counter[0] += 1
    finally:
        if location is not None:
            with contextlib.suppress(httpx.HTTPError):
                await http.delete(location)
        await pc.close()


async def measure_webrtc(
    http: httpx.AsyncClient, pid: int, n: int, window: float
) -> tuple[int, float, float, float]:
    """Like `measure`, for `n` WebRTC viewers; the last figure is frames/s received in all."""
    stop = asyncio.Event()
    counter = [0]
    readies = [asyncio.Event() for _ in range(n)]
    tasks = [asyncio.create_task(webrtc_viewer(http, counter, r, stop)) for r in readies]
    try:
        async with asyncio.timeout(30):
            await asyncio.gather(*(r.wait() for r in readies))
        await asyncio.sleep(3)  # past the start-up burst
        pulls = ffmpeg_children(pid)
        k0, f0, n0, t0 = cpu_s(pid), sum(map(cpu_s, pulls)), counter[0], time.monotonic()
        await asyncio.sleep(window)
        k1, f1, n1, t1 = cpu_s(pid), sum(map(cpu_s, pulls)), counter[0], time.monotonic()
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    span = t1 - t0
    return n, (k1 - k0) / span, (f1 - f0) / span, (n1 - n0) / span


async def run(counts: list[int], window: float, height: int, webrtc: int) -> None:
    cache = Path(tempfile.gettempdir()) / "heldar-bench-clips"
    cache.mkdir(exist_ok=True)
    clip = await ensure_clip(cache, ffmpeg=find_ffmpeg(), height=height, fps=15, seconds=4)
    async with SimCamServer(clip, port=0, streams=1) as camera:
        base_cpu = await baseline(camera.url(1), window)
        env = {"HELDAR_RECORDING_ENABLED": "false", "HELDAR_AI_SAMPLING_ENABLED": "false"}
        if webrtc:
            env["HELDAR_LIVE_WEBRTC"] = "true"
        with kernel(env) as base:
            pid = kernel_pid(base)
            assert pid is not None
            async with httpx.AsyncClient(base_url=base, timeout=30) as http:
                login = await http.post(
                    "/api/v1/auth/login", json={"username": "admin", "password": PASSWORD}
                )
                http.headers["Authorization"] = f"Bearer {login.json()['token']}"
                body = {"id": "cam", "name": "cam", "main_stream_url": camera.url(1)}
                assert (await http.post("/api/v1/cameras", json=body)).status_code == 201
                print(f"camera {height}p15 on loopback; window {window:.0f} s; 1 core = 100 %")
                print(f"baseline: bare ffmpeg remux {100 * base_cpu:.2f} % of a core")
                rows = []
                for n in counts:
                    rows.append(await measure(http, base, pid, n, window))
                rtc_rows = []
                for n in sorted({1, webrtc}) if webrtc else []:
                    rtc_rows.append(await measure_webrtc(http, pid, n, window))
        one = rows[0]
        for n, kcpu, fcpu, rate in rows:
            print(
                f"{n:3d} viewers: kernel {100 * kcpu:5.2f} %  pull ffmpeg {100 * fcpu:5.2f} %  "
                f"delivered {rate / 1e6:6.2f} MB/s  (kernel+pull = {(kcpu + fcpu) / base_cpu:4.1f}x"
                " baseline)"
            )
        last = rows[-1]
        per_viewer = None
        if last[0] > one[0]:
            per_viewer = (last[1] - one[1]) / (last[0] - one[0])
            print(
                f"per added viewer: {100 * per_viewer:.3f} % of a core "
                f"({per_viewer / base_cpu:.2f}x the bare remux baseline)"
            )
        for n, kcpu, fcpu, fps in rtc_rows:
            print(
                f"{n:3d} WebRTC viewers: kernel {100 * kcpu:5.2f} %  "
                f"pull ffmpeg {100 * fcpu:5.2f} %  received {fps:6.1f} frames/s in all"
            )
        if len(rtc_rows) == 2:
            (n1, k1, _, _), (n2, k2, _, _) = rtc_rows
            rtc_per_viewer = (k2 - k1) / (n2 - n1)
            line = f"per added WebRTC viewer: {100 * rtc_per_viewer:.3f} % of a core"
            if per_viewer:
                line += (
                    f" (WebSocket: {100 * per_viewer:.3f} %; {rtc_per_viewer / per_viewer:.1f}x)"
                )
            print(line)


async def measure(
    http: httpx.AsyncClient, base: str, pid: int, n: int, window: float
) -> tuple[int, float, float, float]:
    stop = asyncio.Event()
    counter = [0]
    tasks = []
    for _ in range(n):
        view = (await http.get("/api/v1/cameras/cam/liveview", params={"profile": "main"})).json()
        url = base.replace("http://", "ws://") + view["ws_url"]
        tasks.append(asyncio.create_task(viewer(url, counter, stop)))
    await asyncio.sleep(3)  # everyone connected and streaming
    pulls = ffmpeg_children(pid)
    k0, f0, b0, t0 = cpu_s(pid), sum(map(cpu_s, pulls)), counter[0], time.monotonic()
    await asyncio.sleep(window)
    k1, f1, b1, t1 = cpu_s(pid), sum(map(cpu_s, pulls)), counter[0], time.monotonic()
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    span = t1 - t0
    return n, (k1 - k0) / span, (f1 - f0) / span, (b1 - b0) / span


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", default="1,10,50")
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--webrtc", type=int, default=0, help="also measure 1 and N WebRTC viewers")
    args = parser.parse_args()
    counts = [int(n) for n in args.viewers.split(",")]
    asyncio.run(run(counts, args.window, args.height, args.webrtc))


if __name__ == "__main__":
    main()
