"""Login, sessions, logout, password changes and API keys over HTTP, on a fake clock.

Whatever ends a credential (logout, expiry, idling, disabling, a password change, revocation)
takes effect on the very next request.
"""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import ClientAs
from tests.support.auth import ADMIN_PASSWORD, ADMIN_USER, USER_PASSWORD, bearer, login
from tests.support.clock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _http(app: FastAPI, base_url: str = "http://testserver") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)


async def test_login_answers_a_token_and_sets_a_strict_cookie(
    anon_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    response = await anon_client.post(
        "/api/v1/auth/login", json={"username": "ADMIN", "password": ADMIN_PASSWORD}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token"].startswith("hs_") and len(body["token"]) >= 46
    assert body["expires_at"].startswith((clock.now() + timedelta(hours=12)).isoformat()[:19])
    assert body["user"]["username"] == ADMIN_USER and body["user"]["role"] == "admin"
    assert "password" not in response.text and "argon2" not in response.text
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"heldar_session={body['token']};")
    for attribute in ("HttpOnly", "SameSite=strict", "Path=/", "Max-Age=43200"):
        assert attribute.lower() in cookie.lower(), cookie
    assert "secure" not in cookie.lower()  # plain HTTP and HELDAR_AUTH_COOKIE_SECURE unset
    assert response.headers["cache-control"] == "no-store"
    me = await anon_client.get("/api/v1/auth/me")  # the cookie alone authenticates reads
    assert me.status_code == 200
    assert me.json()["auth_method"] == "cookie"
    anon_client.cookies.clear()
    me = await anon_client.get("/api/v1/auth/me", headers=bearer(body["token"]))
    assert me.json()["auth_method"] == "bearer"
    assert "users:manage" in me.json()["capabilities"]


async def test_cookie_is_secure_over_https(app: FastAPI) -> None:
    async with _http(app, "https://testserver") as http:
        response = await http.post(
            "/api/v1/auth/login", json={"username": ADMIN_USER, "password": ADMIN_PASSWORD}
        )
    assert "secure" in response.headers["set-cookie"].lower()


async def test_missing_or_bad_credentials_are_401_with_a_bearer_challenge(
    anon_client: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    cases = [
        ({}, "unauthorized"),
        (bearer("hs_" + "x" * 43), "invalid_credential"),
        (bearer("not-even-ours"), "invalid_credential"),
        ({"Authorization": "Basic YWRtaW46YWRtaW4="}, "unauthorized"),
        ({"X-API-Key": "hk_" + "y" * 43}, "invalid_credential"),
        ({"Cookie": "heldar_session=hs_zzz"}, "invalid_credential"),
    ]
    for headers, code in cases:
        response = await anon_client.get("/api/v1/cameras", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"] == code
    denied = (await client.get("/api/v1/audit", params={"action": "auth.denied"})).json()
    assert len(denied) == len(cases)
    assert {d["outcome"] for d in denied} == {"denied"}
    assert all(d["target"] == "GET /api/v1/cameras" for d in denied)


async def test_logout_ends_the_session_on_the_next_request(app: FastAPI) -> None:
    async with _http(app) as http:
        token = await login(http, ADMIN_USER, ADMIN_PASSWORD)
        other = await login(http, ADMIN_USER, ADMIN_PASSWORD)
        out = await http.post("/api/v1/auth/logout", headers=bearer(token))
        assert out.status_code == 204
        assert "heldar_session=" in out.headers["set-cookie"]  # the browser forgets it too
        assert (await http.get("/api/v1/auth/me", headers=bearer(token))).status_code == 401
        assert (await http.get("/api/v1/auth/me", headers=bearer(other))).status_code == 200


async def test_sessions_end_after_idling_and_after_their_lifetime(
    app: FastAPI, clock: FakeClock
) -> None:
    async with _http(app) as http:
        idle = await login(http, ADMIN_USER, ADMIN_PASSWORD)
        busy = await login(http, ADMIN_USER, ADMIN_PASSWORD)
        clock.advance(119 * 60)
        assert (await http.get("/api/v1/auth/me", headers=bearer(busy))).status_code == 200
        clock.advance(2 * 60)  # `idle` has now been unused for 2 h 1 min, `busy` for 2 min
        assert (await http.get("/api/v1/auth/me", headers=bearer(idle))).status_code == 401
        for _ in range(9):  # keep `busy` in use, hourly, up to 12 h after login
            clock.advance(3600)
            assert (await http.get("/api/v1/auth/me", headers=bearer(busy))).status_code == 200
        clock.advance(3600)
        assert (await http.get("/api/v1/auth/me", headers=bearer(busy))).status_code == 401


async def test_password_change_needs_the_current_one_and_ends_other_sessions(
    app: FastAPI, client_as: ClientAs
) -> None:
    here = await client_as("viewer")
    me = (await here.get("/api/v1/auth/me")).json()
    async with _http(app) as there:
        there.headers.update(bearer(await login(there, me["username"], USER_PASSWORD)))
        wrong = await here.post(
            "/api/v1/auth/password",
            json={"current_password": "not-the-one", "new_password": "A-new-passw0rd"},
        )
        assert wrong.status_code == 403
        assert wrong.json()["error"] == "current_password_invalid"
        short = await here.post(
            "/api/v1/auth/password",
            json={"current_password": USER_PASSWORD, "new_password": "short"},
        )
        assert short.status_code == 422
        changed = await here.post(
            "/api/v1/auth/password",
            json={"current_password": USER_PASSWORD, "new_password": "A-new-passw0rd"},
        )
        assert changed.status_code == 204
        assert (await here.get("/api/v1/auth/me")).status_code == 200
        assert (await there.get("/api/v1/auth/me")).status_code == 401
        old = await there.post(
            "/api/v1/auth/login", json={"username": me["username"], "password": USER_PASSWORD}
        )
        assert old.status_code == 401
        await login(there, me["username"], "A-new-passw0rd")


async def test_disable_and_role_change_take_effect_on_the_next_request(
    client: httpx.AsyncClient, client_as: ClientAs
) -> None:
    manager = await client_as("manager")
    me = (await manager.get("/api/v1/auth/me")).json()
    camera = {"id": "c1", "name": "C1", "main_stream_url": "rtsp://10.0.0.1/a"}
    assert (await manager.post("/api/v1/cameras", json=camera)).status_code == 201
    demoted = await client.patch(f"/api/v1/users/{me['user_id']}", json={"role": "viewer"})
    assert demoted.status_code == 200 and demoted.json()["role"] == "viewer"
    assert (await manager.delete("/api/v1/cameras/c1")).status_code == 403
    assert (await manager.get("/api/v1/cameras/c1")).status_code == 200
    disabled = await client.patch(f"/api/v1/users/{me['user_id']}", json={"enabled": False})
    assert disabled.json()["enabled"] is False
    assert (await manager.get("/api/v1/cameras")).status_code == 401
    refused = await manager.post(
        "/api/v1/auth/login", json={"username": me["username"], "password": USER_PASSWORD}
    )
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_credentials"


async def test_api_keys_work_once_shown_and_stop_when_revoked_or_expired(
    client: httpx.AsyncClient, anon_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    for camera in ("gate", "yard"):
        body = {"id": camera, "name": camera, "main_stream_url": "rtsp://10.0.0.1/a"}
        assert (await client.post("/api/v1/cameras", json=body)).status_code == 201
    created = await client.post(
        "/api/v1/api-keys",
        json={
            "name": "worker-1",
            "camera_ids": ["gate"],
            "expires_at": (clock.now() + timedelta(hours=1)).isoformat(),
        },
    )
    assert created.status_code == 201, created.text
    key = created.json()
    token = key["token"]
    assert token.startswith("hk_") and key["prefix"] == token[:8]
    assert key["role"] == "integration" and "ai:ingest" in key["capabilities"]
    listed = await client.get("/api/v1/api-keys")
    assert token not in listed.text and "token_hash" not in listed.text
    assert listed.json()[0]["prefix"] == key["prefix"]

    for headers in ({"X-API-Key": token}, bearer(token)):
        me = (await anon_client.get("/api/v1/auth/me", headers=headers)).json()
        assert me["auth_method"] == "api_key" and me["api_key_id"] == key["id"]
        cameras = await anon_client.get("/api/v1/cameras", headers=headers)
        assert [c["id"] for c in cameras.json()] == ["gate"]
        hidden = await anon_client.get("/api/v1/cameras/yard", headers=headers)
        missing = await anon_client.get("/api/v1/cameras/nope", headers=headers)
        assert hidden.status_code == missing.status_code == 404
        assert hidden.json()["error"] == missing.json()["error"] == "camera_not_found"
        denied = await anon_client.delete("/api/v1/cameras/gate", headers=headers)
        assert denied.status_code == 403
    # never in a URL, nor in the session cookie (keys travel in headers only)
    in_query = await anon_client.get("/api/v1/cameras", params={"api_key": token})
    assert in_query.status_code == 401
    as_cookie = await anon_client.get(
        "/api/v1/cameras", headers={"Cookie": f"heldar_session={token}"}
    )
    assert as_cookie.status_code == 401

    clock.advance(3600)  # the key's hour is over (the admin's session is not)
    expired = await anon_client.get("/api/v1/auth/me", headers={"X-API-Key": token})
    assert expired.status_code == 401

    second = (await client.post("/api/v1/api-keys", json={"name": "worker-2"})).json()
    assert second["expires_at"].startswith(str((clock.now() + timedelta(days=365)).date()))
    headers = {"X-API-Key": second["token"]}
    assert (await anon_client.get("/api/v1/auth/me", headers=headers)).status_code == 200
    revoked = await client.delete(f"/api/v1/api-keys/{second['id']}")
    assert revoked.status_code == 204
    assert (await anon_client.get("/api/v1/auth/me", headers=headers)).status_code == 401
    assert (await client.delete("/api/v1/api-keys/999")).status_code == 404
    actions = [e["action"] for e in (await client.get("/api/v1/audit")).json()]
    assert actions.count("api_key.create") == 2 and actions.count("api_key.revoke") == 1


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (
            {"name": "k", "role": "viewer", "capabilities": ["users:manage"]},
            "capabilities_exceed_role",
        ),
        ({"name": "k", "capabilities": ["no:such"]}, "validation_error"),
        ({"name": "k", "expires_at": "2020-01-01T00:00:00Z"}, "invalid_field"),
        ({"name": "k", "expires_at": "2099-01-01T00:00:00"}, "invalid_field"),
        ({"name": "", "role": "viewer"}, "validation_error"),
    ],
)
async def test_api_keys_never_exceed_their_role(
    client: httpx.AsyncClient, body: dict[str, object], code: str
) -> None:
    response = await client.post("/api/v1/api-keys", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == code
    assert (await client.get("/api/v1/api-keys")).json() == []


async def test_a_narrowed_key_gets_only_what_it_lists(
    client: httpx.AsyncClient, anon_client: httpx.AsyncClient
) -> None:
    created = await client.post(
        "/api/v1/api-keys",
        json={"name": "reader", "role": "manager", "capabilities": ["camera:read"]},
    )
    headers = {"X-API-Key": created.json()["token"]}
    assert (await anon_client.get("/api/v1/cameras", headers=headers)).status_code == 200
    body = {"name": "x", "main_stream_url": "rtsp://10.0.0.1/a"}
    assert (
        await anon_client.post("/api/v1/cameras", json=body, headers=headers)
    ).status_code == 403
    assert (await anon_client.get("/api/v1/auth/me", headers=headers)).status_code == 403
