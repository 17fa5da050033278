"""Zones over HTTP: CRUD and validation, and tracked detections posted through ingest becoming
enter / dwell / exit / crossing events, occupancy, aggregates and evidence."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import numpy as np
import pytest
import simplejpeg
from fastapi import FastAPI

from heldar.app import Kernel
from heldar.perception.budget import StreamKey
from tests.conftest import ClientAs
from tests.support.clock import FakeClock
from tests.support.waiting import eventually

LEFT_HALF = [[0.0, 0.0], [0.5, 0.0], [0.5, 1.0], [0.0, 1.0]]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def camera(client: httpx.AsyncClient) -> str:
    body = {"id": "lobby", "name": "Lobby", "main_stream_url": "rtsp://127.0.0.1:9/x"}
    assert (await client.post("/api/v1/cameras", json=body)).status_code == 201
    return "lobby"


@pytest.fixture
async def worker(app: FastAPI, client: httpx.AsyncClient) -> httpx.AsyncClient:
    key = (await client.post("/api/v1/api-keys", json={"name": "tracker"})).json()["token"]
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://127.0.0.1",
        headers={"X-API-Key": key},
    )
    yield http  # type: ignore[misc]
    await http.aclose()


async def _zone(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {"name": "left", "polygon": LEFT_HALF, **fields}
    response = await client.post("/api/v1/cameras/lobby/zones", json=body)
    assert response.status_code == 201, response.text
    zone: dict[str, Any] = response.json()
    return zone


def _box(x_center: float, bottom: float = 0.8) -> list[float]:
    return [x_center - 0.05, bottom - 0.3, 0.1, 0.3]  # the anchor is (x_center, bottom)


async def _post(
    worker: httpx.AsyncClient, frame: int, at: datetime, *tracks: tuple[str, float]
) -> None:
    body = {
        "camera_id": "lobby",
        "task_type": "person",
        "frame_id": f"f{frame}",
        "timestamp": at.isoformat(),
        "detections": [
            {"label": "person", "confidence": 0.9, "bbox": _box(x), "track_id": track}
            for track, x in tracks
        ],
    }
    response = await worker.post("/api/v1/ai/events", json=body)
    assert response.status_code == 200, response.text


WINDOW = {"from": "2026-11-25T00:00:00Z", "to": "2026-11-26T00:00:00Z"}  # around FakeClock's day


async def _zone_events(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/cameras/lobby/zone-events", params={**WINDOW, **params})
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()
    return events


# -- CRUD and validation --------------------------------------------------------------------------


async def test_zone_crud(client: httpx.AsyncClient, camera: str) -> None:
    zone = await _zone(client, labels=["person"], dwell_seconds=30, severity="warning")
    assert zone["kind"] == "region" and zone["config"]["confirm_frames"] == 2
    assert zone["polygon"] == LEFT_HALF
    line = await _zone(client, name="door", kind="line", polygon=[[0.2, 0.5], [0.8, 0.5]])
    listed = (await client.get("/api/v1/cameras/lobby/zones")).json()
    assert [z["id"] for z in listed] == [zone["id"], line["id"]]
    patched = await client.patch(
        f"/api/v1/zones/{zone['id']}", json={"config": {"direction": "ab"}, "name": "west"}
    )
    assert patched.status_code == 200
    assert patched.json()["name"] == "west" and patched.json()["config"]["confirm_frames"] == 2
    # a kind change is validated against the stored polygon: 4 points are no line
    bad_kind = await client.patch(f"/api/v1/zones/{zone['id']}", json={"kind": "line"})
    assert bad_kind.status_code == 422 and bad_kind.json()["error"] == "zone_line_points"
    assert (await client.delete(f"/api/v1/zones/{line['id']}")).status_code == 204
    assert (await client.delete(f"/api/v1/zones/{line['id']}")).status_code == 404
    assert len((await client.get("/api/v1/cameras/lobby/zones")).json()) == 1


@pytest.mark.parametrize(
    "change",
    [
        {"polygon": [[0.1, 0.1], [0.2, 0.2]]},  # a region needs 3 points
        {"polygon": [[0.1, 0.1], [0.5, 0.1], [0.9, 0.1]]},  # zero area
        {"polygon": [[0, 0], [1, 1], [1, 0], [0, 1]]},  # self-intersecting (a bow tie)
        {"polygon": [[0.1, 0.1], [0.1, 0.1], [0.5, 0.9], [0.9, 0.1]]},  # duplicate point
        {"polygon": [[0.1, 0.1], [1.5, 0.1], [0.5, 0.9]]},  # out of range
        {"polygon": [[0.1, 0.1]] * 600},  # over the vertex cap
        {"kind": "line", "polygon": LEFT_HALF},
        {"kind": "circle"},
        {"dwell_seconds": -1},
        {"config": {"confirm_frames": 0}},
        {"config": {"min_confidence": 2}},
        {"config": {"direction": "up"}},
        {"name": ""},
        {"surprise": True},
    ],
)
async def test_bad_zones_are_422_and_store_nothing(
    client: httpx.AsyncClient, camera: str, change: dict[str, Any]
) -> None:
    body = {"name": "z", "polygon": LEFT_HALF, **change}
    response = await client.post("/api/v1/cameras/lobby/zones", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]
    assert (await client.get("/api/v1/cameras/lobby/zones")).json() == []


async def test_nan_coordinates_are_refused(client: httpx.AsyncClient, camera: str) -> None:
    raw = b'{"name": "z", "polygon": [[0.1, 0.1], [NaN, 0.5], [0.9, 0.9]]}'
    response = await client.post(
        "/api/v1/cameras/lobby/zones", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert (await client.get("/api/v1/cameras/lobby/zones")).json() == []


async def test_roles_and_scope(client: httpx.AsyncClient, client_as: ClientAs, camera: str) -> None:
    zone = await _zone(client)
    viewer = await client_as("viewer")
    assert (await viewer.get("/api/v1/cameras/lobby/zones")).status_code == 200
    denied = await viewer.post(
        "/api/v1/cameras/lobby/zones", json={"name": "x", "polygon": LEFT_HALF}
    )
    assert denied.status_code == 403
    outsider = await client_as("manager", camera_ids=["elsewhere"])
    hidden = await outsider.patch(f"/api/v1/zones/{zone['id']}", json={"name": "mine"})
    assert hidden.status_code == 404 and hidden.json()["error"] == "zone_not_found"
    assert (await outsider.get("/api/v1/cameras/lobby/zone-events")).status_code == 404


# -- events from tracked detections ---------------------------------------------------------------


async def test_a_visit_enters_dwells_and_exits(
    app: FastAPI,
    client: httpx.AsyncClient,
    worker: httpx.AsyncClient,
    camera: str,
    clock: FakeClock,
) -> None:
    zone = await _zone(client, dwell_seconds=3, severity="warning")
    kernel: Kernel = app.state.kernel
    published: list[str] = []  # what the event stream, webhooks and MQTT are told
    kernel.events.subscribe(lambda event: published.append(event.event_type))
    t0 = clock.now()
    # frame 0 outside, then inside for 5 s (enter confirmed on the 2nd inside frame), then out
    path = [0.8, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.8, 0.8]
    jpeg = simplejpeg.encode_jpeg(np.zeros((90, 160, 3), np.uint8), colorspace="RGB")
    for n, x in enumerate(path):
        at = t0 + timedelta(seconds=n)
        kernel.perception.frames.publish(
            StreamKey("lobby", "sub"), jpeg, captured_at=at, width=160, height=90
        )
        await _post(worker, n, at, ("t1", x), ("t2", 0.9))  # t2 never enters

    async def three() -> list[dict[str, Any]] | bool:
        events = await _zone_events(client)
        return events if len(events) >= 3 else False

    events = await eventually(three, timeout=10, what="zone events")
    assert [e["event_type"] for e in reversed(events)] == ["enter", "dwell", "exit"]
    enter, dwell, leave = reversed(events)
    assert {e["track_id"] for e in events} == {"t1"} and enter["zone_id"] == zone["id"]
    assert enter["timestamp"] == (t0 + timedelta(seconds=2)).isoformat().replace("+00:00", "Z")
    assert dwell["dwell_seconds"] >= 3 and leave["dwell_seconds"] >= 4
    # the frame the enter came from is its evidence, served with the camera's scope
    assert enter["evidence"] and enter["evidence"].startswith("/media/snapshots/lobby/")
    evidence = await client.get(enter["evidence"])
    assert evidence.status_code == 200 and evidence.content == jpeg
    assert dwell["evidence"] is None
    # and each became an event-log entry with the zone's severity
    logged = (await client.get("/api/v1/events", params={"event_type": "zone_enter"})).json()
    assert len(logged) == 1 and logged[0]["severity"] == "warning"
    assert logged[0]["payload"]["track_id"] == "t1"
    assert [t for t in published if t.startswith("zone_")] == [
        "zone_enter",
        "zone_dwell",
        "zone_exit",
    ]
    only_exits = await _zone_events(client, event_type="exit")
    assert [e["event_type"] for e in only_exits] == ["exit"]
    assert await _zone_events(client, track_id="t2") == []
    counts = await client.get(
        "/api/v1/cameras/lobby/zone-events/aggregates",
        params={
            "bucket_minutes": 60,
            "from": (t0 - timedelta(hours=1)).isoformat(),
            "to": (t0 + timedelta(hours=1)).isoformat(),
        },
    )
    assert counts.status_code == 200, counts.text
    assert counts.json()["totals"] == {"dwell": 1, "enter": 1, "exit": 1}


async def test_presence_occupancy_and_line_crossings(
    client: httpx.AsyncClient, worker: httpx.AsyncClient, camera: str, clock: FakeClock
) -> None:
    room = await _zone(client, name="room", kind="presence", config={"confirm_frames": 1})
    door = await _zone(
        client,
        name="door",
        kind="line",
        polygon=[[0.6, 0.0], [0.6, 1.0]],
        config={"confirm_frames": 1},
    )
    t0 = clock.now()
    await _post(worker, 0, t0, ("a", 0.2), ("b", 0.3), ("c", 0.9))
    await _post(worker, 1, t0 + timedelta(seconds=1), ("a", 0.2), ("b", 0.3), ("c", 0.9))

    async def occupied() -> dict[str, Any] | bool:
        body = (await client.get("/api/v1/cameras/lobby/zones/occupancy")).json()
        return body if body["zones"] and body["zones"][0]["total"] == 2 else False

    occupancy = await eventually(occupied, timeout=10, what="occupancy 2")
    assert occupancy["zones"] == [{"zone_id": room["id"], "total": 2, "by_label": {"person": 2}}]
    # c walks across the door line and back
    for n, x in enumerate([0.5, 0.7, 0.5], start=2):
        await _post(worker, n, t0 + timedelta(seconds=n), ("c", x))

    async def crossings() -> list[str] | bool:
        events = await _zone_events(client, zone_id=door["id"])
        kinds = [e["event_type"] for e in reversed(events)]
        return kinds if len(kinds) >= 3 else False

    kinds = await eventually(crossings, timeout=10, what="three crossings")
    assert kinds in (["cross_ab", "cross_ba", "cross_ab"], ["cross_ba", "cross_ab", "cross_ba"])
    assert kinds[0] != kinds[1] != kinds[2]  # back and forth alternates


async def test_a_track_that_went_silent_gets_a_synthetic_exit(
    app: FastAPI,
    client: httpx.AsyncClient,
    worker: httpx.AsyncClient,
    camera: str,
    clock: FakeClock,
) -> None:
    await _zone(client, config={"confirm_frames": 1})
    t0 = clock.now()
    await _post(worker, 0, t0, ("t9", 0.2))
    await eventually(lambda: _zone_events(client), timeout=10, what="enter")
    kernel: Kernel = app.state.kernel
    clock.advance(kernel.settings.zone_track_timeout_s + 10)  # the worker went away

    async def exited() -> list[dict[str, Any]] | bool:
        events = await _zone_events(client)
        return events if len(events) == 2 else False

    events = await eventually(exited, timeout=10, what="the synthetic exit")
    assert events[0]["event_type"] == "exit" and events[0]["track_id"] == "t9"
