"""Deny by default, proven from the route table itself (SECURITY.md class 3 and 7).

Every route the app serves — JSON, media, streams, whatever is added later — is walked: it must
declare a capability or be one of the listed public routes; without a credential it answers 401;
each role gets exactly its capabilities; and a cookie session cannot change anything without the
CSRF header. Nothing here lists routes by hand, so new routes are covered the day they appear.
"""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from heldar.api.app import create_app
from heldar.api.deps import PUBLIC_ROUTES, RouteInfo, app_routes, undeclared_routes
from heldar.auth.rbac import Role, capabilities_of
from heldar.settings import Settings
from tests.conftest import ClientAs
from tests.support.auth import ADMIN_PASSWORD, ADMIN_USER

DUMMY = "999999"  # parses as an int id and matches the camera-id slug pattern; exists nowhere
_PARAM = re.compile(r"\{[^}]+\}")
_BODY_METHODS = {"POST", "PUT", "PATCH"}


def _concrete(path: str) -> str:
    return _PARAM.sub(DUMMY, path)


def _protected(app: FastAPI) -> list[tuple[str, RouteInfo]]:
    """(method, route) for every non-public HTTP route; session-ending routes last."""
    pairs = [
        (method, route)
        for route in app_routes(app)
        if not route.public and not route.websocket
        for method in sorted(route.methods - {"HEAD"})
    ]
    return sorted(pairs, key=lambda pair: pair[1].path.endswith("/logout"))


async def _call(http: httpx.AsyncClient, method: str, path: str, **kw: object) -> httpx.Response:
    body = {"json": {}} if method in _BODY_METHODS else {}
    return await http.request(method, _concrete(path), **body, **kw)  # type: ignore[arg-type]


def test_every_route_declares_a_capability_or_is_listed_public(app: FastAPI) -> None:
    assert undeclared_routes(app) == []
    routes = app_routes(app)
    assert {r.path for r in routes if r.public} <= set(PUBLIC_ROUTES)
    assert len([r for r in routes if not r.public]) >= 20


def test_an_undeclared_route_or_a_static_mount_is_refused(settings: Settings) -> None:
    app = create_app(settings)

    @app.get("/api/v1/oops")
    async def oops() -> dict[str, str]:
        return {}

    app.mount("/media/recordings", StaticFiles(directory=settings.data_dir, check_dir=False))
    problems = undeclared_routes(app)
    assert any("/api/v1/oops" in p for p in problems), problems
    assert any("/media/recordings" in p for p in problems), problems


async def test_without_a_credential_only_the_public_routes_answer(
    app: FastAPI, anon_client: httpx.AsyncClient
) -> None:
    for method, route in _protected(app):
        response = await _call(anon_client, method, route.path)
        assert response.status_code == 401, (method, route.path, response.text)
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"] == "unauthorized"
    for path in ("/healthz", "/readyz", "/openapi.json"):
        assert (await anon_client.get(path)).status_code == 200, path
    login = await anon_client.post(
        "/api/v1/auth/login", json={"username": ADMIN_USER, "password": ADMIN_PASSWORD}
    )
    assert login.status_code == 200


@pytest.mark.parametrize("role", list(Role))
async def test_each_role_gets_exactly_its_capabilities(
    app: FastAPI, client_as: ClientAs, client: httpx.AsyncClient, role: Role
) -> None:
    http = await client_as(role.value)
    granted = capabilities_of(role)
    for method, route in _protected(app):
        response = await _call(http, method, route.path)
        allowed = route.capabilities <= granted
        where = (role.value, method, route.path, response.status_code, response.text[:200])
        if allowed:
            assert response.status_code not in (401, 403), where
            assert response.status_code < 500, where
        else:
            assert response.status_code == 403, where
            assert response.json()["error"] == "forbidden", where
    denials = (await client.get("/api/v1/audit", params={"action": "auth.forbidden"})).json()
    refused = sum(1 for _, r in _protected(app) if not r.capabilities <= granted)
    assert len([d for d in denials if d["actor"].startswith(role.value)]) == refused


async def test_cookie_mutations_need_the_csrf_header_and_same_origin(app: FastAPI) -> None:
    mutations = [(m, r) for m, r in _protected(app) if m not in ("GET", "HEAD", "OPTIONS")]
    assert mutations
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        login = await http.post(
            "/api/v1/auth/login", json={"username": ADMIN_USER, "password": ADMIN_PASSWORD}
        )
        assert login.status_code == 200 and "heldar_session" in http.cookies
        for headers in (
            {},
            {"Origin": "http://testserver"},
            {"X-Requested-With": "fetch"},  # no Origin
            {"X-Requested-With": "fetch", "Origin": "http://evil.example"},
        ):
            for method, route in mutations:
                response = await _call(http, method, route.path, headers=headers)
                assert response.status_code == 403, (headers, method, route.path)
                assert response.json()["error"] == "csrf_failed"
        # reads need no proof
        assert (await http.get("/api/v1/cameras")).status_code == 200
        same_origin = {"X-Requested-With": "fetch", "Origin": "http://testserver"}
        for method, route in mutations:
            response = await _call(http, method, route.path, headers=same_origin)
            assert response.status_code not in (401, 403), (method, route.path, response.text)
            assert response.status_code < 500


async def test_header_credentials_are_not_subject_to_csrf(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/api/v1/cameras",
        json={"id": "c1", "name": "C1", "main_stream_url": "rtsp://10.0.0.1/a"},
        headers={"Origin": "http://evil.example"},
    )
    assert created.status_code == 201


async def test_the_published_contract_says_what_each_operation_needs(
    app: FastAPI, anon_client: httpx.AsyncClient
) -> None:
    spec = (await anon_client.get("/openapi.json")).json()
    assert set(spec["components"]["securitySchemes"]) == {"bearer", "apiKey", "sessionCookie"}
    for method, route in _protected(app):
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)  # OpenAPI drops converters
        operation = spec["paths"][path][method.lower()]
        assert operation["x-required-capabilities"] == sorted(c.value for c in route.capabilities)
        assert operation["security"]
    login = spec["paths"]["/api/v1/auth/login"]["post"]
    assert "security" not in login and "x-required-capabilities" not in login
