"""The health watch reports availability changes (what MQTT publishes), and forgets removed cameras."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from heldar.app import Kernel


async def test_availability_changes_are_reported_once(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    kernel: Kernel = app.state.kernel
    watch = kernel.observability.health
    heard: list[tuple[str, bool | None]] = []
    watch.subscribe(lambda camera_id, online: heard.append((camera_id, online)))
    body = {"id": "gate", "name": "Gate", "main_stream_url": "rtsp://10.0.0.5/main"}
    assert (await client.post("/api/v1/cameras", json=body)).status_code == 201
    await watch.look()
    await watch.look()  # nothing changed: nothing said
    assert heard == [("gate", False)]
    assert (await client.delete("/api/v1/cameras/gate")).status_code == 204
    await watch.look()
    assert heard == [("gate", False), ("gate", None)]
