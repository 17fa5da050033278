"""`heldar serve --demo`: a simulated camera is served and registered as `demo`, ready to test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from heldar.api.app import create_app
from heldar.settings import Settings
from tests.support.auth import ADMIN_PASSWORD, ADMIN_USER, FAST_HASHING, bearer, login

pytestmark = pytest.mark.slow


@pytest.fixture
async def demo_client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        data_dir=tmp_path / "data",
        demo_rtsp_port=0,
        bootstrap_admin_password=ADMIN_PASSWORD,
        **FAST_HASHING,
    )
    app = create_app(settings, demo=True)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            client.headers.update(bearer(await login(client, ADMIN_USER, ADMIN_PASSWORD)))
            yield client


async def test_demo_camera_is_registered_and_streams(demo_client: httpx.AsyncClient) -> None:
    camera = (await demo_client.get("/api/v1/cameras/demo")).json()
    assert camera["main_stream_url"].startswith("rtsp://127.0.0.1:")
    result = (await demo_client.get("/api/v1/cameras/demo/test")).json()
    assert result["reachable"] is True, result
    assert (result["codec"], result["width"], result["height"]) == ("h264", 1280, 720)
