"""`/api/v1/events`: filters and both cursors, types, and the live SSE stream over real HTTP
(uvicorn on 127.0.0.1): live delivery, exact resume with Last-Event-ID, scope, revocation."""

from __future__ import annotations

import time

import httpx
import pytest
from fastapi import FastAPI

from heldar.app import Kernel
from tests.conftest import ClientAs
from tests.events.support import next_events, sse_messages
from tests.support.serving import serving

STREAM = "/api/v1/events/stream"
SSE = {"Accept": "text/event-stream"}


def _kernel(app: FastAPI) -> Kernel:
    kernel: Kernel = app.state.kernel
    return kernel


async def _log(app: FastAPI, count: int, **fields: object) -> list[int]:
    events = _kernel(app).events
    return [
        await events.append(
            str(fields.get("event_type", "trigger")),
            **{k: v for k, v in fields.items() if k != "event_type"},
        )
        for _ in range(count)
    ]  # type: ignore[arg-type]


async def test_since_id_is_an_ascending_cursor_and_before_id_still_pages_back(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    ids = await _log(app, 7, camera_id="gate")
    forward = (await client.get("/api/v1/events", params={"since_id": ids[1], "limit": 3})).json()
    assert [e["id"] for e in forward] == ids[2:5]
    rest = (await client.get("/api/v1/events", params={"since_id": forward[-1]["id"]})).json()
    assert [e["id"] for e in rest] == ids[5:]
    back = (await client.get("/api/v1/events", params={"before_id": ids[3], "limit": 2})).json()
    assert [e["id"] for e in back] == [ids[2], ids[1]]
    newest = (await client.get("/api/v1/events", params={"limit": 1})).json()
    assert [e["id"] for e in newest] == [ids[-1]]


async def test_filters_combine(app: FastAPI, client: httpx.AsyncClient) -> None:
    events = _kernel(app).events
    await events.append("camera_offline", camera_id="gate", severity="warning")
    await events.append("camera_offline", camera_id="yard", severity="warning")
    hit = await events.append("recording_started", camera_id="gate", severity="info")
    found = await client.get(
        "/api/v1/events",
        params={"camera_id": "gate", "event_type": "recording_started", "severity": "info"},
    )
    assert [e["id"] for e in found.json()] == [hit]


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"since_id": 1, "before_id": 5}, "invalid_cursor"),
        ({"severity": "loud"}, "validation_error"),
        ({"since_id": -1}, "validation_error"),
        ({"limit": 0}, "validation_error"),
        ({"limit": 1001}, "validation_error"),
        ({"camera_id": "../etc"}, "validation_error"),
        ({"event_type": "a b"}, "validation_error"),
    ],
)
async def test_bad_queries_are_422_with_a_code(
    client: httpx.AsyncClient, params: dict[str, object], code: str
) -> None:
    response = await client.get("/api/v1/events", params=params)
    assert response.status_code == 422 and response.json()["error"] == code


async def test_a_scoped_caller_gets_full_pages_of_its_cameras_and_system_events(
    app: FastAPI, client_as: ClientAs
) -> None:
    events = _kernel(app).events
    mine = [await events.append("trigger", camera_id="gate")]
    await _log(app, 5, camera_id="yard")
    mine.append(await events.append("retention_guard"))
    viewer = await client_as("viewer", camera_ids=["gate"])
    page = (await viewer.get("/api/v1/events", params={"limit": 2})).json()
    assert sorted(e["id"] for e in page) == mine
    hidden = await viewer.get("/api/v1/events", params={"camera_id": "yard"})
    assert hidden.status_code == 404 and hidden.json()["error"] == "camera_not_found"


async def test_types_list_the_kernels_and_the_observed_ones(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await _kernel(app).events.append("person_at_gate", camera_id="gate")
    types = (await client.get("/api/v1/events/types")).json()
    by_name = {t["event_type"]: t for t in types}
    assert by_name["camera_offline"]["source"] == "kernel"
    assert by_name["person_at_gate"]["source"] == "observed"
    assert all(t["description"] for t in types)


async def test_stream_needs_the_event_stream_accept_and_a_valid_cursor(
    client: httpx.AsyncClient,
) -> None:
    plain = await client.get(STREAM)
    assert plain.status_code == 406 and plain.json()["error"] == "not_acceptable"
    bad = await client.get(STREAM, headers={**SSE, "Last-Event-ID": "abc"})
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_last_event_id"


async def test_live_events_arrive_within_a_second_and_resume_is_exact(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    token = client.headers["Authorization"]
    async with serving(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as http:
        headers = {**SSE, "Authorization": token}
        async with http.stream("GET", STREAM, headers=headers) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers["cache-control"] == "no-store"
            messages = sse_messages(response)
            logged_at = time.monotonic()
            [offline] = await _log(app, 1, event_type="camera_offline", camera_id="gate")
            [got] = await next_events(messages, 1)
            assert time.monotonic() - logged_at < 1.0
            assert got["id"] == offline and got["event_type"] == "camera_offline"

        missed = await _log(app, 3, camera_id="gate")  # while disconnected
        resumed = {**headers, "Last-Event-ID": str(offline)}
        async with http.stream("GET", STREAM, headers=resumed) as response:
            messages = sse_messages(response)
            replayed = await next_events(messages, 3)
            [live] = await _log(app, 1, camera_id="gate")
            [after] = await next_events(messages, 1)
        assert [e["id"] for e in replayed] == missed
        assert after["id"] == live


async def test_the_stream_respects_scope_and_ends_when_the_key_is_revoked(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    created = await client.post(
        "/api/v1/api-keys", json={"name": "dash", "role": "viewer", "camera_ids": ["gate"]}
    )
    key = created.json()
    async with serving(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as http:
        headers = {**SSE, "X-API-Key": key["token"]}
        async with http.stream("GET", STREAM, headers=headers) as response:
            messages = sse_messages(response)
            await _log(app, 2, camera_id="yard")
            [gate] = await _log(app, 1, camera_id="gate")
            [got] = await next_events(messages, 1)
            assert got["id"] == gate
            assert (await client.delete(f"/api/v1/api-keys/{key['id']}")).status_code == 204
            await _log(app, 1, camera_id="gate")
            leftovers = [m async for m in messages if m.data is not None]
        assert leftovers == []  # the stream ended without delivering after the revocation
        again = await http.get(STREAM, headers=headers)
        assert again.status_code == 401
