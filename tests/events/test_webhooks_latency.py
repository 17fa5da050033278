"""A receiver that hangs or answers 500 never slows the API: deliveries run beside it."""

from __future__ import annotations

import time

import httpx
import pytest
from fastapi import FastAPI

from heldar.app import Kernel
from heldar.settings import Settings
from tests.events.support import Receiver


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"webhook_allow_private": ["127.0.0.1/32"], "webhook_timeout_s": 2.0}
    )


async def _p99(client: httpx.AsyncClient, n: int = 60) -> float:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        assert (await client.get("/api/v1/events", params={"limit": 10})).status_code == 200
        times.append(time.perf_counter() - started)
    return sorted(times)[int(0.99 * (n - 1))]


async def test_api_p99_stays_flat_while_receivers_hang_and_fail(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    kernel: Kernel = app.state.kernel
    baseline = await _p99(client)
    async with Receiver(default="hang") as hanging, Receiver(default=500) as failing:
        for receiver in (hanging, failing):
            body = {"name": "r", "url": receiver.url}
            assert (await client.post("/api/v1/webhooks", json=body)).status_code == 201
        for _ in range(20):
            await kernel.events.append("trigger", camera_id="gate")
        await hanging.wait_for(16)  # every delivery slot is now stuck in a hanging request
        await failing.wait_for(4)
        loaded = await _p99(client)
    # flat: far below the 2 s a stuck delivery takes, and within a small factor of the baseline
    assert loaded < max(5 * baseline, 0.25), (baseline, loaded)
    assert kernel.observability.webhooks.outcomes["delivered"] == 0
