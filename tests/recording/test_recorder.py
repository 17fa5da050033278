"""The recorder against real RTSP servers and a real ffmpeg: segments, outages, kills, shutdown."""

from __future__ import annotations

import os
import signal
import time

import pytest

from heldar.simcam.server import SimCamServer
from tests.recording.conftest import Stack
from tests.recording.media import decodable_frames, duration_s
from tests.support.rtsp import SIMCAM_PASSWORD, SIMCAM_USER
from tests.support.waiting import eventually, processes_with

pytestmark = pytest.mark.slow


def _marker(stack: Stack, camera_id: str, kind: str = "recordings") -> str:
    return str(stack.data_dir / kind / camera_id) + "/"


async def test_continuous_camera_records_playable_segments(
    stack: Stack, simcam: SimCamServer
) -> None:
    started = time.monotonic()
    await stack.add("cam", simcam.url(1), segment_seconds=2)
    await eventually(
        lambda: stack.recorder.status("cam").segments_written >= 5, timeout=15, what="5 segments"
    )
    assert time.monotonic() - started < 15
    status = stack.recorder.status("cam")
    assert status.state == "recording"
    assert status.pid is not None
    assert status.bitrate_kbps is not None
    assert status.bitrate_kbps > 0
    assert processes_with(_marker(stack, "cam")) == [status.pid]
    closed = stack.segments("cam")[:-1]  # the newest one is still being written
    assert len(closed) >= 5
    # The first segment of a run also holds what ffmpeg buffered while probing the stream.
    for path in closed[1:5]:
        assert abs(duration_s(path) - 2.0) <= 0.5, path.name
        assert decodable_frames(path) >= 20
    events = await stack.events.list(camera_id="cam")
    assert "recording_started" in [e.event_type for e in events]


async def test_third_party_server_is_recorded(stack: Stack, gst_rtsp_server: str) -> None:
    await stack.add("gst", gst_rtsp_server, segment_seconds=2)
    await eventually(
        lambda: stack.recorder.status("gst").segments_written >= 3, timeout=20, what="3 segments"
    )
    closed = stack.segments("gst")[:-1]
    assert decodable_frames(closed[-1]) >= 20
    assert abs(duration_s(closed[-1]) - 2.0) <= 0.5


async def test_outage_goes_offline_and_recovers_by_itself(
    stack: Stack, simcam_auth: SimCamServer
) -> None:
    await stack.add(
        "gate",
        simcam_auth.url(1),
        segment_seconds=2,
        username=SIMCAM_USER,
        password=SIMCAM_PASSWORD,
    )
    await eventually(lambda: stack.recorder.status("gate").state == "recording", timeout=15)
    before = stack.recorder.status("gate").segments_written
    await simcam_auth.stop()
    stopped_at = time.monotonic()
    await eventually(lambda: stack.recorder.status("gate").state == "offline", timeout=10)
    assert time.monotonic() - stopped_at < 10
    events = await stack.events.list(camera_id="gate", event_type="camera_offline")
    assert events, "a camera_offline event"
    for event in events:
        text = str(event.payload)
        assert SIMCAM_PASSWORD not in text
        assert "p%40ss" not in text
    # 20 s without a camera, then it comes back on the same port.
    await eventually(lambda: time.monotonic() - stopped_at >= 20, timeout=25, interval=0.5)
    await simcam_auth.start()
    await eventually(
        lambda: stack.recorder.status("gate").segments_written >= before + 2,
        timeout=45,
        what="recording resumes",
    )
    status = stack.recorder.status("gate")
    assert status.reconnects >= 1
    assert status.last_error is None or SIMCAM_PASSWORD not in status.last_error
    assert len(processes_with(_marker(stack, "gate"))) == 1


async def test_killed_ffmpeg_is_replaced_and_its_file_stays_readable(
    stack: Stack, simcam: SimCamServer
) -> None:
    await stack.add("k", simcam.url(1), segment_seconds=4)
    await eventually(lambda: stack.recorder.status("k").segments_written >= 1, timeout=15)
    recorder = stack.recorder.recorder("k")
    assert recorder is not None
    first_pid = stack.recorder.status("k").pid
    assert first_pid is not None
    await eventually(lambda: len(stack.segments("k")) >= 2, timeout=10)
    partial = stack.segments("k")[-1]
    await eventually(lambda: partial.stat().st_size > 50_000, timeout=10, what="some fragments")
    os.kill(first_pid, signal.SIGKILL)
    killed_at = time.monotonic()
    await eventually(
        lambda: (p := stack.recorder.status("k").pid) is not None and p != first_pid,
        timeout=10,
        what="a new ffmpeg",
    )
    assert time.monotonic() - killed_at < 5  # first backoff step is 1 s
    assert decodable_frames(partial, truncated=True) >= 15
    await eventually(lambda: stack.recorder.status("k").state == "recording", timeout=15)
    assert processes_with(_marker(stack, "k")) == [stack.recorder.status("k").pid]
    assert recorder.spawns == 2


async def test_disabling_and_deleting_stop_ffmpeg(stack: Stack, simcam: SimCamServer) -> None:
    from heldar.cameras.models import CameraUpdate

    await stack.add("d", simcam.url(2), segment_seconds=2)
    await eventually(lambda: stack.recorder.status("d").state == "recording", timeout=15)
    await stack.cameras.update("d", CameraUpdate(record_enabled=False))
    await stack.recorder.reconcile("d")
    await eventually(lambda: stack.recorder.status("d").state == "disabled", timeout=10)
    assert processes_with(_marker(stack, "d")) == []
    await stack.cameras.update("d", CameraUpdate(record_enabled=True))
    await stack.recorder.reconcile("d")
    await eventually(lambda: stack.recorder.status("d").state == "recording", timeout=15)
    await stack.cameras.delete("d")
    await stack.recorder.reconcile("d")
    assert processes_with(_marker(stack, "d")) == []
    assert stack.recorder.recorder("d") is None
