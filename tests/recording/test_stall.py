"""A hung camera (TCP open, no data) is detected by lack of progress and its ffmpeg restarted."""

from __future__ import annotations

import pytest

from heldar.simcam.server import SimCamServer
from tests.recording.conftest import Stack
from tests.support.waiting import eventually

pytestmark = pytest.mark.slow


@pytest.fixture
def recorder_options() -> dict[str, object]:
    return {"stall_floor_s": 4.0}  # stall limit = max(3 x 2 s, 4 s) = 6 s


async def test_stalled_stream_is_killed_and_restarted(stack: Stack, simcam: SimCamServer) -> None:
    await stack.add("hung", simcam.url(1), segment_seconds=2)
    await eventually(lambda: stack.recorder.status("hung").state == "recording", timeout=15)
    recorder = stack.recorder.recorder("hung")
    assert recorder is not None
    simcam.set_stalled(True)
    await eventually(lambda: recorder.spawns >= 2, timeout=20, what="a restart after the stall")
    events = await stack.events.list(camera_id="hung", event_type="recorder_stalled")
    assert len(events) == 1
    assert events[0].payload["stall_seconds"] == 6
    simcam.set_stalled(False)
    before = stack.recorder.status("hung").segments_written
    await eventually(
        lambda: stack.recorder.status("hung").segments_written >= before + 2, timeout=30
    )
    assert stack.recorder.status("hung").state == "recording"
