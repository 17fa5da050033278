"""Recording over HTTP: camera status, schedules, triggers, events — with a real recorder."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from heldar.settings import Settings
from heldar.simcam.server import SimCamServer
from tests.conftest import ClientAs
from tests.support.auth import ADMIN_PASSWORD, ADMIN_USER, FAST_HASHING
from tests.support.waiting import eventually, processes_with


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Recording on: every camera in this module points at 127.0.0.1 only."""
    return Settings(
        data_dir=tmp_path / "data",
        recording_enabled=True,
        schedule_check_interval_s=1.0,
        bootstrap_admin_user=ADMIN_USER,
        bootstrap_admin_password=ADMIN_PASSWORD,
        **FAST_HASHING,
    )


async def _state(client: httpx.AsyncClient, camera_id: str) -> str:
    camera = (await client.get(f"/api/v1/cameras/{camera_id}")).json()
    return str(camera["status"]["state"])


@pytest.mark.slow
async def test_camera_records_and_reports_status(
    client: httpx.AsyncClient, simcam: SimCamServer, settings: Settings
) -> None:
    created = await client.post(
        "/api/v1/cameras",
        json={
            "id": "lobby",
            "name": "Lobby",
            "main_stream_url": simcam.url(1),
            "segment_seconds": 2,
        },
    )
    assert created.status_code == 201, created.text

    async def recording() -> bool:
        return await _state(client, "lobby") == "recording"

    await eventually(recording, timeout=20, what="recording")
    camera = (await client.get("/api/v1/cameras/lobby")).json()
    assert camera["status"]["pid"] in processes_with(
        str(settings.data_dir / "recordings" / "lobby")
    )
    listed = (await client.get("/api/v1/cameras")).json()
    assert listed[0]["status"]["state"] == "recording"
    events = (await client.get("/api/v1/events", params={"camera_id": "lobby"})).json()
    assert "recording_started" in [e["event_type"] for e in events]
    # disabling stops the recorder at once; deleting leaves no ffmpeg behind
    patched = await client.patch("/api/v1/cameras/lobby", json={"record_enabled": False})
    assert patched.status_code == 200

    async def disabled() -> bool:
        return await _state(client, "lobby") == "disabled"

    await eventually(disabled, timeout=10, what="disabled")
    assert processes_with(str(settings.data_dir / "recordings" / "lobby")) == []
    assert (await client.delete("/api/v1/cameras/lobby")).status_code == 204


@pytest.mark.slow
async def test_record_trigger(client: httpx.AsyncClient, simcam: SimCamServer) -> None:
    await client.post(
        "/api/v1/cameras",
        json={
            "id": "door",
            "name": "Door",
            "main_stream_url": simcam.url(1),
            "record_mode": "event",
            "post_roll_seconds": 7,
        },
    )
    await client.post(
        "/api/v1/cameras",
        json={
            "id": "hall",
            "name": "Hall",
            "main_stream_url": simcam.url(2),
            "record_enabled": False,
        },
    )
    fired = await client.post("/api/v1/cameras/door/record-trigger", json={"reason": "door opened"})
    assert fired.status_code == 200, fired.text
    body = fired.json()
    assert body["triggered"] is True
    assert body["post_roll_seconds"] == 7
    assert body["window_end"] is not None
    again = (await client.post("/api/v1/cameras/door/record-trigger")).json()
    assert again["window_end"] >= body["window_end"]
    noop = (await client.post("/api/v1/cameras/hall/record-trigger")).json()
    assert noop["triggered"] is False
    missing = await client.post("/api/v1/cameras/nope/record-trigger")
    assert missing.status_code == 404
    events = (await client.get("/api/v1/events", params={"event_type": "trigger"})).json()
    assert len(events) == 1
    assert events[0]["payload"]["reason"] == "door opened"


async def test_schedules_crud_and_validation(
    client: httpx.AsyncClient, client_as: ClientAs
) -> None:
    await client.post(
        "/api/v1/cameras",
        json={
            "id": "yard",
            "name": "Yard",
            "main_stream_url": "rtsp://127.0.0.1:9/none",
            "record_mode": "scheduled",
            "record_enabled": False,
        },
    )
    url = "/api/v1/cameras/yard/schedules"
    created = await client.post(
        url, json={"days": [4, 0, 0], "time_start": "22:00", "time_end": "06:00"}
    )
    assert created.status_code == 201, created.text
    schedule = created.json()
    assert schedule["days"] == [0, 4]
    assert schedule["enabled"] is True
    for bad in (
        {"days": [7], "time_start": "08:00", "time_end": "09:00"},
        {"days": [1], "time_start": "8:00", "time_end": "09:00"},
        {"days": [1], "time_start": "08:00", "time_end": "24:00"},
        {"days": [1], "time_start": "08:00", "time_end": "08:00"},
        {"days": [1], "time_start": "08:00", "time_end": "09:00", "command": "rm"},
    ):
        response = await client.post(url, json=bad)
        assert response.status_code == 422, (bad, response.text)
    patched = await client.patch(f"/api/v1/schedules/{schedule['id']}", json={"enabled": False})
    assert patched.json()["enabled"] is False
    empty = await client.patch(f"/api/v1/schedules/{schedule['id']}", json={"time_end": "22:00"})
    assert empty.status_code == 422
    assert empty.json()["error"] == "invalid_schedule"
    listed = (await client.get(url)).json()
    assert [s["time_end"] for s in listed] == ["06:00"]

    viewer = await client_as("viewer")
    assert (await viewer.get(url)).status_code == 200
    denied = await viewer.post(url, json={"days": [1], "time_start": "08:00", "time_end": "09:00"})
    assert denied.status_code == 403
    scoped = await client_as("manager", camera_ids=["other"])
    hidden = await scoped.patch(f"/api/v1/schedules/{schedule['id']}", json={"enabled": True})
    assert hidden.status_code == 404
    assert hidden.json()["error"] == "camera_not_found"

    assert (await client.delete(f"/api/v1/schedules/{schedule['id']}")).status_code == 204
    gone = await client.delete(f"/api/v1/schedules/{schedule['id']}")
    assert gone.status_code == 404
    assert gone.json()["error"] == "schedule_not_found"
    assert (await client.get("/api/v1/cameras/nope/schedules")).status_code == 404


async def test_events_query_bounds(client: httpx.AsyncClient) -> None:
    for params in (
        {"limit": 0},
        {"limit": 5001},
        {"camera_id": "../x"},
        {"severity": "loud"},
        {"before_id": 0},
    ):
        response = await client.get("/api/v1/events", params=params)
        assert response.status_code == 422, params
    assert (await client.get("/api/v1/events")).json() == []
