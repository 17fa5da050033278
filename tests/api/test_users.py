"""`/users`: accounts, the password policy, and the rules that keep an admin around."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import ClientAs
from tests.support.auth import ADMIN_PASSWORD, ADMIN_USER, USER_PASSWORD, login


async def _admin_id(client: httpx.AsyncClient) -> int:
    me = (await client.get("/api/v1/auth/me")).json()
    user_id: int = me["user_id"]
    return user_id


async def test_user_crud_round_trip(
    client: httpx.AsyncClient, anon_client: httpx.AsyncClient
) -> None:
    created = await client.post(
        "/api/v1/users",
        json={
            "username": "Alice",
            "password": USER_PASSWORD,
            "role": "guard",
            "camera_ids": ["gate"],
        },
    )
    assert created.status_code == 201, created.text
    alice = created.json()
    assert alice["username"] == "alice"  # case-insensitive, stored lowercase
    assert created.headers["location"] == f"/api/v1/users/{alice['id']}"
    assert alice["camera_ids"] == ["gate"] and alice["enabled"] is True
    assert "password" not in created.text and "argon2" not in created.text
    await login(anon_client, "ALICE", USER_PASSWORD)

    again = await client.post(
        "/api/v1/users", json={"username": "alice", "password": USER_PASSWORD}
    )
    assert again.status_code == 409 and again.json()["error"] == "user_exists"

    patched = await client.patch(
        f"/api/v1/users/{alice['id']}", json={"role": "manager", "camera_ids": None}
    )
    assert patched.status_code == 200
    assert patched.json()["role"] == "manager" and patched.json()["camera_ids"] is None
    assert (await client.get(f"/api/v1/users/{alice['id']}")).json() == patched.json()
    listed = await client.get("/api/v1/users")
    assert [u["username"] for u in listed.json()] == [ADMIN_USER, "alice"]

    assert (await client.delete(f"/api/v1/users/{alice['id']}")).status_code == 204
    assert (await client.get(f"/api/v1/users/{alice['id']}")).status_code == 404
    gone = await anon_client.post(
        "/api/v1/auth/login", json={"username": "alice", "password": USER_PASSWORD}
    )
    assert gone.status_code == 401
    actions = [e["action"] for e in (await client.get("/api/v1/audit")).json()]
    assert {"user.create", "user.update", "user.delete"} <= set(actions)


@pytest.mark.parametrize(
    "body",
    [
        {"username": "bob", "password": "seven77"},
        {"username": "bob", "password": "x" * 1025},
        {"username": "bob", "password": 12345678},
        {"username": "", "password": USER_PASSWORD},
        {"username": "bob smith", "password": USER_PASSWORD},
        {"username": "../etc", "password": USER_PASSWORD},
        {"username": "b" * 65, "password": USER_PASSWORD},
        {"username": "bob", "password": USER_PASSWORD, "role": "root"},
        {"username": "bob", "password": USER_PASSWORD, "role": "admin", "camera_ids": ["a"]},
        {"username": "bob", "password": USER_PASSWORD, "camera_ids": ["Bad Id"]},
        {"username": "bob", "password": USER_PASSWORD, "is_admin": True},
    ],
)
async def test_bad_users_are_422_and_create_nothing(
    client: httpx.AsyncClient, body: dict[str, object]
) -> None:
    response = await client.post("/api/v1/users", json=body)
    assert response.status_code == 422, response.text
    assert len((await client.get("/api/v1/users")).json()) == 1
    assert "seven77" not in response.text and "x" * 100 not in response.text


async def test_passwords_of_8_and_1024_characters_are_accepted(
    client: httpx.AsyncClient, anon_client: httpx.AsyncClient
) -> None:
    for name, password in (("short", "8chars!!"), ("long", "é" * 1024)):
        response = await client.post("/api/v1/users", json={"username": name, "password": password})
        assert response.status_code == 201, response.text
        await login(anon_client, name, password)


async def test_the_last_admin_stays(client: httpx.AsyncClient) -> None:
    admin_id = await _admin_id(client)
    for change in ({"role": "manager"}, {"enabled": False}):
        response = await client.patch(f"/api/v1/users/{admin_id}", json=change)
        assert response.status_code == 409 and response.json()["error"] == "last_admin"
    deleted = await client.delete(f"/api/v1/users/{admin_id}")
    assert deleted.status_code == 409 and deleted.json()["error"] == "cannot_delete_self"
    second = await client.post(
        "/api/v1/users", json={"username": "root2", "password": USER_PASSWORD, "role": "admin"}
    )
    # with a second admin, the first may step down
    demoted = await client.patch(f"/api/v1/users/{second.json()['id']}", json={"role": "viewer"})
    assert demoted.status_code == 200
    assert (
        await client.patch(f"/api/v1/users/{admin_id}", json={"enabled": False})
    ).status_code == 409


async def test_own_password_change_through_patch_needs_the_current_one(
    client: httpx.AsyncClient, anon_client: httpx.AsyncClient
) -> None:
    admin_id = await _admin_id(client)
    url = f"/api/v1/users/{admin_id}"
    missing = await client.patch(url, json={"password": "N3w-admin-pass"})
    assert missing.status_code == 403 and missing.json()["error"] == "current_password_required"
    wrong = await client.patch(url, json={"password": "N3w-admin-pass", "current_password": "no"})
    assert wrong.status_code == 403
    ok = await client.patch(
        url, json={"password": "N3w-admin-pass", "current_password": ADMIN_PASSWORD}
    )
    assert ok.status_code == 200
    assert (await client.get("/api/v1/auth/me")).status_code == 200  # this session stays
    await login(anon_client, ADMIN_USER, "N3w-admin-pass")


async def test_admin_reset_ends_all_of_the_users_sessions(
    client: httpx.AsyncClient, client_as: ClientAs
) -> None:
    guard = await client_as("guard")
    me = (await guard.get("/api/v1/auth/me")).json()
    reset = await client.patch(
        f"/api/v1/users/{me['user_id']}", json={"password": "R3set-by-admin"}
    )
    assert reset.status_code == 200
    assert (await guard.get("/api/v1/auth/me")).status_code == 401


async def test_unknown_ids_are_404(client: httpx.AsyncClient) -> None:
    for method, path in (
        ("GET", "/api/v1/users/4242"),
        ("PATCH", "/api/v1/users/4242"),
        ("DELETE", "/api/v1/users/4242"),
        ("POST", "/api/v1/users/4242/unlock"),
    ):
        response = await client.request(method, path, json={} if method == "PATCH" else None)
        assert response.status_code == 404, (method, path)
        assert response.json()["error"] == "user_not_found"
    assert (await client.get("/api/v1/users/0")).status_code == 422
    assert (await client.get("/api/v1/users/abc")).status_code == 422
