"""Shared fixtures: settings on a temp data dir, the real app over ASGI, both store backends.

HTTP clients: `client` is logged in as the bootstrap admin (Bearer token), `anon_client` has no
credential, and `client_as(role, camera_ids=None)` creates a user of that role and returns a
client logged in as it. A module that needs to jump time overrides the `clock` fixture with a
`FakeClock` (tests/support/clock.py); the kernel then runs on it.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from heldar.api.app import create_app
from heldar.clock import Clock
from heldar.settings import Settings
from heldar.store.engine import Store
from tests.support.auth import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    FAST_HASHING,
    USER_PASSWORD,
    bearer,
    login,
)

pytest_plugins = ["tests.support.postgres", "tests.support.rtsp"]

ClientAs = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        camera_test_timeout_s=5.0,
        # API tests register cameras at addresses that must never be dialled (10.x, 192.168.x):
        # the recorder is off unless a test module overrides `settings` with recording on.
        recording_enabled=False,
        ai_sampling_enabled=False,  # likewise for the samplers of AI tasks
        # the free-disk floor would prune test footage on a nearly full CI disk
        min_free_disk_gb=0,
        bootstrap_admin_user=ADMIN_USER,
        bootstrap_admin_password=ADMIN_PASSWORD,
        **FAST_HASHING,
    )


@pytest.fixture
def clock() -> Clock | None:
    """The kernel's clock: None is the system clock; override with a FakeClock to jump time."""
    return None


@pytest.fixture
async def app(settings: Settings, clock: Clock | None) -> AsyncIterator[FastAPI]:
    application = create_app(settings, clock=clock)
    async with application.router.lifespan_context(application):
        yield application


def _client(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
async def anon_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client without any credential."""
    async with _client(app) as http:
        yield http


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client logged in as the bootstrap admin (Authorization: Bearer)."""
    async with _client(app) as http:
        http.headers.update(bearer(await login(http, ADMIN_USER, ADMIN_PASSWORD)))
        yield http


@pytest.fixture
async def client_as(app: FastAPI, client: httpx.AsyncClient) -> AsyncIterator[ClientAs]:
    """`await client_as("guard", camera_ids=["cam1"])`: a client logged in as a new user."""
    opened: list[httpx.AsyncClient] = []
    serial = itertools.count(1)

    async def make(role: str, *, camera_ids: list[str] | None = None) -> httpx.AsyncClient:
        username = f"{role}-{next(serial)}"
        body = {"username": username, "password": USER_PASSWORD, "role": role}
        if camera_ids is not None:
            body["camera_ids"] = camera_ids  # type: ignore[assignment]
        created = await client.post("/api/v1/users", json=body)
        assert created.status_code == 201, created.text
        http = _client(app)
        opened.append(http)
        http.headers.update(bearer(await login(http, username, USER_PASSWORD)))
        return http

    try:
        yield make
    finally:
        for http in opened:
            await http.aclose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store URL on each backend: a SQLite file, and a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'heldar.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    """A migrated store on each backend."""
    db = Store(store_url)
    await db.migrate()
    try:
        yield db
    finally:
        await db.close()
