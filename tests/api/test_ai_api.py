"""Perception over HTTP: AI tasks, discovery, leases, frames with tickets, ingest, detections.

Frames come from the kernel's own `FrameStore` (published here as a sampler would); the sampler
itself, against a real RTSP server, is tested in tests/perception.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from heldar.app import Kernel
from heldar.perception.budget import StreamKey
from tests.conftest import ClientAs
from tests.support.clock import FakeClock

JPEG = b"\xff\xd8\xff\xe0fake-jpeg"
MakeKey = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def cameras(client: httpx.AsyncClient) -> list[str]:
    ids = ["gate", "yard", "dock"]
    for camera in ids:  # a closed local port: nothing is ever dialled (sampling is off)
        body = {"id": camera, "name": camera, "main_stream_url": "rtsp://127.0.0.1:9/x"}
        assert (await client.post("/api/v1/cameras", json=body)).status_code == 201
    return ids


@pytest.fixture
async def worker_key(app: FastAPI, client: httpx.AsyncClient) -> MakeKey:
    """`await worker_key(camera_ids=[...])`: a client authenticated with a new integration key."""
    opened: list[httpx.AsyncClient] = []

    async def make(**fields: Any) -> httpx.AsyncClient:
        body = {"name": f"worker-{len(opened) + 1}", **fields}
        created = await client.post("/api/v1/api-keys", json=body)
        assert created.status_code == 201, created.text
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://127.0.0.1",
            headers={"X-API-Key": created.json()["token"]},
        )
        opened.append(http)
        return http

    yield make  # type: ignore[misc]
    for http in opened:
        await http.aclose()


async def _task(client: httpx.AsyncClient, camera: str, **fields: Any) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/cameras/{camera}/ai-tasks", json={"task_type": "person", **fields}
    )
    assert response.status_code in (200, 201), response.text
    task: dict[str, Any] = response.json()
    return task


def _publish(app: FastAPI, camera: str, profile: str = "sub") -> int:
    kernel: Kernel = app.state.kernel
    frame = kernel.perception.frames.publish(
        StreamKey(camera, profile),  # type: ignore[arg-type]
        JPEG,
        captured_at=kernel.clock.now(),
        width=640,
        height=360,
    )
    return frame.seq


def _detection(**fields: Any) -> dict[str, Any]:
    return {"label": "person", "confidence": 0.9, "bbox": [0.1, 0.2, 0.3, 0.4], **fields}


# -- tasks ----------------------------------------------------------------------------------------


async def test_tasks_crud_clamps_and_idempotent_create(
    client: httpx.AsyncClient, cameras: list[str]
) -> None:
    first = await client.post(
        "/api/v1/cameras/gate/ai-tasks",
        json={"task_type": "person", "fps": 99, "width": 50, "config": {"min": 0.4}},
    )
    assert first.status_code == 201
    task = first.json()
    assert (task["fps"], task["width"], task["stream_profile"]) == (30.0, 160, "sub")
    assert task["config"] == {"min": 0.4} and task["enabled"] is True
    again = await client.post("/api/v1/cameras/gate/ai-tasks", json={"task_type": "person"})
    assert again.status_code == 200 and again.json()["id"] == task["id"]
    main = await _task(client, "gate", stream_profile="main")
    assert main["id"] != task["id"]
    listed = (await client.get("/api/v1/cameras/gate/ai-tasks")).json()
    assert {t["id"] for t in listed} == {task["id"], main["id"]}

    patched = await client.patch(f"/api/v1/ai-tasks/{task['id']}", json={"fps": 0.01})
    assert patched.status_code == 200 and patched.json()["fps"] == 0.1
    for bad in (
        {"fps": "fast"},
        {"enabled": None},
        {"task_type": "x"},
        {"config": {"big": "x" * 20_000}},
        {"surprise": 1},
    ):
        response = await client.patch(f"/api/v1/ai-tasks/{task['id']}", json=bad)
        assert response.status_code == 422, bad
    for bad in (
        {"task_type": "bad type!"},
        {"task_type": "ok", "stream_profile": "third"},
        {},
    ):
        response = await client.post("/api/v1/cameras/gate/ai-tasks", json=bad)
        assert response.status_code == 422, bad
    nan = await client.post(
        "/api/v1/cameras/gate/ai-tasks",
        content=b'{"task_type": "ok", "fps": NaN}',
        headers={"content-type": "application/json"},
    )
    assert nan.status_code == 422
    assert (
        await client.post("/api/v1/cameras/nope/ai-tasks", json={"task_type": "a"})
    ).status_code == 404
    assert (await client.delete(f"/api/v1/ai-tasks/{main['id']}")).status_code == 204
    assert (await client.delete(f"/api/v1/ai-tasks/{main['id']}")).status_code == 404
    assert len((await client.get("/api/v1/cameras/gate/ai-tasks")).json()) == 1


async def test_roles_and_scope_on_tasks(
    client: httpx.AsyncClient, client_as: ClientAs, cameras: list[str], worker_key: MakeKey
) -> None:
    task = await _task(client, "yard")
    viewer = await client_as("viewer")
    assert (await viewer.get("/api/v1/cameras/yard/ai-tasks")).status_code == 200
    assert (
        await viewer.post("/api/v1/cameras/yard/ai-tasks", json={"task_type": "a"})
    ).status_code == 403
    outsider = await client_as("manager", camera_ids=["gate"])
    hidden = await outsider.patch(f"/api/v1/ai-tasks/{task['id']}", json={"fps": 2})
    assert hidden.status_code == 404 and hidden.json()["error"] == "task_not_found"
    worker = await worker_key(camera_ids=["gate"])
    assert (
        await worker.post("/api/v1/cameras/gate/ai-tasks", json={"task_type": "a"})
    ).status_code == 403


# -- discovery and leases -------------------------------------------------------------------------


async def test_discovery_splits_tasks_across_live_workers_of_a_key(
    client: httpx.AsyncClient, cameras: list[str], worker_key: MakeKey, clock: FakeClock
) -> None:
    ids = {(await _task(client, camera))["id"] for camera in cameras}
    disabled = await _task(client, "gate", task_type="plates", enabled=False)
    worker = await worker_key()
    response = await worker.get("/api/v1/ai/tasks", params={"worker_id": "w1"})
    assert response.headers["x-heartbeat-interval-s"] == "10"
    alone = response.json()  # the reference's bare list
    assert {t["id"] for t in alone} == ids  # not the disabled one
    assert disabled["id"] not in {t["id"] for t in alone}
    first = alone[0]
    assert first["frame_url"] == (
        f"/api/v1/cameras/{first['camera_id']}/frame?profile=sub&task={first['id']}"
    )
    w2 = (await worker.get("/api/v1/ai/tasks", params={"worker_id": "w2"})).json()
    w1 = (await worker.get("/api/v1/ai/tasks", params={"worker_id": "w1"})).json()
    one, two = {t["id"] for t in w1}, {t["id"] for t in w2}
    assert one | two == ids and not one & two and one and two
    # another key's workers are a separate fleet: it sees every task
    other = await worker_key()
    assert len((await other.get("/api/v1/ai/tasks", params={"worker_id": "w1"})).json()) == 3
    clock.advance(31)  # w2 went silent: w1 gets everything again
    w1 = (await worker.get("/api/v1/ai/tasks", params={"worker_id": "w1"})).json()
    assert {t["id"] for t in w1} == ids
    scoped = await worker_key(camera_ids=["dock"])
    visible = (await scoped.get("/api/v1/ai/tasks", params={"worker_id": "s"})).json()
    assert [t["camera_id"] for t in visible] == ["dock"]
    bad = await worker.get("/api/v1/ai/tasks", params={"worker_id": "../x"})
    assert bad.status_code == 422


async def test_leases_are_exclusive_renewable_and_released(
    client: httpx.AsyncClient, cameras: list[str], worker_key: MakeKey, clock: FakeClock
) -> None:
    every = {(await _task(client, camera))["id"] for camera in cameras}
    every.add((await _task(client, "gate", task_type="motion"))["id"])
    worker = await worker_key()

    async def lease(worker_id: str, **fields: Any) -> dict[str, Any]:
        response = await worker.post(
            "/api/v1/ai/leases", json={"worker_id": worker_id, "ttl_secs": 30, **fields}
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def ids(lease: dict[str, Any]) -> set[str]:
        return {t["id"] for t in lease["tasks"]}

    first_a = await lease("a", task_types=["person"], max_tasks=2)  # alone: its share is all
    assert len(ids(first_a)) == 2 and {t["task_type"] for t in first_a["tasks"]} == {"person"}
    b = await lease("b")
    assert not ids(first_a) & ids(b)  # exclusive
    a = await lease("a", ttl_secs=60)  # renewal: same lease, its half of the tasks
    assert a["lease_id"] == first_a["lease_id"]
    assert not ids(a) & ids(b)
    b = await lease("b")  # b picks up what a shed
    assert ids(a) | ids(b) == every and not ids(a) & ids(b)
    assert ids(a) and ids(b)

    other = await worker_key()  # another key: its own fleet, but no task is held twice
    assert (await other.post("/api/v1/ai/leases", json={"worker_id": "c"})).json()["tasks"] == []
    assert (await other.delete(f"/api/v1/ai/leases/{a['lease_id']}")).status_code == 404
    assert (await worker.delete(f"/api/v1/ai/leases/{a['lease_id']}")).status_code == 204
    assert (await worker.delete(f"/api/v1/ai/leases/{a['lease_id']}")).status_code == 404
    clock.advance(31)  # b's lease expired and a, b went silent: everything is free again
    c = (await other.post("/api/v1/ai/leases", json={"worker_id": "c", "ttl_secs": 30})).json()
    assert ids(c) == every
    for bad in (
        {"worker_id": "x", "ttl_secs": 1},
        {"worker_id": "x", "max_tasks": 0},
        {"ttl_secs": 30},
    ):
        assert (await worker.post("/api/v1/ai/leases", json=bad)).status_code == 422


# -- frames ---------------------------------------------------------------------------------------


async def test_frames_long_poll_and_tickets(
    app: FastAPI, client: httpx.AsyncClient, cameras: list[str], worker_key: MakeKey
) -> None:
    task = await _task(client, "gate")
    worker = await worker_key()
    url = "/api/v1/cameras/gate/frame"
    query = {"profile": "sub", "task": task["id"]}
    before = await worker.get(url, params=query)
    assert before.status_code == 404 and before.json()["error"] == "no_frame"
    seq = _publish(app, "gate")
    plain = await worker.get(url, params=query)
    assert plain.status_code == 200 and plain.content == JPEG
    assert plain.headers["content-type"] == "image/jpeg"
    assert int(plain.headers["x-frame-seq"]) == seq
    assert "x-frame-ticket" not in plain.headers  # no lease held
    assert int(plain.headers["x-frame-age-ms"]) >= 0 and plain.headers["x-frame-captured-at"]
    newer = await worker.get(url, params={**query, "after_seq": seq, "wait_ms": 50})
    assert newer.status_code == 204  # nothing newer: a worker never gets the same frame twice
    lease = (await worker.post("/api/v1/ai/leases", json={"worker_id": "w", "ttl_secs": 30})).json()
    assert [t["id"] for t in lease["tasks"]] == [task["id"]]
    seq2 = _publish(app, "gate")
    ticketed = await worker.get(url, params={**query, "after_seq": seq, "wait_ms": 1000})
    assert ticketed.status_code == 200 and int(ticketed.headers["x-frame-seq"]) == seq2
    assert ticketed.headers["x-frame-ticket"]
    # scope and bad parameters
    scoped = await worker_key(camera_ids=["yard"])
    assert (await scoped.get("/api/v1/cameras/gate/frame")).status_code == 404
    yard_task = await _task(client, "yard")
    mismatch = await worker.get(f"/api/v1/cameras/gate/frame?task={yard_task['id']}")
    assert mismatch.status_code == 422
    assert (await worker.get(url, params={**query, "wait_ms": 60_000})).status_code == 422


# -- ingest ---------------------------------------------------------------------------------------


async def _stored(client: httpx.AsyncClient, camera: str = "gate") -> list[dict[str, Any]]:
    response = await client.get(f"/api/v1/cameras/{camera}/detections")
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()
    return rows


async def test_ingest_stores_once_and_stamps_provenance(
    app: FastAPI, client: httpx.AsyncClient, cameras: list[str], worker_key: MakeKey
) -> None:
    kernel: Kernel = app.state.kernel
    published: list[str] = []  # what the event stream, webhooks and MQTT are told
    kernel.events.subscribe(lambda event: published.append(event.event_type))
    worker = await worker_key()
    body = {
        "camera_id": "gate",
        "task_type": "person",
        "frame_id": "f-1",
        "detections": [
            _detection(track_id=7, attributes={"source": "forged", "color": "red"}),
            _detection(label="car", bbox=[0.5, 0.5, 0.5, 0.5]),
        ],
        "event": {"event_type": "loitering", "severity": "critical", "payload": {"n": 1}},
    }
    first = await worker.post("/api/v1/ai/events", json=body)
    assert first.status_code == 200, first.text
    assert first.json()["detections_ingested"] == 2 and first.json()["ticketed"] is False
    replay = await worker.post("/api/v1/ai/events", json=body)
    assert replay.json()["duplicate"] is True and replay.json()["detections_ingested"] == 0
    conflict = await worker.post(
        "/api/v1/ai/events", json={**body, "detections": [_detection(confidence=0.1)]}
    )
    assert conflict.status_code == 409 and conflict.json()["error"] == "frame_conflict"
    rows = await _stored(client)
    assert len(rows) == 2
    person = next(r for r in rows if r["label"] == "person")
    assert person["track_id"] == "7" and person["bbox"] == [0.1, 0.2, 0.3, 0.4]
    assert person["attributes"]["source"] == "key:worker-1"  # the server's, not the worker's
    assert person["attributes"]["color"] == "red"
    assert person["attributes"]["_prov"] == {"ticketed": False}
    events = (await client.get("/api/v1/events", params={"event_type": "loitering"})).json()
    assert len(events) == 1 and events[0]["severity"] == "warning"  # capped
    assert published.count("loitering") == 1
    only_car = await client.get("/api/v1/cameras/gate/detections", params={"label": "car"})
    assert [r["label"] for r in only_car.json()] == ["car"]


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"detections": [_detection(bbox=[0.1, 0.1, 0.0, 0.2])]}, 422),
        ({"detections": [_detection(bbox=[0.9, 0.1, 0.5, 0.2])]}, 422),
        ({"detections": [_detection(bbox=[0.1, 0.1, 0.2])]}, 422),
        ({"detections": [_detection(bbox=[-0.5, 0.1, 0.2, 0.2])]}, 422),
        ({"detections": [_detection(confidence=1.5)]}, 422),
        ({"detections": [_detection(label="")]}, 422),
        ({"detections": [_detection(label="x" * 65)]}, 422),
        ({"detections": [_detection(track_id="a b")]}, 422),
        ({"detections": [_detection(attributes={"blob": "x" * 5000})]}, 422),
        ({"detections": [_detection()] * 1001}, 422),
        ({"event": {"event_type": "zone_enter"}}, 422),
        ({"event": {"event_type": "camera_offline"}}, 422),
        ({"event": {"event_type": "Bad-Type"}}, 422),
        ({"task_type": "no spaces"}, 422),
        ({"timestamp": "2026-11-25T12:00:00"}, 422),
        ({"camera_id": "nope"}, 404),
        ({"camera_id": "yard"}, 404),  # out of the key's scope: same answer as missing
        ({"frame_ticket": "forged.ticket"}, 403),
    ],
)
async def test_bad_ingest_is_refused_and_stores_nothing(
    client: httpx.AsyncClient,
    cameras: list[str],
    worker_key: MakeKey,
    change: dict[str, Any],
    status: int,
) -> None:
    worker = await worker_key(camera_ids=["gate"])
    body = {"camera_id": "gate", "task_type": "person", "detections": [_detection()], **change}
    response = await worker.post("/api/v1/ai/events", json=body)
    assert response.status_code == status, response.text
    assert "error" in response.json()
    assert await _stored(client) == []
    assert await _stored(client, "yard") == []


async def test_nan_and_oversized_bodies_are_refused(
    client: httpx.AsyncClient, cameras: list[str], worker_key: MakeKey
) -> None:
    worker = await worker_key()
    nan = '{"camera_id":"gate","task_type":"p","detections":[{"label":"a","confidence":NaN,"bbox":[0.1,0.1,0.1,0.1]}]}'
    response = await worker.post(
        "/api/v1/ai/events", content=nan, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    big = b'{"camera_id":"gate","task_type":"p","pad":"' + b"x" * (9 * 1_048_576) + b'"}'
    response = await worker.post(
        "/api/v1/ai/events", content=big, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    # 2 MiB is over the general 1 MiB limit but fine for ingest
    padded = b'{"camera_id":"gate","task_type":"p","pad":"' + b"x" * (2 * 1_048_576) + b'"}'
    response = await worker.post(
        "/api/v1/ai/events", content=padded, headers={"content-type": "application/json"}
    )
    assert response.status_code == 200, response.text[:200]
    assert (
        await client.post(
            "/api/v1/cameras", content=padded, headers={"content-type": "application/json"}
        )
    ).status_code == 413


async def test_tickets_fix_what_the_batch_is_about(
    app: FastAPI,
    client: httpx.AsyncClient,
    cameras: list[str],
    worker_key: MakeKey,
    clock: FakeClock,
) -> None:
    task = await _task(client, "gate")
    worker = await worker_key()
    lease = (
        await worker.post("/api/v1/ai/leases", json={"worker_id": "w", "ttl_secs": 300})
    ).json()
    seq = _publish(app, "gate")
    frame = await worker.get(f"/api/v1/cameras/gate/frame?task={task['id']}")
    ticket = frame.headers["x-frame-ticket"]
    # the body claims another camera, type and frame: the ticket wins
    body = {
        "camera_id": "yard",
        "task_type": "other",
        "frame_id": "lies",
        "frame_ticket": ticket,
        "detections": [_detection()],
    }
    accepted = await worker.post("/api/v1/ai/events", json=body)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["ticketed"] is True
    [row] = await _stored(client, "gate")
    assert row["task_type"] == "person"
    prov = row["attributes"]["_prov"]
    assert prov["ticketed"] is True and prov["lease_id"] == lease["lease_id"]
    assert prov["worker_id"] == "w"
    again = await worker.post("/api/v1/ai/events", json=body)
    assert again.json()["duplicate"] is True  # frame_id came from the ticket (the seq)
    assert seq >= 1
    stranger = await worker_key()
    stolen = await stranger.post("/api/v1/ai/events", json={**body, "frame_id": None})
    assert stolen.status_code == 403  # a ticket of someone else's lease
    clock.advance(121)
    expired = await worker.post("/api/v1/ai/events", json=body)
    assert expired.status_code == 403 and expired.json()["error"] == "invalid_ticket"


async def test_detections_query_window_and_scope(
    client: httpx.AsyncClient,
    cameras: list[str],
    worker_key: MakeKey,
    clock: FakeClock,
    client_as: ClientAs,
) -> None:
    worker = await worker_key()
    for n in range(3):
        stamp = (clock.now() - timedelta(hours=n)).isoformat()
        body = {
            "camera_id": "gate",
            "task_type": "person",
            "timestamp": stamp,
            "frame_id": f"f{n}",
            "detections": [_detection(track_id=f"t{n}")],
        }
        assert (await worker.post("/api/v1/ai/events", json=body)).status_code == 200
    rows = await _stored(client)
    assert [r["track_id"] for r in rows] == ["t0", "t1", "t2"]  # newest first
    window = {
        "from": (clock.now() - timedelta(minutes=90)).isoformat(),
        "to": (clock.now() + timedelta(minutes=1)).isoformat(),
    }
    assert len((await client.get("/api/v1/cameras/gate/detections", params=window)).json()) == 2
    only = await client.get("/api/v1/cameras/gate/detections", params={"track_id": "t2"})
    assert [r["track_id"] for r in only.json()] == ["t2"]
    outsider = await client_as("viewer", camera_ids=["yard"])
    assert (await outsider.get("/api/v1/cameras/gate/detections")).status_code == 404
    assert (
        await client.get("/api/v1/cameras/gate/detections", params={"limit": 0})
    ).status_code == 422


@pytest.mark.parametrize("raw", [b"{not json", b"[]", b"", b'{"camera_id": "gate"}'])
async def test_malformed_ingest_bodies_are_422_with_their_place(
    client: httpx.AsyncClient, cameras: list[str], worker_key: MakeKey, raw: bytes
) -> None:
    """The body is parsed from the bytes by pydantic-core: errors still read like FastAPI's."""
    worker = await worker_key()
    response = await worker.post(
        "/api/v1/ai/events", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["error"] == "validation_error"
    assert all(detail["loc"][0] == "body" for detail in problem["detail"])
    assert await _stored(client) == []
