"""Live-view fixtures: a short idle timeout, the app under uvicorn, and a camera `cam` on the
password-protected simcam (so tests can look for its credentials where they must never be)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from heldar.settings import Settings
from heldar.simcam.server import SimCamServer
from tests.live.support import serving
from tests.support.auth import ADMIN_PASSWORD, ADMIN_USER, bearer, login
from tests.support.rtsp import SIMCAM_PASSWORD, SIMCAM_USER

IDLE_CLOSE_S = 1.0
UNREACHABLE = "rtsp://127.0.0.1:9/x"
"""A camera URL nothing answers (refusal tests never need its stream)."""


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"live_idle_close_secs": IDLE_CLOSE_S})


@dataclass(frozen=True)
class LiveSite:
    base: str
    http: httpx.AsyncClient
    """Logged in as the bootstrap admin."""
    camera: SimCamServer
    app: FastAPI


@pytest.fixture
async def site(app: FastAPI, simcam_auth: SimCamServer) -> AsyncIterator[LiveSite]:
    async with serving(app) as base, httpx.AsyncClient(base_url=base, timeout=20) as http:
        http.headers.update(bearer(await login(http, ADMIN_USER, ADMIN_PASSWORD)))
        created = await http.post(
            "/api/v1/cameras",
            json={
                "id": "cam",
                "name": "Front door",
                "main_stream_url": simcam_auth.url(1),
                "sub_stream_url": simcam_auth.url(2),
                "username": SIMCAM_USER,
                "password": SIMCAM_PASSWORD,
            },
        )
        assert created.status_code == 201, created.text
        yield LiveSite(base, http, simcam_auth, app)


@pytest.fixture
async def cams(client: httpx.AsyncClient) -> None:
    """Cameras `cam` and `other` that nothing serves (for tests of refusals)."""
    for cam in ("cam", "other"):
        body = {"id": cam, "name": cam, "main_stream_url": UNREACHABLE}
        created = await client.post("/api/v1/cameras", json=body)
        assert created.status_code == 201, created.text
