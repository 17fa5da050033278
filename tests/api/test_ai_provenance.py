"""`HELDAR_INGEST_PROVENANCE=enforce`: ingest without a frame ticket is refused."""

from __future__ import annotations

import httpx
import pytest

from heldar.settings import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"ingest_provenance": "enforce"})


async def test_enforced_provenance_needs_a_ticket(
    client: httpx.AsyncClient, anon_client: httpx.AsyncClient
) -> None:
    body = {"id": "gate", "name": "gate", "main_stream_url": "rtsp://127.0.0.1:9/x"}
    assert (await client.post("/api/v1/cameras", json=body)).status_code == 201
    key = (await client.post("/api/v1/api-keys", json={"name": "w"})).json()["token"]
    batch = {
        "camera_id": "gate",
        "task_type": "person",
        "detections": [{"label": "person", "confidence": 0.9, "bbox": [0.1, 0.1, 0.2, 0.2]}],
    }
    refused = await anon_client.post("/api/v1/ai/events", json=batch, headers={"X-API-Key": key})
    assert refused.status_code == 403
    assert refused.json()["error"] == "ticket_required"
    stored = await client.get("/api/v1/cameras/gate/detections")
    assert stored.json() == []
