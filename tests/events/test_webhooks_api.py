"""`/api/v1/webhooks` over the real app: contract, bad input, secrets, SSRF refusal, scope, audit,
and delivery of events the kernel logs to a real receiver."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from heldar.app import Kernel
from heldar.logs import redact
from heldar.settings import Settings
from tests.conftest import ClientAs
from tests.events.support import Receiver
from tests.support.waiting import eventually

SECRET = "whsec-api-0123456789"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"webhook_allow_private": ["127.0.0.1/32"], "webhook_timeout_s": 1.0}
    )


async def _count(client: httpx.AsyncClient) -> int:
    return len((await client.get("/api/v1/webhooks")).json())


async def test_crud_keeps_the_secret_write_only(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body = {
        "name": "ops",
        "url": "http://127.0.0.1:9/hook",
        "event_types": ["camera_offline"],
        "min_severity": "warning",
        "secret": SECRET,
    }
    created = await client.post("/api/v1/webhooks", json=body)
    assert created.status_code == 201, created.text
    hook = created.json()
    assert hook["has_secret"] is True and "secret" not in hook
    assert hook["event_types"] == ["camera_offline"] and hook["enabled"] is True
    listed = await client.get("/api/v1/webhooks")
    assert [h["id"] for h in listed.json()] == [hook["id"]]

    patched = await client.patch(
        f"/api/v1/webhooks/{hook['id']}", json={"enabled": False, "event_types": []}
    )
    assert patched.status_code == 200
    assert patched.json()["enabled"] is False and patched.json()["event_types"] == ["*"]
    assert patched.json()["has_secret"] is True  # absent: kept
    cleared = await client.patch(f"/api/v1/webhooks/{hook['id']}", json={"secret": None})
    assert cleared.json()["has_secret"] is False

    audit = (await client.get("/api/v1/audit", params={"limit": 100})).json()
    assert {"webhook.create", "webhook.update"} <= {a["action"] for a in audit}
    for text in (listed.text, patched.text, json.dumps(audit), redact(caplog.text)):
        assert SECRET not in text  # the log handler redacts even the driver's debug lines

    assert (await client.delete(f"/api/v1/webhooks/{hook['id']}")).status_code == 204
    assert (await client.delete(f"/api/v1/webhooks/{hook['id']}")).status_code == 404
    assert await _count(client) == 0


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"name": "x", "url": "ftp://127.0.0.1/h"}, 422, "invalid_webhook_url"),
        ({"name": "x", "url": "http://u:p@127.0.0.1/h"}, 422, "invalid_webhook_url"),
        ({"name": "x", "url": "http://169.254.169.254/latest"}, 422, "webhook_target_refused"),
        ({"name": "x", "url": "http://10.0.0.1/h"}, 422, "webhook_target_refused"),
        ({"name": "x", "url": "http://[::1]:9/h"}, 422, "webhook_target_refused"),
        ({"name": "x", "url": "http://127.0.0.1/h", "secret": "short"}, 422, "validation_error"),
        (
            {"name": "x", "url": "http://127.0.0.1/h", "min_severity": "loud"},
            422,
            "validation_error",
        ),
        (
            {"name": "x", "url": "http://127.0.0.1/h", "event_types": ["a b"]},
            422,
            "validation_error",
        ),
        ({"name": " ", "url": "http://127.0.0.1/h"}, 422, "validation_error"),
        ({"name": "x", "url": "http://127.0.0.1/h", "extra": 1}, 422, "validation_error"),
    ],
)
async def test_bad_input_is_a_4xx_with_a_code_and_changes_nothing(
    client: httpx.AsyncClient, body: dict[str, object], status: int, code: str
) -> None:
    response = await client.post("/api/v1/webhooks", json=body)
    assert response.status_code == status, response.text
    assert response.json()["error"] == code
    assert "p@" not in response.text
    assert await _count(client) == 0


async def test_loopback_needs_the_operator_allowlist(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    # this module allowlists 127.0.0.1/32 only: its neighbour stays refused
    refused = await client.post(
        "/api/v1/webhooks", json={"name": "x", "url": "http://127.0.0.2:9/h"}
    )
    assert refused.json()["error"] == "webhook_target_refused"
    assert "HELDAR_WEBHOOK_ALLOW_PRIVATE" in refused.json()["detail"]


async def test_unknown_ids_and_bad_paths(client: httpx.AsyncClient) -> None:
    for method, path in (
        ("PATCH", "/api/v1/webhooks/424242"),
        ("POST", "/api/v1/webhooks/424242/test"),
        ("GET", "/api/v1/webhooks/424242/deliveries"),
    ):
        response = await client.request(method, path, json={} if method == "PATCH" else None)
        assert response.status_code == 404 and response.json()["error"] == "webhook_not_found"
    assert (await client.get("/api/v1/webhooks/0/deliveries")).status_code == 422
    bad = await client.get("/api/v1/webhooks/1/deliveries", params={"status": "weird"})
    assert bad.status_code == 422


async def test_a_camera_scoped_credential_cannot_touch_webhooks(
    client: httpx.AsyncClient, client_as: ClientAs
) -> None:
    scoped = await client_as("manager", camera_ids=["gate"])
    for method, path in (("GET", "/api/v1/webhooks"), ("POST", "/api/v1/webhooks")):
        body = {"name": "x", "url": "http://127.0.0.1:9/h"} if method == "POST" else None
        response = await scoped.request(method, path, json=body)
        assert response.status_code == 403 and response.json()["error"] == "camera_scope"
    assert await _count(client) == 0


async def test_kernel_events_reach_a_receiver_signed_and_the_test_button_works(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    kernel: Kernel = app.state.kernel
    async with Receiver() as receiver:
        created = await client.post(
            "/api/v1/webhooks",
            json={"name": "ops", "url": receiver.url, "secret": SECRET, "min_severity": "warning"},
        )
        hook = created.json()["id"]
        await kernel.events.append("trigger", camera_id="gate", severity="info")
        offline = await kernel.events.append("camera_offline", camera_id="gate", severity="warning")
        [request] = await receiver.wait_for(1)
        assert request.json()["id"] == offline
        signature = hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
        assert request.headers["x-heldar-signature"] == f"sha256={signature}"

        tested = await client.post(f"/api/v1/webhooks/{hook}/test")
        assert tested.status_code == 200
        assert tested.json()["ok"] is True and tested.json()["status"] == 200
        await receiver.wait_for(2)
        assert receiver.requests[1].json()["event_type"] == "test"

        async def both_recorded() -> list[dict[str, object]]:
            rows = (await client.get(f"/api/v1/webhooks/{hook}/deliveries")).json()
            return rows if len(rows) == 2 and rows[1]["status"] == "delivered" else []

        rows = await eventually(both_recorded, timeout=5)
        assert [r["event_type"] for r in rows] == ["test", "camera_offline"]
        assert rows[1]["event_id"] == offline and rows[1]["subscription_id"] == hook
        delivered = await client.get(
            f"/api/v1/webhooks/{hook}/deliveries", params={"status": "delivered", "limit": 1}
        )
        assert len(delivered.json()) == 1
