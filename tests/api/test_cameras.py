"""The camera registry over HTTP: CRUD, bounds, vendor templates, write-only passwords."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

PASSWORD = "Sup3r$ecret:p@ss/word"


async def _count(client: httpx.AsyncClient) -> int:
    response = await client.get("/api/v1/cameras")
    assert response.status_code == 200
    return len(response.json())


async def test_crud_round_trip(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/api/v1/cameras",
        json={
            "name": "Front Gate",
            "vendor": "hikvision",
            "address": "192.168.1.64",
            "username": "admin",
            "password": PASSWORD,
        },
    )
    assert created.status_code == 201, created.text
    camera = created.json()
    assert camera["id"] == "front-gate"
    assert created.headers["location"] == "/api/v1/cameras/front-gate"
    assert camera["main_stream_url"] == "rtsp://192.168.1.64:554/Streaming/Channels/101"
    assert camera["sub_stream_url"] == "rtsp://192.168.1.64:554/Streaming/Channels/102"
    assert camera["record_url_masked"] == "rtsp://***@192.168.1.64:554/Streaming/Channels/101"
    assert camera["has_password"] is True
    assert "password" not in camera
    assert camera["segment_seconds"] == 60 and camera["record_mode"] == "continuous"

    listed = await client.get("/api/v1/cameras")
    assert [c["id"] for c in listed.json()] == ["front-gate"]
    got = await client.get("/api/v1/cameras/front-gate")
    assert got.json() == camera

    patched = await client.patch(
        "/api/v1/cameras/front-gate", json={"address": "192.168.1.65", "segment_seconds": 10}
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["main_stream_url"] == "rtsp://192.168.1.65:554/Streaming/Channels/101"
    assert body["segment_seconds"] == 10
    assert body["has_password"] is True
    assert body["updated_at"] >= camera["updated_at"]

    deleted = await client.delete("/api/v1/cameras/front-gate")
    assert deleted.status_code == 204
    missing = await client.get("/api/v1/cameras/front-gate")
    assert missing.status_code == 404
    assert missing.json()["error"] == "camera_not_found"


@pytest.mark.parametrize(
    ("vendor", "main", "sub"),
    [
        ("dahua", "/cam/realmonitor?channel=1&subtype=0", "/cam/realmonitor?channel=1&subtype=1"),
        ("axis", "/axis-media/media.amp", None),
        ("reolink", "/h264Preview_01_main", "/h264Preview_01_sub"),
    ],
)
async def test_vendor_templates(
    client: httpx.AsyncClient, vendor: str, main: str, sub: str | None
) -> None:
    response = await client.post(
        "/api/v1/cameras",
        json={"name": vendor, "vendor": vendor, "address": "cam.local", "rtsp_port": 8554},
    )
    assert response.status_code == 201, response.text
    camera = response.json()
    assert camera["main_stream_url"] == f"rtsp://cam.local:8554{main}"
    assert camera["sub_stream_url"] == (f"rtsp://cam.local:8554{sub}" if sub else None)
    assert camera["has_password"] is False


@pytest.mark.parametrize("vendor", ["onvif", "generic"])
async def test_onvif_and_generic_need_a_url(client: httpx.AsyncClient, vendor: str) -> None:
    response = await client.post(
        "/api/v1/cameras", json={"name": "x", "vendor": vendor, "address": "10.0.0.1"}
    )
    assert response.status_code == 422
    assert response.json()["error"] == "stream_url_required"
    assert await _count(client) == 0


async def test_credentials_in_a_url_move_to_their_fields(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/cameras",
        json={
            "id": "lobby",
            "name": "Lobby",
            "main_stream_url": "rtsp://viewer:p%40ss%3Aword@10.1.2.3:554/live",
        },
    )
    assert response.status_code == 201, response.text
    camera = response.json()
    assert camera["main_stream_url"] == "rtsp://10.1.2.3:554/live"
    assert camera["username"] == "viewer"
    assert camera["has_password"] is True
    assert camera["record_url_masked"] == "rtsp://***@10.1.2.3:554/live"
    assert "p@ss" not in response.text and "p%40ss" not in response.text


async def test_password_never_comes_back(client: httpx.AsyncClient) -> None:
    payload = {
        "id": "c1",
        "name": "C1",
        "vendor": "dahua",
        "address": "10.0.0.9",
        "username": "admin",
        "password": PASSWORD,
    }
    texts = [(await client.post("/api/v1/cameras", json=payload)).text]
    texts.append((await client.get("/api/v1/cameras")).text)
    texts.append((await client.get("/api/v1/cameras/c1")).text)
    texts.append((await client.patch("/api/v1/cameras/c1", json={"password": PASSWORD + "2"})).text)
    # a rejected request echoes nothing of the secret either
    bad = await client.post("/api/v1/cameras", json={**payload, "id": "c2", "segment_seconds": 1})
    assert bad.status_code == 422
    texts.append(bad.text)
    bad = await client.post("/api/v1/cameras", json={**payload, "id": "c3", "password": 12345678})
    assert bad.status_code == 422
    texts.append(bad.text)
    for text in texts:
        assert "Sup3r" not in text
        assert "Sup3r%24ecret" not in text


async def test_patch_can_clear_password_and_change_urls(client: httpx.AsyncClient) -> None:
    await client.post(
        "/api/v1/cameras",
        json={
            "id": "g",
            "name": "G",
            "main_stream_url": "rtsp://10.0.0.1/a",
            "username": "u",
            "password": "pw123456",
        },
    )
    cleared = await client.patch("/api/v1/cameras/g", json={"password": ""})
    assert cleared.json()["has_password"] is False
    moved = await client.patch(
        "/api/v1/cameras/g",
        json={"main_stream_url": "rtsps://10.0.0.2:322/b", "record_stream": "sub"},
    )
    assert moved.status_code == 200, moved.text
    body = moved.json()
    assert body["main_stream_url"] == "rtsps://10.0.0.2:322/b"
    assert body["record_url_masked"] == "rtsps://***@10.0.0.2:322/b"  # username still set


async def test_id_is_derived_and_duplicates_conflict(client: httpx.AsyncClient) -> None:
    body = {"name": "Parking Lot — Nord!", "main_stream_url": "rtsp://10.0.0.1/a"}
    first = await client.post("/api/v1/cameras", json=body)
    assert first.status_code == 201
    assert first.json()["id"] == "parking-lot-nord"
    again = await client.post("/api/v1/cameras", json=body)
    assert again.status_code == 409
    assert again.json()["error"] == "camera_exists"
    assert await _count(client) == 1


@pytest.mark.parametrize(
    "change",
    [
        {"segment_seconds": 1},
        {"segment_seconds": 3601},
        {"pre_roll_seconds": 301},
        {"pre_roll_seconds": -1},
        {"post_roll_seconds": 3601},
        {"record_mode": "sometimes"},
        {"record_stream": "third"},
        {"vendor": "acme"},
        {"rtsp_port": 0},
        {"rtsp_port": 70000},
        {"id": "Bad Id"},
        {"id": "../etc"},
        {"name": ""},
        {"unknown_field": 1},
        {"address": "bad host name"},
        {"address": "-oProxyCommand"},
    ],
)
async def test_out_of_bounds_is_422_and_creates_nothing(
    client: httpx.AsyncClient, change: dict[str, Any]
) -> None:
    body = {"name": "cam", "vendor": "hikvision", "address": "10.0.0.1", **change}
    response = await client.post("/api/v1/cameras", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"] in ("validation_error", "invalid_host")
    assert await _count(client) == 0


async def test_patch_out_of_bounds_changes_nothing(client: httpx.AsyncClient) -> None:
    await client.post(
        "/api/v1/cameras", json={"id": "p", "name": "P", "main_stream_url": "rtsp://h/a"}
    )
    before = (await client.get("/api/v1/cameras/p")).json()
    for change in (
        {"segment_seconds": 0},
        {"main_stream_url": "file:///etc/passwd"},
        {"name": None},
        {"address": "a b"},
    ):
        response = await client.patch("/api/v1/cameras/p", json=change)
        assert response.status_code == 422, (change, response.text)
    assert (await client.get("/api/v1/cameras/p")).json() == before


async def test_missing_camera_is_404_everywhere(client: httpx.AsyncClient) -> None:
    for method, path in (
        ("GET", "/api/v1/cameras/nope"),
        ("PATCH", "/api/v1/cameras/nope"),
        ("DELETE", "/api/v1/cameras/nope"),
        ("GET", "/api/v1/cameras/nope/test"),
    ):
        response = await client.request(method, path, json={} if method == "PATCH" else None)
        assert response.status_code == 404, (method, path)
        assert response.json()["error"] == "camera_not_found"


async def test_body_limit_and_malformed_json(client: httpx.AsyncClient, settings: Any) -> None:
    huge = json.dumps({"name": "x" * (settings.max_body_bytes + 10)})
    response = await client.post(
        "/api/v1/cameras", content=huge, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it streams
        for _ in range(settings.max_body_bytes // 1024 + 2):
            yield b" " * 1024

    streamed = await client.post(
        "/api/v1/cameras", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413
    broken = await client.post(
        "/api/v1/cameras", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert broken.status_code == 422
    assert await _count(client) == 0


async def test_headers_and_openapi(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/cameras")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    spec = (await client.get("/openapi.json")).json()
    assert "/api/v1/cameras/{camera_id}/test" in spec["paths"]
    camera_schema = spec["components"]["schemas"]["Camera"]["properties"]
    assert "password" not in camera_schema and "has_password" in camera_schema
    # ingest parses its body itself (pydantic-core from the bytes); the contract still names it
    ingest = spec["paths"]["/api/v1/ai/events"]["post"]["requestBody"]
    schema = ingest["content"]["application/json"]["schema"]
    assert ingest["required"] and schema == {"$ref": "#/components/schemas/IngestRequest"}
    detections = spec["components"]["schemas"]["IngestRequest"]["properties"]["detections"]
    assert detections["items"] == {"$ref": "#/components/schemas/DetectionIn"}
    assert "bbox" in spec["components"]["schemas"]["DetectionIn"]["properties"]
    health = await client.get("/healthz")
    assert health.json()["status"] == "ok"
