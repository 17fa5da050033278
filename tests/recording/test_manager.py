"""Record modes, schedules and shutdown at the manager level, with real ffmpeg."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from heldar.cameras.models import CameraCreate
from heldar.cameras.registry import CameraRegistry
from heldar.clock import SystemClock
from heldar.events.log import EventLog
from heldar.ffmpeg.binary import find_ffmpeg
from heldar.recording.manager import RecorderConfig, RecorderManager
from heldar.secretbox import SecretBox
from heldar.simcam.server import SimCamServer
from heldar.store import recording as sql
from heldar.store.engine import Store
from heldar.supervisor import Supervisor
from tests.recording.conftest import Stack
from tests.recording.media import decodable_frames
from tests.support.waiting import eventually, processes_with

pytestmark = pytest.mark.slow


async def _schedule(stack: Stack, camera_id: str, start: str, end: str) -> None:
    async with stack.store.write() as conn:
        await sql.insert_schedule(
            conn,
            camera_id,
            {"days": list(range(7)), "time_start": start, "time_end": end, "enabled": True},
            datetime.now().astimezone(),
        )


async def test_scheduled_camera_records_only_inside_its_window(
    stack: Stack, simcam: SimCamServer
) -> None:
    now = datetime.now().astimezone()
    inside = (now - timedelta(minutes=5), now + timedelta(minutes=5))
    outside = (now + timedelta(hours=2), now + timedelta(hours=3))
    await stack.cameras.create(
        CameraCreate(
            id="in",
            name="in",
            main_stream_url=simcam.url(1),
            record_mode="scheduled",
            segment_seconds=2,
        )
    )
    await stack.cameras.create(
        CameraCreate(
            id="out",
            name="out",
            main_stream_url=simcam.url(2),
            record_mode="scheduled",
            segment_seconds=2,
        )
    )
    await _schedule(stack, "in", f"{inside[0]:%H:%M}", f"{inside[1]:%H:%M}")
    await _schedule(stack, "out", f"{outside[0]:%H:%M}", f"{outside[1]:%H:%M}")
    stack.recorder.wake()
    await eventually(lambda: stack.recorder.status("in").state == "recording", timeout=15)
    await eventually(lambda: stack.recorder.status("out").state == "idle", timeout=5)
    assert processes_with(str(stack.data_dir / "recordings" / "out") + "/") == []
    # the watcher leaves a recording camera alone mid-window
    recorder = stack.recorder.recorder("in")
    assert recorder is not None
    await stack.recorder.reconcile_all()
    await stack.recorder.reconcile_all()
    assert recorder.spawns == 1


async def test_trigger_is_a_noop_for_continuous_cameras(stack: Stack, simcam: SimCamServer) -> None:
    await stack.add("c", simcam.url(1))
    result = await stack.recorder.trigger("c")
    assert result.triggered is False
    assert result.window_end is None


async def test_shutdown_finalizes_every_ffmpeg(tmp_path: Path, simcam: SimCamServer) -> None:
    data_dir = tmp_path / "data"
    store = Store(f"sqlite:///{tmp_path / 'h.db'}")
    await store.migrate()
    clock = SystemClock()
    cameras = CameraRegistry(store, SecretBox(None))
    manager = RecorderManager(
        RecorderConfig(data_dir=data_dir, ffmpeg=find_ffmpeg()),
        store=store,
        cameras=cameras,
        events=EventLog(store, clock),
        clock=clock,
    )
    try:
        async with Supervisor(clock=clock) as supervisor:
            supervisor.start(manager)
            for n in (1, 2):
                await cameras.create(
                    CameraCreate(
                        id=f"s{n}", name=f"s{n}", main_stream_url=simcam.url(n), segment_seconds=60
                    )
                )
                await manager.reconcile(f"s{n}")
            for n in (1, 2):
                await eventually(
                    lambda n=n: manager.status(f"s{n}").state == "recording",
                    timeout=15,  # type: ignore[misc]
                )
            # let each in-progress segment hold a few fragments
            await eventually(
                lambda: all(
                    sum(p.stat().st_size for p in (data_dir / "recordings" / f"s{n}").glob("*.mp4"))
                    > 100_000
                    for n in (1, 2)
                ),
                timeout=15,
            )
            stopping = time.monotonic()
        assert time.monotonic() - stopping < 10
        assert processes_with(str(data_dir / "recordings") + "/") == []
        for n in (1, 2):
            (last,) = sorted((data_dir / "recordings" / f"s{n}").glob("*.mp4"))
            assert decodable_frames(last) >= 15  # finalized cleanly: decodes to the end
    finally:
        await store.close()


async def test_mirror_is_byte_identical_and_a_broken_mirror_never_stops_recording(
    tmp_path: Path, simcam: SimCamServer
) -> None:
    data_dir = tmp_path / "data"
    mirror = tmp_path / "mirror"
    store = Store(f"sqlite:///{tmp_path / 'h.db'}")
    await store.migrate()
    clock = SystemClock()
    cameras = CameraRegistry(store, SecretBox(None))
    manager = RecorderManager(
        RecorderConfig(data_dir=data_dir, ffmpeg=find_ffmpeg(), mirror_dir=mirror),
        store=store,
        cameras=cameras,
        events=EventLog(store, clock),
        clock=clock,
    )
    try:
        async with Supervisor(clock=clock) as supervisor:
            supervisor.start(manager)
            for camera_id, url in (("m", simcam.url(1)), ("bad", simcam.url(2))):
                await cameras.create(
                    CameraCreate(
                        id=camera_id,
                        name=camera_id,
                        main_stream_url=url,
                        segment_seconds=2,
                        mirror_enabled=True,
                    )
                )
            # camera 'bad': its mirror directory cannot be created (a file is in the way)
            mirror.mkdir()
            (mirror / "bad").write_text("in the way")
            await manager.reconcile("m")
            await manager.reconcile("bad")
            for camera_id in ("m", "bad"):
                await eventually(
                    lambda c=camera_id: manager.status(c).segments_written >= 3,  # type: ignore[misc]
                    timeout=20,
                )
        primary = sorted((data_dir / "recordings" / "m").glob("*.mp4"))
        copies = sorted((mirror / "m").glob("*.mp4"))
        assert [p.name for p in copies] == [p.name for p in primary]
        for original, copy in zip(primary, copies, strict=True):
            assert original.read_bytes() == copy.read_bytes()
        assert len(sorted((data_dir / "recordings" / "bad").glob("*.mp4"))) >= 3
    finally:
        await store.close()
