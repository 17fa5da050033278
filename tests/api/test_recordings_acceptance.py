"""The recordings issue's acceptance run, end to end through the API with a real recorder:
one range while recording, exactly one gap of about the outage, and clips that cover their
window (± one keyframe interval) and report the gap they cross."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import httpx
import pytest

from heldar.settings import Settings
from heldar.simcam.server import SimCamServer
from tests.support.auth import ADMIN_PASSWORD, ADMIN_USER, FAST_HASHING
from tests.support.waiting import eventually

pytestmark = pytest.mark.slow

OUTAGE_S = 30


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        recording_enabled=True,
        bootstrap_admin_user=ADMIN_USER,
        bootstrap_admin_password=ADMIN_PASSWORD,
        **FAST_HASHING,
    )


async def _wait_seconds(seconds: float) -> None:
    end = time.monotonic() + seconds
    await eventually(lambda: time.monotonic() >= end, timeout=seconds + 5, interval=0.5)


async def test_timeline_gap_and_clips(
    client: httpx.AsyncClient, simcam: SimCamServer, settings: Settings
) -> None:
    body = {"id": "yard", "name": "Yard", "main_stream_url": simcam.url(1), "segment_seconds": 2}
    assert (await client.post("/api/v1/cameras", json=body)).status_code == 201
    began = datetime.now(UTC)
    await _wait_seconds(60)
    window = {
        "from": (began - timedelta(minutes=1)).isoformat(),
        "to": (datetime.now(UTC) + timedelta(minutes=1)).isoformat(),
    }
    timeline = (await client.get("/api/v1/cameras/yard/timeline", params=window)).json()
    assert len(timeline["ranges"]) == 1, timeline
    assert timeline["recorded_seconds"] >= 50
    status = (await client.get("/api/v1/cameras/yard")).json()["status"]
    assert 13 <= status["fps_observed"] <= 17  # the simcam sends 15 fps, measured per segment

    await simcam.stop()
    stopped = datetime.now(UTC)
    await _wait_seconds(OUTAGE_S)
    await simcam.start()

    async def resumed() -> bool:
        status = (await client.get("/api/v1/cameras/yard")).json()["status"]
        return status["state"] == "recording" and status["last_segment_at"] > stopped.isoformat()

    await eventually(resumed, timeout=60, what="recording resumes")
    await _wait_seconds(12)
    window["to"] = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    gaps = (await client.get("/api/v1/cameras/yard/gaps", params=window)).json()
    assert gaps["gap_count"] == 1, gaps
    # the outage plus ffmpeg's reconnect (backoff 1, 2, 4 … s) and its first keyframe
    assert OUTAGE_S - 3 <= gaps["total_gap_seconds"] <= OUTAGE_S + 20
    timeline = (await client.get("/api/v1/cameras/yard/timeline", params=window)).json()
    assert len(timeline["ranges"]) == 2

    inside = {
        "from": (began + timedelta(seconds=5)).isoformat(),
        "to": (began + timedelta(seconds=55)).isoformat(),
    }
    clip = (await client.post("/api/v1/cameras/yard/clip", json=inside)).json()
    assert abs(clip["covered_seconds"] - 50) <= 1.5, clip
    assert clip["gaps"] == []
    path = settings.data_dir / "clips" / "yard" / clip["filename"]
    with av.open(str(path)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert abs(frames - 50 * 15) <= 30

    gap = gaps["gaps"][0]
    across = {
        "from": (datetime.fromisoformat(gap["from"]) - timedelta(seconds=10)).isoformat(),
        "to": (datetime.fromisoformat(gap["to"]) + timedelta(seconds=5)).isoformat(),
    }
    crossing = (await client.post("/api/v1/cameras/yard/clip", json=across)).json()
    assert len(crossing["gaps"]) == 1, crossing
    assert 13 <= crossing["covered_seconds"] <= 17
