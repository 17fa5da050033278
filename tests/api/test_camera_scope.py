"""Object-level authorization on cameras: an out-of-scope camera is indistinguishable from a
missing one, on every camera route (SECURITY.md class 3)."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import ClientAs


@pytest.fixture
async def cameras(client: httpx.AsyncClient) -> list[str]:
    ids = ["gate", "lobby", "yard"]
    for camera_id in ids:
        body = {"id": camera_id, "name": camera_id, "main_stream_url": "rtsp://10.0.0.1/a"}
        assert (await client.post("/api/v1/cameras", json=body)).status_code == 201
    return ids


async def test_a_scoped_user_sees_only_its_cameras(cameras: list[str], client_as: ClientAs) -> None:
    viewer = await client_as("viewer", camera_ids=["gate", "yard"])
    listed = await viewer.get("/api/v1/cameras")
    assert [c["id"] for c in listed.json()] == ["gate", "yard"]
    assert (await viewer.get("/api/v1/cameras/gate")).status_code == 200
    me = (await viewer.get("/api/v1/auth/me")).json()
    assert me["camera_ids"] == ["gate", "yard"]


async def test_out_of_scope_answers_exactly_like_missing(
    cameras: list[str], client_as: ClientAs, client: httpx.AsyncClient
) -> None:
    manager = await client_as("manager", camera_ids=["gate"])
    for method, suffix in (
        ("GET", ""),
        ("PATCH", ""),
        ("DELETE", ""),
        ("GET", "/test"),
        ("POST", "/test"),
    ):
        kw = {"json": {}} if method == "PATCH" else {}
        hidden = await manager.request(method, f"/api/v1/cameras/lobby{suffix}", **kw)  # type: ignore[arg-type]
        missing = await manager.request(method, f"/api/v1/cameras/lobbx{suffix}", **kw)  # type: ignore[arg-type]
        assert hidden.status_code == missing.status_code == 404, (method, suffix)
        assert hidden.json()["error"] == missing.json()["error"] == "camera_not_found"
        assert hidden.json()["detail"].replace("lobby", "X") == missing.json()["detail"].replace(
            "lobbx", "X"
        )
    # nothing changed
    assert (await client.get("/api/v1/cameras/lobby")).status_code == 200


async def test_a_scoped_manager_changes_only_its_cameras_and_creates_none(
    cameras: list[str], client_as: ClientAs
) -> None:
    manager = await client_as("manager", camera_ids=["gate"])
    assert (await manager.patch("/api/v1/cameras/gate", json={"name": "Gate 2"})).status_code == 200
    created = await manager.post(
        "/api/v1/cameras", json={"id": "gate", "name": "x", "main_stream_url": "rtsp://h/a"}
    )
    assert created.status_code == 403 and created.json()["error"] == "camera_scope"
