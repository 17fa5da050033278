"""End to end: a scripted worker posts a track walking into a zone of an event-mode camera
recording the simcam; the zone's enter triggers the recorder, and the recording covers the event
with its pre-roll."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from heldar.settings import Settings
from heldar.simcam.server import SimCamServer
from tests.support.waiting import eventually

pytestmark = pytest.mark.slow

PRE_ROLL_S = 6
POST_ROLL_S = 4


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"recording_enabled": True})


async def test_a_zone_enter_records_the_event_with_pre_roll(
    app: FastAPI, client: httpx.AsyncClient, simcam: SimCamServer
) -> None:
    camera = {
        "id": "door",
        "name": "Door",
        "main_stream_url": simcam.url(1),
        "record_mode": "event",
        "pre_roll_seconds": PRE_ROLL_S,
        "post_roll_seconds": POST_ROLL_S,
    }
    assert (await client.post("/api/v1/cameras", json=camera)).status_code == 201
    zone = {"name": "inside", "polygon": [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]}
    assert (await client.post("/api/v1/cameras/door/zones", json=zone)).status_code == 201
    key = (await client.post("/api/v1/api-keys", json={"name": "tracker"})).json()["token"]

    async def buffering() -> bool:
        status = (await client.get("/api/v1/cameras/door")).json()["status"]
        return bool(status["segments_written"] >= PRE_ROLL_S // 2 + 1)

    await eventually(buffering, timeout=30, interval=0.5, what="the pre-roll buffer fills")

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://127.0.0.1",
        headers={"X-API-Key": key},
    ) as worker:
        for n, x in enumerate([0.8, 0.3, 0.3]):  # outside, then inside twice: enter
            batch: dict[str, Any] = {
                "camera_id": "door",
                "task_type": "person",
                "frame_id": f"walk-{n}",
                "timestamp": datetime.now(UTC).isoformat(),
                "detections": [
                    {
                        "label": "person",
                        "confidence": 0.9,
                        "bbox": [x - 0.05, 0.5, 0.1, 0.3],
                        "track_id": "visitor",
                    }
                ],
            }
            assert (await worker.post("/api/v1/ai/events", json=batch)).status_code == 200

    async def entered() -> dict[str, Any] | bool:
        events = (await client.get("/api/v1/events", params={"event_type": "zone_enter"})).json()
        return events[0] if events else False

    enter = await eventually(entered, timeout=10, what="zone_enter")
    at = datetime.fromisoformat(enter["timestamp"])
    need_from = at - timedelta(seconds=PRE_ROLL_S - 2)  # pre-roll, to a 2 s segment boundary
    need_to = at + timedelta(seconds=POST_ROLL_S)
    window = {
        "from": (at - timedelta(minutes=5)).isoformat(),
        "to": (at + timedelta(minutes=5)).isoformat(),
    }

    async def covered() -> bool:
        timeline = (await client.get("/api/v1/cameras/door/timeline", params=window)).json()
        return any(
            datetime.fromisoformat(r["start"]) <= need_from
            and datetime.fromisoformat(r["end"]) >= need_to
            for r in timeline["ranges"]
        )

    await eventually(covered, timeout=30, interval=0.5, what="recording around the enter")
    triggers = (await client.get("/api/v1/events", params={"event_type": "trigger"})).json()
    assert any(t["payload"].get("reason") == "zone_enter" for t in triggers), triggers
