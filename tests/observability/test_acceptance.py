"""Issue 8's "must show", end to end with a real recorder: readiness quorum; stopping the simcam
flips `heldar_camera_up` and the camera's health within 10 s, `/readyz` turns 503, and an SSE
client hears `camera_offline` within a second of it being logged."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI

from heldar.settings import Settings
from heldar.simcam.server import SimCamServer
from tests.events.support import sse_messages
from tests.support.serving import serving
from tests.support.waiting import eventually


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "recording_enabled": True,
            "readyz_min_recording_percent": 100,
            "event_stream_heartbeat_s": 1,
        }
    )


async def _camera_up(client: httpx.AsyncClient, camera_id: str) -> float | None:
    text = (await client.get("/metrics")).text
    match = re.search(rf'^heldar_camera_up{{camera_id="{camera_id}"}} (\S+)$', text, re.M)
    return float(match.group(1)) if match else None


async def test_readyz_reports_the_quorum_of_cameras_expected_to_record(
    client: httpx.AsyncClient, anon_client: httpx.AsyncClient
) -> None:
    body = {"id": "dead", "name": "Dead", "main_stream_url": "rtsp://127.0.0.1:9/none"}
    assert (await client.post("/api/v1/cameras", json=body)).status_code == 201
    ready = await anon_client.get("/readyz")
    assert ready.status_code == 503
    assert ready.headers["retry-after"]
    assert ready.json() | {"reason": None} == {
        "status": "unavailable",
        "version": ready.json()["version"],
        "ready": False,
        "reason": None,
        "recording_pct": 0.0,
        "required_pct": 100.0,
    }
    assert "recording" in ready.json()["reason"]
    await client.patch("/api/v1/cameras/dead", json={"enabled": False})
    assert (await anon_client.get("/readyz")).status_code == 200


@pytest.mark.slow
async def test_stopping_the_camera_is_seen_everywhere_within_seconds(
    app: FastAPI, client: httpx.AsyncClient, anon_client: httpx.AsyncClient, simcam: SimCamServer
) -> None:
    body = {"id": "yard", "name": "Yard", "main_stream_url": simcam.url(1), "segment_seconds": 2}
    assert (await client.post("/api/v1/cameras", json=body)).status_code == 201
    await eventually(
        lambda: _camera_up(client, "yard"), timeout=30, interval=0.25, what="camera up"
    )
    assert (await anon_client.get("/readyz")).status_code == 200

    async with serving(app) as base, httpx.AsyncClient(base_url=base, timeout=15) as http:
        headers = {"Accept": "text/event-stream", "Authorization": client.headers["Authorization"]}
        async with http.stream("GET", "/api/v1/events/stream", headers=headers) as response:
            messages = sse_messages(response)
            stopped = time.monotonic()
            await simcam.stop()

            event: dict[str, object] = {}
            async with asyncio.timeout(10):
                async for message in messages:
                    if message.data is not None and message.event()["event_type"] == (
                        "camera_offline"
                    ):
                        event = message.event()
                        break
            received = datetime.now(UTC)
            logged = datetime.fromisoformat(str(event["timestamp"]))
            assert (received - logged).total_seconds() < 1.0
            assert event["camera_id"] == "yard"

    async def down() -> bool:
        health = (await client.get("/api/v1/cameras/yard/health")).json()
        return await _camera_up(client, "yard") == 0 and health["online"] is False

    await eventually(down, timeout=10, interval=0.25, what="camera down")
    assert time.monotonic() - stopped < 10
    health = (await client.get("/api/v1/cameras/yard/health")).json()
    assert health["state"] in ("offline", "connecting", "error")
    assert health["reconnects"] >= 1
    not_ready = await anon_client.get("/readyz")
    assert not_ready.status_code == 503 and not_ready.json()["recording_pct"] == 0.0
