"""The sampler against a real RTSP server (simcam) and real decoder children.

Pure parts first (pacing, the record format), then the child, one `Sampler`, and the
`SamplerManager` under a real `Supervisor`.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import secrets
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import simplejpeg
from hypothesis import given
from hypothesis import strategies as st

from heldar.perception.budget import Allocation, StreamKey
from heldar.perception.frames import Frame, FrameStore
from heldar.perception.manager import Demand, SamplerManager
from heldar.perception.pacing import (
    GopMeter,
    RateGate,
    keyframes_only_next,
    keyframes_suffice,
    output_size,
)
from heldar.perception.process import DecoderOptions, DecoderProcess
from heldar.perception.records import FrameRecord, RecordError, parse_header
from heldar.perception.sampler import Sampler, SamplerConfig
from heldar.simcam.server import SimCamServer
from heldar.supervisor import Backoff, Supervisor
from tests.support.rtsp import SIMCAM_PASSWORD, with_credentials
from tests.support.waiting import eventually, processes_with

FAST = SamplerConfig(
    backoff=Backoff(initial_s=0.2, cap_s=2.0, healthy_after_s=30.0),
    stall_floor_s=10.0,
    stop_grace_s=3.0,
)
ENCODED_PASSWORD = "p%40ss"


class Events:
    """An event sink that remembers what it was told."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, dict[str, object]]] = []

    async def __call__(self, kind: str, camera_id: str, detail: dict[str, object]) -> None:
        self.seen.append((kind, camera_id, detail))

    def kinds(self) -> list[str]:
        return [kind for kind, _, _ in self.seen]


def unique_camera() -> str:
    return "pt" + secrets.token_hex(4)


async def frames_from(store: FrameStore, key: StreamKey, count: int) -> list[Frame]:
    """The next `count` frames, in order, each newer than the last (never the same one twice)."""
    got: list[Frame] = []
    after = store.last_seq(key)
    while len(got) < count:
        frame = await store.wait_newer(key, after, timeout_s=15)
        assert frame is not None, f"no frame after seq {after}"
        got.append(frame)
        after = frame.seq
    return got


def rate(frames: list[Frame]) -> float:
    span = (frames[-1].captured_at - frames[0].captured_at).total_seconds()
    return (len(frames) - 1) / span


@contextlib.asynccontextmanager
async def running(sampler: Sampler) -> AsyncIterator[Sampler]:
    task = asyncio.create_task(sampler.run())
    try:
        yield sampler
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


# -- pure parts ------------------------------------------------------------------------------


@given(st.integers(min_value=1, max_value=60), st.floats(min_value=0.1, max_value=30))
def test_the_gate_delivers_the_asked_rate_or_every_frame(source_fps: int, fps: float) -> None:
    gate = RateGate(fps)
    seconds = 30
    delivered = sum(gate.offer(i / source_fps) for i in range(seconds * source_fps))
    expected = min(fps, source_fps) * seconds
    assert expected - 2 <= delivered <= expected + 2


def test_the_gate_does_not_burst_after_a_gap() -> None:
    gate = RateGate(2)
    assert gate.offer(0.0)
    assert not gate.offer(0.1)
    assert gate.offer(10.0)  # ten seconds of nothing, then frames again
    assert not gate.offer(10.05)
    assert not gate.offer(10.2)
    assert gate.offer(10.5)


def test_gop_meter_and_the_keyframe_decision() -> None:
    meter = GopMeter()
    assert meter.interval is None
    for t in (0.0, 1.0, 2.0, None, 3.0):
        meter.observe(t)
    assert meter.interval == pytest.approx(1.0)
    assert keyframes_suffice(1.0, meter.interval)
    assert not keyframes_suffice(2.0, meter.interval)
    assert not keyframes_suffice(0.1, None)
    meter.observe(1.0)  # timestamps went backwards: start over
    assert meter.interval is None


def test_auto_mode_assumes_a_one_second_gop_until_it_has_measured() -> None:
    assert keyframes_only_next("auto", 1.0, None, None)  # start: optimistic at ≤ 1 fps
    assert not keyframes_only_next("auto", 2.0, None, None)
    assert keyframes_only_next("auto", 1.0, None, True)  # nothing measured yet: keep the mode
    assert not keyframes_only_next("auto", 1.0, 2.0, True)  # a 2 s GOP cannot give 1 fps
    assert keyframes_only_next("auto", 2.0, 0.5, False)  # a 0.5 s GOP can give 2 fps
    assert keyframes_only_next("keyframes", 30.0, 4.0, False)
    assert not keyframes_only_next("all", 0.1, 1.0, True)


def test_output_size_keeps_aspect_and_never_upscales() -> None:
    assert output_size(1920, 1080, 640) == (640, 360)
    assert output_size(640, 360, 1920) == (640, 360)
    assert output_size(1280, 720, 321) == (320, 180)


def test_records_round_trip_and_garbage_is_refused() -> None:
    record = FrameRecord(1.7e9, None, 640, 360, True, True, 1.0, b"\xff\xd8jpeg")
    encoded = record.encode()
    header = parse_header(encoded[:41])
    assert header.with_jpeg(encoded[41:]) == record
    assert FrameRecord(1.7e9, 2.5, 2, 2, False, False, None, b"x").encode()[41:] == b"x"
    with pytest.raises(RecordError):
        parse_header(b"XXXX" + encoded[4:41])
    with pytest.raises(RecordError):
        parse_header(FrameRecord(math.nan, None, 2, 2, False, False, None, b"x").encode()[:41])


# -- the child -------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "-rtsp://127.0.0.1/x", "rtsp://127.0.0.1/a b", ""]
)
async def test_the_child_refuses_what_is_not_a_stream_url(url: str) -> None:
    child = await DecoderProcess.spawn(url, DecoderOptions(1, 320), on_record=lambda r: None)
    ended = await asyncio.wait_for(child.wait(), 30)
    assert ended.reason == "usage"
    assert not ended.stopped_by_us


@pytest.mark.slow
async def test_the_child_reports_a_refused_connection(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    child = await DecoderProcess.spawn(
        f"rtsp://user:hunter2-secret@127.0.0.1:{port}/x",
        DecoderOptions(1, 320),
        on_record=lambda r: None,
    )
    ended = await asyncio.wait_for(child.wait(), 30)
    assert ended.reason == "unreachable"
    assert "refused" in ended.last_error.lower()
    assert "hunter2-secret" not in ended.stderr_tail


ORPHAN_PARENT = """
import asyncio, os, sys
from heldar.perception.process import DecoderOptions, DecoderProcess

async def main() -> None:
    child = await DecoderProcess.spawn(
        sys.argv[1], DecoderOptions(1, 320), on_record=lambda r: None, label=os.environ["LABEL"]
    )
    print(child.pid, flush=True)
    await asyncio.sleep(120)

asyncio.run(main())
"""


def has_socket(pid: int) -> bool:
    fds = Path(f"/proc/{pid}/fd")
    return any(os.readlink(fd).startswith("socket:") for fd in fds.iterdir())


@pytest.mark.slow
async def test_the_child_dies_with_its_parent(simcam: SimCamServer) -> None:
    # A stalled camera: the child blocks in open and writes nothing, so a broken stdout pipe
    # cannot be what ends it — only PR_SET_PDEATHSIG can, well before its 15 s open timeout.
    simcam.set_stalled(True)
    label = unique_camera() + ":sub"
    parent = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        ORPHAN_PARENT,
        simcam.url(1),
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "LABEL": label},  # not in argv: only the child shows it in ps
    )
    try:
        assert parent.stdout is not None
        child_pid = int(await asyncio.wait_for(parent.stdout.readline(), 30))
        assert processes_with(label) == [child_pid]
        await eventually(lambda: has_socket(child_pid), timeout=10, what="the child connecting")
    finally:
        parent.kill()  # kill -9: no cleanup code of the parent runs
        await parent.wait()
    await eventually(lambda: processes_with(label) == [], timeout=5, what="the orphan to die")


# -- one sampler -----------------------------------------------------------------------------


@pytest.mark.slow
async def test_frames_arrive_at_the_asked_rate_and_width(simcam: SimCamServer) -> None:
    store = FrameStore()
    key = StreamKey(unique_camera(), "sub")
    sampler = Sampler(key, frames=store, config=FAST)
    sampler.assign(simcam.url(1), Allocation(5.0, 320))
    async with running(sampler):
        frames = await frames_from(store, key, 16)
        assert sampler.state == "sampling"
    steady = frames[3:]  # the first frames come from the connection's start-up burst
    assert 4.0 <= rate(steady) <= 6.0
    assert [f.seq for f in frames] == list(range(frames[0].seq, frames[0].seq + 16))
    for frame in frames:
        assert (frame.width, frame.height) == (320, 180)
        assert simplejpeg.decode_jpeg_header(frame.jpeg)[:2] == (180, 320)
    assert sampler.keyframes_only is False  # 5 fps > 1 keyframe per second
    assert sampler.gop_s == pytest.approx(1.0, abs=0.05)
    assert sampler.status().frames_total >= 16
    assert sampler.state == "stopped"
    assert sampler.pid is None


@pytest.mark.slow
async def test_keyframes_only_when_the_rate_allows(simcam: SimCamServer) -> None:
    store = FrameStore()
    key = StreamKey(unique_camera(), "sub")
    sampler = Sampler(key, frames=store, config=FAST)
    sampler.assign(simcam.url(2), Allocation(1.0, 640))
    async with running(sampler):
        await eventually(lambda: sampler.keyframes_only, timeout=15, what="keyframes-only mode")
        frames = await frames_from(store, key, 4)
    assert all(f.keyframe for f in frames)
    assert 0.8 <= rate(frames) <= 1.25
    assert (frames[-1].width, frames[-1].height) == (640, 360)


@pytest.mark.slow
async def test_a_killed_decoder_restarts_and_seq_continues(simcam_auth: SimCamServer) -> None:
    store = FrameStore()
    events = Events()
    key = StreamKey(unique_camera(), "main")
    sampler = Sampler(key, frames=store, on_event=events, config=FAST)
    sampler.assign(with_credentials(simcam_auth.url(1)), Allocation(2.0, 320))
    async with running(sampler):
        before = (await frames_from(store, key, 2))[-1]
        first_pid = sampler.pid
        assert first_pid is not None
        for leak in (Path(f"/proc/{first_pid}/cmdline"), Path(f"/proc/{first_pid}/environ")):
            text = leak.read_bytes().decode("utf-8", "replace")
            assert SIMCAM_PASSWORD not in text
            assert ENCODED_PASSWORD not in text
        os.kill(first_pid, signal.SIGKILL)
        after = (await frames_from(store, key, 1))[0]
        assert sampler.pid not in (None, first_pid)
        assert sampler.spawns == 2
        await eventually(lambda: "sampler_online" in events.kinds(), timeout=5)
    assert after.seq > before.seq
    assert events.kinds() == ["sampler_offline", "sampler_online"]
    _, camera_id, detail = events.seen[0]
    assert camera_id == key.camera_id
    assert detail["reason"] == "killed"
    assert detail["exit_code"] == -signal.SIGKILL
    assert detail["stream_profile"] == "main"
    assert SIMCAM_PASSWORD not in str(events.seen)
    assert ENCODED_PASSWORD not in str(events.seen)


@pytest.mark.slow
async def test_wrong_credentials_are_an_error_without_the_password(
    simcam_auth: SimCamServer,
) -> None:
    events = Events()
    key = StreamKey(unique_camera(), "sub")
    sampler = Sampler(key, frames=FrameStore(), on_event=events, config=FAST)
    wrong = "wr0ng-pass:word"
    sampler.assign(with_credentials(simcam_auth.url(1), password=wrong), Allocation(1.0, 320))
    async with running(sampler):
        await eventually(lambda: events.seen, timeout=15, what="an event")
        await eventually(lambda: sampler.state == "error", timeout=5)
        assert sampler.last_error is not None
        assert "401" in sampler.last_error
    kind, _, detail = events.seen[0]
    assert kind == "sampler_offline"
    assert detail["reason"] == "auth_failed"
    for secret in (wrong, "wr0ng-pass%3Aword", SIMCAM_PASSWORD):
        assert secret not in str(events.seen)
        assert secret not in str(sampler.last_error)


@pytest.mark.slow
async def test_a_stalled_stream_is_killed_and_recovers(simcam: SimCamServer) -> None:
    store = FrameStore()
    events = Events()
    key = StreamKey(unique_camera(), "sub")
    config = SamplerConfig(backoff=FAST.backoff, stall_floor_s=2.0, stop_grace_s=3.0)
    sampler = Sampler(key, frames=store, on_event=events, config=config)
    sampler.assign(simcam.url(1), Allocation(2.0, 320))
    async with running(sampler):
        await frames_from(store, key, 2)
        stalled_pid = sampler.pid
        simcam.set_stalled(True)
        await eventually(lambda: events.seen, timeout=10, what="sampler_offline")
        assert events.seen[0][2]["reason"] == "stalled"
        assert stalled_pid not in processes_with(str(key))  # killed and reaped
        simcam.set_stalled(False)
        await frames_from(store, key, 2)
        await eventually(lambda: "sampler_online" in events.kinds(), timeout=5)
        assert sampler.state == "sampling"


# -- the manager -----------------------------------------------------------------------------


@pytest.fixture
async def manager() -> AsyncIterator[SamplerManager]:
    sampler_manager = SamplerManager(FrameStore(), max_total_fps=40, config=FAST)
    async with Supervisor() as supervisor:
        supervisor.start(sampler_manager)
        yield sampler_manager


async def watch_children(marker: str, seen: list[int], stop: asyncio.Event) -> None:
    """Record the number of live decoders whose command line contains `marker`, until `stop`."""
    while not stop.is_set():
        seen.append(len(processes_with(marker)))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.02)


@pytest.mark.slow
async def test_rebalancing_never_runs_two_decoders_for_one_stream(
    manager: SamplerManager, simcam: SimCamServer
) -> None:
    camera = unique_camera()
    key = StreamKey(camera, "sub")
    marker = f"{camera}:sub"
    counts: list[int] = []
    stop = asyncio.Event()
    watcher = asyncio.create_task(watch_children(marker, counts, stop))
    pids = set()
    steps = [
        [Demand(camera, "sub", simcam.url(1), 2, 320)],
        [Demand(camera, "sub", simcam.url(1), 4, 320)],  # rate changes
        [
            Demand(camera, "sub", simcam.url(1), 4, 480),
            Demand(camera, "sub", simcam.url(1), 1, 320),
        ],
        [Demand(camera, "sub", simcam.url(2), 4, 480)],  # URL changes
        [],  # the last task deleted
        [Demand(camera, "sub", simcam.url(2), 3, 320)],  # and one created again
    ]
    try:
        for demands in steps:
            await manager.apply(demands)
            if not demands:
                assert manager.status() == []
                assert processes_with(marker) == []
                continue
            sampler = await eventually(lambda: manager.sampler(key), timeout=5)
            await eventually(
                lambda s=sampler: s.pid not in pids and s.state == "sampling",  # type: ignore[misc]
                timeout=15,
                what="a new decoder delivering",
            )
            pids.add(sampler.pid)
            assert processes_with(marker) == [sampler.pid]
    finally:
        stop.set()
        await watcher
    assert max(counts) == 1
    assert counts.count(1) > 10  # the watcher did see the decoders
    assert len(pids) == 5  # one child per real change; the merged demand kept 4 fps / 480 px
    rows = manager.status()
    assert [(r.camera_id, r.stream_profile, r.fps, r.width) for r in rows] == [
        (camera, "sub", 3.0, 320)
    ]


@pytest.mark.slow
async def test_the_budget_is_shared_and_stopping_reaps_every_child(
    simcam: SimCamServer,
) -> None:
    cameras = [unique_camera() for _ in range(4)]
    store = FrameStore()
    manager = SamplerManager(store, max_total_fps=6, config=FAST)

    def demands(n: int) -> list[Demand]:
        return [Demand(c, "sub", simcam.url(1 + i % 2), 10, 320) for i, c in enumerate(cameras[:n])]

    async def measured_rates(n: int) -> list[float]:
        keys = [StreamKey(c, "sub") for c in cameras[:n]]
        for key in keys:  # connected, and past the start-up burst
            await frames_from(store, key, 2)
        batches = await asyncio.gather(*(frames_from(store, key, 5) for key in keys))
        return [rate(batch) for batch in batches]

    async with Supervisor() as supervisor:
        supervisor.start(manager)
        await manager.apply(demands(3))
        assert [r.fps for r in manager.status()] == [2.0, 2.0, 2.0]
        for measured in await measured_rates(3):
            assert 1.6 <= measured <= 2.4
        await manager.apply(demands(4))
        assert [r.fps for r in manager.status()] == [1.5] * 4
        for measured in await measured_rates(4):
            assert 1.2 <= measured <= 1.8
        assert all(r.state == "sampling" for r in manager.status())
        assert sum(len(processes_with(f"{c}:sub")) for c in cameras) == 4
    assert {r.state for r in manager.status()} == {"stopped"}
    assert [processes_with(f"{c}:sub") for c in cameras] == [[]] * 4


@pytest.mark.slow
async def test_streams_past_the_budget_are_exhausted_and_get_no_decoder(
    simcam: SimCamServer,
) -> None:
    camera = unique_camera()
    small = SamplerManager(FrameStore(), max_total_fps=0.5, config=FAST)
    async with Supervisor() as supervisor:
        supervisor.start(small)
        await small.apply([Demand(f"{camera}{i}", "sub", simcam.url(1), 1, 320) for i in range(3)])
        await eventually(
            lambda: (
                [r.state for r in small.status()]
                == ["sampling", "budget_exhausted", "budget_exhausted"]
            ),
            timeout=15,
        )
        rows = small.status()
        assert [r.fps for r in rows] == [0.5, 0.0, 0.0]
        assert processes_with(f"{camera}0:sub") != []
        assert processes_with(f"{camera}1:sub") == []
        assert processes_with(f"{camera}2:sub") == []
