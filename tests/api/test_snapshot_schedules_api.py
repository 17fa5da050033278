"""Snapshot schedules: periodic stills from recordings, listed, served, expired, scoped."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from heldar.app import Kernel
from tests.api.conftest import AddFootage
from tests.conftest import ClientAs
from tests.support.clock import FakeClock
from tests.support.recordings import T0
from tests.support.waiting import eventually


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0 + timedelta(seconds=10))


async def _stills(client: httpx.AsyncClient) -> list[dict[str, object]]:
    response = await client.get("/api/v1/cameras/cam/snapshots")
    assert response.status_code == 200, response.text
    stills: list[dict[str, object]] = response.json()
    return stills


async def test_schedule_takes_serves_and_expires_stills(
    app: FastAPI, client: httpx.AsyncClient, add_footage: AddFootage, clock: FakeClock
) -> None:
    await add_footage(4)
    created = await client.post(
        "/api/v1/cameras/cam/snapshot-schedules", json={"interval_seconds": 30, "keep_hours": 1}
    )
    assert created.status_code == 201, created.text
    schedule = created.json()
    assert schedule["enabled"] is True and schedule["last_taken_at"] is None

    first = await eventually(lambda: _stills(client), timeout=10, what="the first still")
    assert len(first) == 1
    still = first[0]
    assert still["schedule_id"] == schedule["id"]
    assert (still["width"], still["height"]) == (320, 180)  # the recorded clip's size
    media = await client.get(str(still["url"]))
    assert media.status_code == 200
    assert media.headers["content-type"] == "image/jpeg"
    assert media.content[:3] == b"\xff\xd8\xff"
    assert len(media.content) == still["size_bytes"]

    clock.advance(30)  # due again; the newest frame (T0 + 8 s) is still fresh
    second = await eventually(lambda: _stills_count(client, 2), timeout=10, what="the second still")
    assert second[0]["taken_at"] > second[1]["taken_at"]  # newest first

    clock.advance(3700)  # past keep_hours, and the footage is now stale
    await eventually(lambda: _stills_count(client, 0, exact=True), timeout=10, what="expiry")
    kernel: Kernel = app.state.kernel
    assert list((kernel.settings.data_dir / "snapshots" / "cam").glob("*.jpg")) == []

    async def stale_reported() -> bool:
        current = (await client.get("/api/v1/cameras/cam/snapshot-schedules")).json()[0]
        return "no recent footage" in (current["last_error"] or "")

    await eventually(stale_reported, timeout=10, what="last_error")
    assert await _stills(client) == []  # no stale duplicate was stored


async def _stills_count(
    client: httpx.AsyncClient, count: int, *, exact: bool = False
) -> list[dict[str, object]] | bool:
    stills = await _stills(client)
    return stills if (len(stills) >= count and not exact) else (exact and len(stills) == count)


async def test_schedule_crud_and_validation(
    client: httpx.AsyncClient, add_footage: AddFootage
) -> None:
    await add_footage(1)
    url = "/api/v1/cameras/cam/snapshot-schedules"
    for body in (
        {"interval_seconds": 5},
        {"interval_seconds": 86_401},
        {"keep_hours": 0},
        {"interval_seconds": "often"},
        {"surprise": True},
    ):
        response = await client.post(url, json=body)
        assert response.status_code == 422, body
        assert "error" in response.json()
    assert (await client.get(url)).json() == []
    missing = await client.post("/api/v1/cameras/nope/snapshot-schedules", json={})
    assert missing.status_code == 404

    created = (await client.post(url, json={"enabled": False})).json()
    assert created["interval_seconds"] == 300 and created["keep_hours"] == 168
    sid = created["id"]
    patched = await client.patch(f"/api/v1/snapshot-schedules/{sid}", json={"keep_hours": 2})
    assert patched.status_code == 200
    assert patched.json()["keep_hours"] == 2 and patched.json()["enabled"] is False
    null = await client.patch(f"/api/v1/snapshot-schedules/{sid}", json={"enabled": None})
    assert null.status_code == 422
    assert (await client.delete(f"/api/v1/snapshot-schedules/{sid}")).status_code == 204
    gone = await client.patch(f"/api/v1/snapshot-schedules/{sid}", json={"keep_hours": 3})
    assert gone.status_code == 404
    assert gone.json()["error"] == "snapshot_schedule_not_found"


async def test_scope_roles_and_media_names(
    app: FastAPI, client: httpx.AsyncClient, client_as: ClientAs, add_footage: AddFootage
) -> None:
    await add_footage(1)
    sid = (await client.post("/api/v1/cameras/cam/snapshot-schedules", json={})).json()["id"]
    viewer = await client_as("viewer")
    assert (await viewer.get("/api/v1/cameras/cam/snapshot-schedules")).status_code == 200
    denied = await viewer.post("/api/v1/cameras/cam/snapshot-schedules", json={})
    assert denied.status_code == 403
    outsider = await client_as("manager", camera_ids=["elsewhere"])
    hidden = await outsider.patch(f"/api/v1/snapshot-schedules/{sid}", json={"keep_hours": 2})
    assert hidden.status_code == 404
    assert (await outsider.delete(f"/api/v1/snapshot-schedules/{sid}")).status_code == 404
    assert (await outsider.get("/api/v1/cameras/cam/snapshots")).status_code == 404

    kernel: Kernel = app.state.kernel
    await eventually(lambda: _stills(client), timeout=10, what="a still")
    name = (await _stills(client))[0]["url"]
    assert (await outsider.get(str(name))).status_code == 404
    (kernel.settings.data_dir / "secret.jpg").write_bytes(b"\xff\xd8\xffnope")
    for bad in (
        "/media/snapshots/cam/../secret.jpg",
        "/media/snapshots/cam/%2e%2e/secret.jpg",
        "/media/snapshots/cam/..%2fsecret.jpg",
        "/media/snapshots/../secret.jpg",
        "/media/snapshots/cam/20261125_120000_1.jpg.tmp",
    ):
        response = await client.get(bad)
        assert response.status_code == 404, bad
        assert b"nope" not in response.content

    assert (await client.delete("/api/v1/cameras/cam")).status_code == 204
    assert not (kernel.settings.data_dir / "snapshots" / "cam").exists()
