"""Credentials for tests: the bootstrap admin the fixtures configure, and logging in over HTTP."""

from __future__ import annotations

import httpx

ADMIN_USER = "admin"
ADMIN_PASSWORD = "Adm1n-test-passw0rd"
USER_PASSWORD = "User-test-passw0rd"
# OWASP's minimum argon2id cost: the cheapest the settings accept, so tests stay fast.
FAST_HASHING = {"password_hash_memory_kib": 19_456, "password_hash_time_cost": 2}


async def login(client: httpx.AsyncClient, username: str, password: str) -> str:
    """Log in and return the session token (the cookie the answer sets is dropped)."""
    response = await client.post(
        "/api/v1/auth/login", json={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    client.cookies.clear()
    token: str = response.json()["token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
