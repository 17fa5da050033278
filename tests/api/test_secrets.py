"""No password or token ever appears in a response, a log line, an audit entry or an error —
except the one answer that hands a token out (SECURITY.md class 4). Also: the first admin."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from heldar.api.app import create_app
from heldar.app import Kernel
from heldar.settings import Settings
from tests.support.auth import ADMIN_PASSWORD, ADMIN_USER, FAST_HASHING, bearer, login


async def test_secrets_never_leave_except_where_handed_out(
    app: FastAPI,
    anon_client: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="heldar")
    seen: list[str] = []

    async def call(method: str, path: str, **kw: object) -> httpx.Response:
        response = await anon_client.request(method, path, **kw)  # type: ignore[arg-type]
        seen.append(response.text + str(response.headers))
        return response

    login_answer = await call(
        "POST", "/api/v1/auth/login", json={"username": ADMIN_USER, "password": ADMIN_PASSWORD}
    )
    token = login_answer.json()["token"]
    seen.pop()  # the login answer carries the token by design
    anon_client.cookies.clear()
    auth = bearer(token)
    user_password = "Us3r-secret-Pw"
    await call(
        "POST", "/api/v1/users", headers=auth, json={"username": "eve", "password": user_password}
    )
    key_answer = await anon_client.post("/api/v1/api-keys", headers=auth, json={"name": "w"})
    key = key_answer.json()["token"]
    # failures of every kind that involve the secrets
    await call("POST", "/api/v1/auth/login", json={"username": "eve", "password": "Us3r-wrong-Pw"})
    await call("POST", "/api/v1/auth/login", json={"username": user_password, "password": "x"})
    await call("POST", "/api/v1/auth/login", json={"username": "eve", "password": ["list"]})
    await call(
        "POST", "/api/v1/users", headers=auth, json={"username": "x y", "password": "Pw-in-error-1"}
    )
    await call(
        "POST",
        "/api/v1/auth/password",
        headers=auth,
        json={"current_password": "Wr0ng-current", "new_password": "short"},
    )
    await call("GET", "/api/v1/auth/me", headers=bearer(token + "x"))
    await call("GET", "/api/v1/auth/me", headers={"X-API-Key": key[:-1]})
    await call("GET", "/api/v1/cameras", headers={"X-API-Key": key})
    await call("GET", "/api/v1/api-keys", headers=auth)
    await call("GET", "/api/v1/users", headers=auth)
    await call("POST", "/api/v1/auth/logout", headers=auth)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as admin:
        admin.headers.update(bearer(await login(admin, ADMIN_USER, ADMIN_PASSWORD)))
        audit = await admin.get("/api/v1/audit", params={"limit": 1000})
    assert audit.status_code == 200 and len(audit.json()) >= 8
    seen.append(audit.text)
    logs = "\n".join(record.getMessage() for record in caplog.records)
    secrets = [
        ADMIN_PASSWORD,
        user_password,
        "Us3r-wrong-Pw",
        "Pw-in-error-1",
        "Wr0ng-current",
        token,
        token[3:20],
        key,
        key[3:20],
    ]
    for secret in secrets:
        for text in seen:
            assert secret not in text and secret.lower() not in text, secret
        assert secret not in logs and secret.lower() not in logs, secret
    # the stored forms are hashes: the store file holds neither password nor token
    kernel: Kernel = app.state.kernel
    raw = (kernel.settings.data_dir / "heldar.db").read_bytes()
    raw += b"".join(p.read_bytes() for p in kernel.settings.data_dir.glob("heldar.db-*"))
    for secret in (ADMIN_PASSWORD, user_password, token, key):
        assert secret.encode() not in raw


async def test_first_start_generates_an_admin_password_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    settings = Settings(data_dir=tmp_path / "fresh", **FAST_HASHING)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        path = settings.path("initial-admin-password")
        password = path.read_text().strip()
        assert len(password) >= 20
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        printed = capsys.readouterr().out
        assert printed.count(password) == 1 and "admin" in printed
        assert password not in caplog.text
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as http:
            http.headers.update(bearer(await login(http, "admin", password)))
            me = (await http.get("/api/v1/auth/me")).json()
            changed = await http.patch(
                f"/api/v1/users/{me['user_id']}",
                json={"password": "Chosen-by-the-0wner", "current_password": password},
            )
            assert changed.status_code == 200
        assert not path.exists()  # the generated password is gone once replaced
    # a second start finds users and generates nothing
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        assert not settings.path("initial-admin-password").exists()
    assert "Initial admin" not in capsys.readouterr().out


async def test_auth_off_is_allowed_only_on_loopback(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="non-loopback"):
        Settings(data_dir=tmp_path, auth_enabled=False, api_host="0.0.0.0")
    settings = Settings(data_dir=tmp_path / "open", auth_enabled=False, **FAST_HASHING)
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as http,
    ):
        body = {"id": "c", "name": "c", "main_stream_url": "rtsp://10.0.0.1/a"}
        assert (await http.post("/api/v1/cameras", json=body)).status_code == 201
        me = (await http.get("/api/v1/auth/me")).json()
        assert me["auth_method"] == "disabled" and me["role"] == "admin"
