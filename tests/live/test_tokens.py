"""Live tokens over the real app (ASGI): issue, scope, refusal, expiry, revocation.

No camera is dialled here: every request below is decided by the token before any pull starts
(`init.mp4` without a running pull answers 404, which proves the token was accepted).
"""

from __future__ import annotations

import logging

import httpx
import pytest
from fastapi import FastAPI

from heldar.clock import Clock
from heldar.live.tokens import TokenQueryFilter
from tests.conftest import ClientAs
from tests.support.auth import ADMIN_PASSWORD, ADMIN_USER, bearer, login
from tests.support.clock import FakeClock


@pytest.fixture
def clock() -> Clock | None:
    return FakeClock()


async def _token(http: httpx.AsyncClient, camera: str = "cam") -> str:
    view = await http.get(f"/api/v1/cameras/{camera}/liveview")
    assert view.status_code == 200, view.text
    assert view.headers["cache-control"] == "no-store"
    token: str = view.json()["token"]
    return token


async def _init(http: httpx.AsyncClient, token: str | None, camera: str = "cam") -> int:
    params = {"token": token} if token is not None else {}
    return (await http.get(f"/live/{camera}/init.mp4", params=params)).status_code


async def test_liveview_answer_is_reference_shaped(client: httpx.AsyncClient, cams: None) -> None:
    view = (await client.post("/api/v1/cameras/cam/liveview")).json()
    assert set(view) == {"name", "hls_url", "ws_url", "webrtc_url", "token", "expires_at"}
    token = view["token"]
    assert view["hls_url"] == f"/live/cam/index.m3u8?token={token}"
    assert view["ws_url"] == f"/live/cam/ws?token={token}"
    assert view["webrtc_url"] is None
    assert view["name"] == "cam"
    main = (await client.get("/api/v1/cameras/cam/liveview", params={"profile": "main"})).json()
    assert main["token"] != token


async def test_missing_bad_foreign_tokens_are_refused(
    client: httpx.AsyncClient, anon_client: httpx.AsyncClient, cams: None
) -> None:
    token = await _token(client)
    assert await _init(anon_client, token) == 404  # accepted: no pull runs, so no init yet
    assert await _init(anon_client, None) == 401
    assert await _init(anon_client, token[:-2] + "xx") == 401
    assert await _init(anon_client, "garbage") == 401
    assert await _init(anon_client, token, camera="other") == 403
    playlist = await anon_client.get("/live/cam/index.m3u8")
    assert playlist.status_code == 401
    assert (await anon_client.get("/api/v1/cameras/cam/liveview")).status_code == 401
    assert (await anon_client.get("/live/cam/../index.m3u8")).status_code in (401, 404)


async def test_tokens_expire_unless_used(
    client: httpx.AsyncClient, anon_client: httpx.AsyncClient, cams: None, clock: FakeClock
) -> None:
    token = await _token(client)
    clock.advance(50)
    assert await _init(anon_client, token) == 404  # used: renewed for another 60 s
    clock.advance(50)
    assert await _init(anon_client, token) == 404
    clock.advance(61)
    assert await _init(anon_client, token) == 401


async def test_scope_and_capability_as_in_the_api(client_as: ClientAs, cams: None) -> None:
    scoped = await client_as("guard", camera_ids=["other"])
    assert (await scoped.get("/api/v1/cameras/cam/liveview")).status_code == 404
    assert (await scoped.get("/api/v1/cameras/other/liveview")).status_code == 200
    assert (await scoped.get("/api/v1/live")).status_code == 403
    viewer = await client_as("viewer")
    assert (await viewer.get("/api/v1/cameras/cam/liveview")).status_code == 200


async def test_logout_revokes_the_token(
    app: FastAPI, anon_client: httpx.AsyncClient, cams: None
) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        http.headers.update(bearer(await login(http, ADMIN_USER, ADMIN_PASSWORD)))
        token = await _token(http)
        assert await _init(anon_client, token) == 404
        assert (await http.post("/api/v1/auth/logout")).status_code == 204
    assert await _init(anon_client, token) == 401


async def test_api_key_token_dies_with_the_key(
    app: FastAPI, client: httpx.AsyncClient, anon_client: httpx.AsyncClient, cams: None
) -> None:
    created = await client.post(
        "/api/v1/api-keys", json={"name": "wall", "role": "viewer", "camera_ids": ["cam"]}
    )
    assert created.status_code == 201, created.text
    key = created.json()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers={"X-API-Key": key["token"]}
    ) as http:
        view = await http.get("/api/v1/cameras/cam/liveview")
        assert view.status_code == 200, view.text
        assert key["token"] not in view.text  # never an API key in a URL
        token = view.json()["token"]
        assert (await http.get("/api/v1/cameras/other/liveview")).status_code == 404
    assert await _init(anon_client, token) == 404
    assert (await client.delete(f"/api/v1/api-keys/{key['id']}")).status_code == 204
    assert await _init(anon_client, token) == 401


def test_tokens_are_masked_in_uvicorn_log_lines() -> None:
    record = logging.LogRecord(
        "uvicorn.error", logging.INFO, __file__, 1, '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:5", "/live/cam/ws?token=abc.cam.sub.XYZ&x=1"), None,
    )  # fmt: skip
    assert TokenQueryFilter().filter(record)
    assert record.getMessage() == '127.0.0.1:5 - "WebSocket /live/cam/ws?token=***&x=1" [accepted]'
