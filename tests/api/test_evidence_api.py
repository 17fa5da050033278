"""Evidence locks, incidents, retention settings and camera deletion over HTTP: shapes, roles,
camera scope, audit, bounds, persistence across a restart."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI

from heldar.api.app import create_app
from heldar.app import Kernel
from heldar.settings import Settings
from tests.api.conftest import AddFootage
from tests.conftest import ClientAs
from tests.support.auth import ADMIN_PASSWORD, ADMIN_USER, bearer, login

SEGMENT_FIELDS = {
    "id",
    "camera_id",
    "start_time",
    "end_time",
    "duration_s",
    "codec",
    "width",
    "height",
    "size_bytes",
    "locked",
    "incident_id",
    "url",
}


def _kernel(app: FastAPI) -> Kernel:
    kernel: Kernel = app.state.kernel
    return kernel


@pytest.fixture
async def footage(client: httpx.AsyncClient, add_footage: AddFootage) -> list[int]:
    """Camera `cam` with 4 indexed segments; their ids, oldest first."""
    await add_footage(4)
    window = {"from": "2026-11-25T11:00:00Z", "to": "2026-11-25T13:00:00Z"}
    listed = (await client.get("/api/v1/cameras/cam/segments", params=window)).json()
    return [s["id"] for s in listed]


async def test_lock_label_unlock_and_list(client: httpx.AsyncClient, footage: list[int]) -> None:
    first, second, *_ = footage
    locked = await client.post(
        f"/api/v1/segments/{first}/evidence-lock", json={"incident_id": "inc-1"}
    )
    assert locked.status_code == 200, locked.text
    body = locked.json()
    assert set(body) == SEGMENT_FIELDS
    assert (body["locked"], body["incident_id"]) == (True, "inc-1")
    no_body = await client.post(f"/api/v1/segments/{second}/evidence-lock")
    assert no_body.status_code == 200 and no_body.json()["locked"] is True
    labelled = await client.patch(
        f"/api/v1/segments/{second}/incident", json={"incident_id": "inc-1"}
    )
    assert labelled.json()["incident_id"] == "inc-1"
    incidents = (await client.get("/api/v1/incidents")).json()
    assert incidents == [
        {
            "incident_id": "inc-1",
            "segment_count": 2,
            "camera_ids": ["cam"],
            "first_start": incidents[0]["first_start"],
            "last_end": incidents[0]["last_end"],
            "locked_count": 2,
        }
    ]
    assert incidents[0]["first_start"].startswith("2026-11-25T12:00:00")
    segments = (await client.get("/api/v1/incidents/inc-1/segments")).json()
    assert [s["id"] for s in segments] == [first, second]
    assert segments[0]["url"].startswith("/media/recordings/cam/")
    unlocked = await client.delete(f"/api/v1/segments/{first}/evidence-lock")
    assert (unlocked.json()["locked"], unlocked.json()["incident_id"]) == (False, "inc-1")
    cleared = await client.patch(f"/api/v1/segments/{first}/incident", json={"incident_id": None})
    assert cleared.json()["incident_id"] is None
    audit = (await client.get("/api/v1/audit", params={"limit": 50})).json()
    actions = [e["action"] for e in audit if e["action"].startswith("segment.")]
    assert sorted(actions) == sorted(
        ["segment.lock", "segment.lock", "segment.incident", "segment.unlock", "segment.incident"]
    )
    assert all(e["camera_id"] == "cam" for e in audit if e["action"].startswith("segment."))


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("POST", "evidence-lock", {"incident_id": "../etc"}),
        ("POST", "evidence-lock", {"incident_id": "x" * 65}),
        ("POST", "evidence-lock", {"incident_id": "a b"}),
        ("POST", "evidence-lock", {"unknown": 1}),
        ("PATCH", "incident", {}),
        ("PATCH", "incident", {"incident_id": ""}),
    ],
)
async def test_bad_bodies_are_422(
    client: httpx.AsyncClient,
    footage: list[int],
    method: str,
    suffix: str,
    body: dict[str, object],
) -> None:
    response = await client.request(method, f"/api/v1/segments/{footage[0]}/{suffix}", json=body)
    assert response.status_code == 422, response.text
    assert (await client.get("/api/v1/incidents")).json() == []


async def test_roles_and_camera_scope(
    client: httpx.AsyncClient, client_as: ClientAs, footage: list[int]
) -> None:
    segment = footage[0]
    await client.post(f"/api/v1/segments/{segment}/evidence-lock", json={"incident_id": "inc-9"})
    viewer = await client_as("viewer")
    assert len((await viewer.get("/api/v1/incidents")).json()) == 1
    assert (await viewer.post(f"/api/v1/segments/{segment}/evidence-lock")).status_code == 403
    guard = await client_as("guard")
    assert (await guard.delete(f"/api/v1/segments/{segment}/evidence-lock")).status_code == 200
    outsider = await client_as("guard", camera_ids=["other"])
    hidden = await outsider.post(f"/api/v1/segments/{segment}/evidence-lock")
    missing = await outsider.post("/api/v1/segments/999999/evidence-lock")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == {**missing.json(), "detail": hidden.json()["detail"]}
    assert hidden.json()["error"] == "segment_not_found"
    assert (await outsider.get("/api/v1/incidents")).json() == []
    assert (await outsider.get("/api/v1/incidents/inc-9/segments")).status_code == 404
    assert (
        await outsider.patch(f"/api/v1/segments/{segment}/incident", json={"incident_id": "x"})
    ).status_code == 404


async def test_a_camera_with_locked_segments_cannot_be_deleted(
    app: FastAPI, client: httpx.AsyncClient, footage: list[int]
) -> None:
    directory = _kernel(app).settings.data_dir / "recordings" / "cam"
    await client.post(f"/api/v1/segments/{footage[2]}/evidence-lock")
    refused = await client.delete("/api/v1/cameras/cam")
    assert refused.status_code == 409
    assert refused.json()["error"] == "segments_locked"
    assert (await client.get("/api/v1/cameras/cam")).status_code == 200
    assert len(list(directory.glob("*.mp4"))) == 4
    await client.delete(f"/api/v1/segments/{footage[2]}/evidence-lock")
    assert (await client.delete("/api/v1/cameras/cam")).status_code == 204
    assert not list(directory.glob("*.mp4"))
    assert (await client.post(f"/api/v1/segments/{footage[0]}/evidence-lock")).status_code == 404


VALID = {
    "max_recordings_gb": 500.0,
    "min_free_disk_gb": 2.0,
    "guard_max_share": 0.4,
    "interval_s": 30,
}


async def test_retention_settings_read_change_and_bounds(
    client: httpx.AsyncClient, client_as: ClientAs
) -> None:
    current = await client.get("/api/v1/system/retention")
    assert current.status_code == 200
    assert set(current.json()) == set(VALID)
    viewer = await client_as("viewer")
    assert (await viewer.get("/api/v1/system/retention")).status_code == 200
    manager = await client_as("manager")
    assert (await manager.put("/api/v1/system/retention", json=VALID)).status_code == 403
    for bad in (
        {},
        {**VALID, "guard_max_share": 0},
        {**VALID, "guard_max_share": 1.5},
        {**VALID, "interval_s": 1},
        {**VALID, "min_free_disk_gb": -1},
        {**VALID, "max_recordings_gb": 0},
        {**VALID, "extra": True},
        {key: value for key, value in VALID.items() if key != "max_recordings_gb"},
    ):
        response = await client.put("/api/v1/system/retention", json=bad)
        assert response.status_code == 422, bad
    assert (await client.get("/api/v1/system/retention")).json() == current.json()
    changed = await client.put("/api/v1/system/retention", json=VALID)
    assert changed.status_code == 200 and changed.json() == VALID
    uncapped = await client.put(
        "/api/v1/system/retention", json={**VALID, "max_recordings_gb": None}
    )
    assert uncapped.json()["max_recordings_gb"] is None
    audit = (await client.get("/api/v1/audit", params={"action": "retention.update"})).json()
    assert len(audit) == 2


@asynccontextmanager
async def _kernel_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A kernel of its own (started and stopped here) and an admin client for it."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            http.headers.update(bearer(await login(http, ADMIN_USER, ADMIN_PASSWORD)))
            yield http


async def test_retention_settings_survive_a_restart(settings: Settings) -> None:
    async with _kernel_client(settings) as http:
        assert (await http.put("/api/v1/system/retention", json=VALID)).status_code == 200
    async with _kernel_client(settings) as http:  # a restart
        assert (await http.get("/api/v1/system/retention")).json() == VALID
