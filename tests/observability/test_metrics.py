"""`/metrics`: who may scrape, the reference names, bounded labels and no secrets; `/system`;
camera health routes and their scope."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI

from heldar.api.app import create_app
from heldar.app import Kernel
from heldar.settings import Settings
from tests.conftest import ClientAs

CAMERA_PASSWORD = "cam-pass-w0rd-xyz"
WEBHOOK_SECRET = "hook-secret-0123456789"


def _value(text: str, name: str, labels: str = "") -> float:
    match = re.search(rf"^{re.escape(name + labels)} (\S+)$", text, re.MULTILINE)
    assert match, f"{name}{labels} missing"
    return float(match.group(1))


async def _camera(client: httpx.AsyncClient, camera_id: str = "gate") -> None:
    body = {
        "id": camera_id,
        "name": camera_id,
        "main_stream_url": "rtsp://10.0.0.5/main",
        "username": "admin",
        "password": CAMERA_PASSWORD,
    }
    assert (await client.post("/api/v1/cameras", json=body)).status_code == 201


async def test_metrics_carry_the_reference_names_and_no_secret(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await _camera(client)
    hook = {  # disabled: a test never sends anything beyond 127.0.0.1
        "name": "h",
        "url": "https://93.184.216.34/x",
        "secret": WEBHOOK_SECRET,
        "enabled": False,
    }
    assert (await client.post("/api/v1/webhooks", json=hook)).status_code == 201
    kernel: Kernel = app.state.kernel
    await kernel.events.append("camera_offline", camera_id="gate", severity="warning")
    await client.get("/api/v1/cameras/gate")
    await client.get("/api/v1/cameras/some-other-id")
    await client.get("/api/v1/no/such/route/12345")

    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    assert _value(text, "heldar_cameras_total") == 1
    assert _value(text, "heldar_camera_up", '{camera_id="gate"}') == 0
    assert _value(text, "heldar_camera_reconnects_total", '{camera_id="gate"}') == 0
    assert _value(text, "heldar_camera_segments_written_total", '{camera_id="gate"}') == 0
    assert _value(text, "heldar_events_total", '{severity="warning"}') >= 1
    assert _value(text, "heldar_webhook_outbox_pending") == 0
    assert _value(text, "heldar_disk_total_bytes") > 0
    assert _value(text, "heldar_recordings_bytes") == 0
    assert 'heldar_build_info{python="' in text
    for name in (
        "heldar_ingest_batches_total",
        "heldar_ingest_detections_total",
        "heldar_event_stream_subscribers",
        'heldar_webhook_deliveries_total{outcome="failed"}',
        "heldar_http_request_duration_seconds_bucket",
    ):
        assert name in text, name
    routes = set(re.findall(r'route="([^"]*)"', text))
    assert "/api/v1/cameras/{camera_id}" in routes and "unmatched" in routes
    assert not any("some-other-id" in r or "12345" in r for r in routes)  # never a raw path
    for secret in (CAMERA_PASSWORD, WEBHOOK_SECRET, client.headers["Authorization"][7:]):
        assert secret not in text


async def test_scraping_needs_system_read_unscoped(
    anon_client: httpx.AsyncClient, client_as: ClientAs
) -> None:
    refused = await anon_client.get("/metrics")
    assert refused.status_code == 401 and refused.json()["error"] == "unauthorized"
    viewer = await client_as("viewer")
    assert (await viewer.get("/metrics")).status_code == 200
    scoped = await client_as("viewer", camera_ids=["gate"])
    denied = await scoped.get("/metrics")
    assert denied.status_code == 403 and denied.json()["error"] == "camera_scope"


async def test_an_allowlisted_address_scrapes_without_a_credential(settings: Settings) -> None:
    allowed = settings.model_copy(update={"metrics_allow": ["127.0.0.1/32"]})
    elsewhere = settings.model_copy(update={"metrics_allow": ["10.9.0.0/16"]})
    for config, status in ((allowed, 200), (elsewhere, 401)):
        app = create_app(config)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                assert (await http.get("/metrics")).status_code == status
                assert (await http.get("/api/v1/system")).status_code == 401  # only /metrics


async def test_system_overview(client: httpx.AsyncClient) -> None:
    await _camera(client)
    system = (await client.get("/api/v1/system")).json()
    assert system["store"]["kind"] == "sqlite"
    assert system["counts"]["cameras"] == 1 and system["counts"]["cameras_recording"] == 0
    assert system["recordings"] == {"bytes": 0, "segments": 0}
    assert system["disk"]["total_bytes"] >= system["disk"]["free_bytes"] > 0
    assert system["retention"]["min_free_disk_gb"] == 0
    assert system["uptime_s"] >= 0 and system["version"]
    assert system["mqtt_connected"] is None
    assert CAMERA_PASSWORD not in str(system)


async def test_camera_health_routes_follow_the_scope(
    client: httpx.AsyncClient, client_as: ClientAs
) -> None:
    await _camera(client, "gate")
    await _camera(client, "yard")
    every = (await client.get("/api/v1/health/cameras")).json()
    assert [h["camera_id"] for h in every] == ["gate", "yard"]
    viewer = await client_as("viewer", camera_ids=["yard"])
    assert [h["camera_id"] for h in (await viewer.get("/api/v1/health/cameras")).json()] == ["yard"]
    one = (await viewer.get("/api/v1/cameras/yard/health")).json()
    assert one["state"] == "unknown" and one["stale_after_s"] == 180 and one["online"] is False
    for path in ("/api/v1/cameras/gate/health", "/api/v1/cameras/nope/health"):
        missing = await viewer.get(path)
        assert missing.status_code == 404 and missing.json()["error"] == "camera_not_found"


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
async def test_probes_are_public(anon_client: httpx.AsyncClient, path: str) -> None:
    response = await anon_client.get(path)
    assert response.status_code == 200
    assert response.json()["status"] in ("ok", "ready")
