"""Login throttling: guessing is slowed and audited, the owner is never locked out for good, and
nothing tells an attacker whether a user name exists (SECURITY.md class 8)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from heldar.api.app import create_app
from heldar.settings import Settings
from tests.support.auth import ADMIN_PASSWORD, ADMIN_USER, FAST_HASHING
from tests.support.clock import FakeClock

LOGIN = "/api/v1/auth/login"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _from(app: FastAPI, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40_000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def _try(http: httpx.AsyncClient, user: str, password: str, **kw: object) -> httpx.Response:
    return await http.post(LOGIN, json={"username": user, "password": password}, **kw)  # type: ignore[arg-type]


async def test_fifty_wrong_passwords_lock_the_admin_and_are_audited(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    async with _from(app, "198.51.100.23") as attacker:
        answers = [await _try(attacker, ADMIN_USER, f"guess-{i}") for i in range(50)]
        assert [r.status_code for r in answers[:5]] == [401] * 5
        assert {r.status_code for r in answers[5:]} == {429}
        assert answers[-1].json()["error"] == "login_throttled"
        assert 0 < int(answers[-1].headers["retry-after"]) <= 15 * 60
        # locked means locked: the right password does not get in either
        assert (await _try(attacker, ADMIN_USER, ADMIN_PASSWORD)).status_code == 429
        audit = (await client.get("/api/v1/audit", params={"limit": 1000})).json()
        logins = [
            e for e in audit if e["action"] == "auth.login" and e["client_addr"] == "198.51.100.23"
        ]
        outcomes = [e["outcome"] for e in reversed(logins)]
        assert outcomes == ["failed"] * 5 + ["throttled"] * 46
        assert {e["actor"] for e in logins} == {ADMIN_USER}
        lockouts = [e for e in audit if e["action"] == "auth.lockout"]
        assert len(lockouts) == 1 and '"user"' in lockouts[0]["detail"]
        users = (await client.get("/api/v1/users")).json()
        admin = next(u for u in users if u["username"] == ADMIN_USER)
        assert admin["locked_until"] is not None
        # an admin session that already exists unlocks; access is back
        unlocked = await client.post(f"/api/v1/users/{admin['id']}/unlock")
        assert unlocked.status_code == 200
        assert (await _try(attacker, ADMIN_USER, ADMIN_PASSWORD)).status_code == 200


async def test_a_lock_ends_by_itself(app: FastAPI, clock: FakeClock) -> None:
    async with _from(app, "198.51.100.24") as http:
        for i in range(5):
            await _try(http, ADMIN_USER, f"guess-{i}")
        assert (await _try(http, ADMIN_USER, ADMIN_PASSWORD)).status_code == 429
        clock.advance(15 * 60 + 1)
        assert (await _try(http, ADMIN_USER, ADMIN_PASSWORD)).status_code == 200


async def test_forged_forwarded_for_does_not_reset_or_dodge_the_counter(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    async with _from(app, "198.51.100.25") as http:
        answers = [
            await _try(http, ADMIN_USER, "guess", headers={"X-Forwarded-For": f"10.1.2.{i}"})
            for i in range(8)
        ]
    assert [r.status_code for r in answers] == [401] * 5 + [429] * 3
    audit = (await client.get("/api/v1/audit", params={"action": "auth.login"})).json()
    failed = [e for e in audit if e["outcome"] in ("failed", "throttled")]
    assert len(failed) == 8
    assert {e["client_addr"] for e in failed} == {"198.51.100.25"}


async def test_unknown_users_and_wrong_passwords_look_the_same(app: FastAPI) -> None:
    async with _from(app, "198.51.100.26") as http:
        wrong = [await _try(http, ADMIN_USER, "nope") for _ in range(6)]
        unknown = [await _try(http, "nobody-here", "nope") for _ in range(6)]
    for a, b in zip(wrong, unknown, strict=True):
        assert a.status_code == b.status_code
        assert a.json() == b.json()
        assert set(a.headers) == set(b.headers)
    assert wrong[0].json() == {
        "error": "invalid_credentials",
        "detail": "invalid username or password",
    }


async def test_one_address_spraying_many_names_is_throttled(app: FastAPI) -> None:
    async with _from(app, "203.0.113.50") as sprayer, _from(app, "203.0.113.51") as owner:
        answers = [await _try(sprayer, f"user{i}", "Winter2026!") for i in range(21)]
        assert [r.status_code for r in answers[:20]] == [401] * 20
        assert answers[20].status_code == 429
        # the address is throttled, for every name …
        assert (await _try(sprayer, ADMIN_USER, ADMIN_PASSWORD)).status_code == 429
        # … but the admin logs in from anywhere else
        assert (await _try(owner, ADMIN_USER, ADMIN_PASSWORD)).status_code == 200


@pytest.fixture
async def proxied_app(tmp_path: Path, clock: FakeClock) -> AsyncIterator[FastAPI]:
    settings = Settings(
        data_dir=tmp_path / "proxied",
        bootstrap_admin_password=ADMIN_PASSWORD,
        trusted_proxies=["10.0.0.0/8"],
        **FAST_HASHING,
    )
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        yield app


async def test_behind_a_trusted_proxy_the_forwarded_client_counts(proxied_app: FastAPI) -> None:
    async with _from(proxied_app, "10.0.0.5") as proxy:
        for i in range(20):
            answer = await _try(
                proxy, f"user{i}", "x-guess", headers={"X-Forwarded-For": "203.0.113.7"}
            )
            assert answer.status_code == 401
        spray = await _try(proxy, "user99", "x", headers={"X-Forwarded-For": "203.0.113.7"})
        assert spray.status_code == 429
        # another client behind the same proxy is not affected
        other = {"X-Forwarded-For": "203.0.113.8, 10.0.0.9"}
        assert (await _try(proxy, ADMIN_USER, ADMIN_PASSWORD, headers=other)).status_code == 200
