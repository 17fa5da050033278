"""The `heldar` command as a user runs it: a real process, a real port, a real SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from heldar.store.engine import head_revision

HELDAR = [sys.executable, "-m", "heldar.cli"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELDAR_")}
    env.update(extra)
    return env


def _wait_healthy(url: str, proc: subprocess.Popen[str], deadline_s: float = 60) -> httpx.Response:
    """Poll until the server answers (the awaited condition), the process dies, or time runs out."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            pytest.fail(
                f"heldar exited early with {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}"
            )
        try:
            return httpx.get(url, timeout=1)
        except httpx.TransportError:
            time.sleep(0.05)
    pytest.fail("heldar did not answer in time")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int, Path]]:
    port = _free_port()
    data = tmp_path / "data"
    proc = subprocess.Popen(
        [*HELDAR, "serve", "--port", str(port), "--data-dir", str(data)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        start_new_session=True,
    )
    try:
        yield proc, port, data
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


@pytest.mark.slow
def test_serve_answers_and_stops_cleanly_on_sigterm(
    served: tuple[subprocess.Popen[str], int, Path],
) -> None:
    proc, port, data = served
    health = _wait_healthy(f"http://127.0.0.1:{port}/healthz", proc)
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    base = f"http://127.0.0.1:{port}"
    anonymous = httpx.get(f"{base}/api/v1/cameras", timeout=5)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    # first start: an admin with a generated password, kept owner-only in the data dir
    password_file = data / "initial-admin-password"
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    password = password_file.read_text().strip()
    login = httpx.post(
        f"{base}/api/v1/auth/login", json={"username": "admin", "password": password}, timeout=30
    )
    assert login.status_code == 200, login.text
    token = login.json()["token"]
    cameras = httpx.get(
        f"{base}/api/v1/cameras", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    assert cameras.json() == []
    assert (data / "heldar.db").is_file()
    assert (data / "recordings").is_dir()
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    # uvicorn re-raises the signal after its graceful shutdown, as a process killed by it would.
    assert proc.wait(timeout=15) in (0, -signal.SIGTERM)
    assert time.monotonic() - started < 10
    err = proc.stderr.read() if proc.stderr else ""
    assert "heldar stopped cleanly" in err
    out = proc.stdout.read() if proc.stdout else ""
    assert f"http://127.0.0.1:{port}" in out
    assert str(data) in out
    assert out.count(password) == 1  # printed once, for the operator …
    assert password not in err and token not in err  # … and never logged


def test_migrate_creates_the_store(tmp_path: Path) -> None:
    result = subprocess.run(
        [*HELDAR, "migrate", "--data-dir", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert f"revision {head_revision()}" in result.stdout
    assert (tmp_path / "d" / "heldar.db").is_file()


def test_bad_setting_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [*HELDAR, "serve", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env=_env(HELDAR_API_PORT="99999"),
        timeout=60,
    )
    assert result.returncode == 2
    assert "api_port" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_lists_the_commands() -> None:
    result = subprocess.run([*HELDAR, "--help"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    for command in ("serve", "migrate", "check", "user", "simcam"):
        assert command in result.stdout


def _heldar(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*HELDAR, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=_env(HELDAR_PASSWORD_HASH_MEMORY_KIB="19456"),
        timeout=60,
    )


def test_user_commands_manage_accounts_offline(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    added = _heldar(
        "user",
        "--data-dir",
        data,
        "add",
        "Alice",
        "--role",
        "guard",
        "--camera",
        "gate",
        stdin="Al1ce-password\n",
    )
    assert added.returncode == 0, added.stderr
    assert "'alice' added" in added.stdout
    short = _heldar("user", "--data-dir", data, "add", "bob", stdin="short\n")
    assert short.returncode == 2 and "8..1024" in short.stderr
    assert "short" not in short.stderr.replace("8..1024", "")
    assert (
        _heldar("user", "--data-dir", data, "passwd", "alice", stdin="N3w-password!\n").returncode
        == 0
    )
    assert _heldar("user", "--data-dir", data, "disable", "alice").returncode == 0
    assert _heldar("user", "--data-dir", data, "unlock", "alice").returncode == 0
    missing = _heldar("user", "--data-dir", data, "disable", "nobody")
    assert missing.returncode == 2 and "not found" in missing.stderr
    listed = _heldar("user", "--data-dir", data, "list")
    assert listed.returncode == 0
    line = next(row for row in listed.stdout.splitlines() if "alice" in row)
    assert line.split()[1:] == ["alice", "guard", "disabled", "gate"]
    for secret in ("Al1ce-password", "N3w-password!"):
        assert secret not in listed.stdout + listed.stderr
    checked = _heldar("check", "--data-dir", data)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "audit chain intact: 5 entries" in checked.stdout


def test_check_finds_a_tampered_audit_row(tmp_path: Path) -> None:
    data = tmp_path / "d"
    for name in ("ann", "ben", "cid"):
        assert (
            _heldar("user", "--data-dir", str(data), "add", name, stdin="Passw0rd-123\n").returncode
            == 0
        )
    db = sqlite3.connect(data / "heldar.db")
    # the store refuses the edit itself …
    with pytest.raises(sqlite3.IntegrityError, match="append-only"), db:
        db.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2")
    with db:
        # … so a tamperer drops the trigger first, as anyone holding the file could
        db.execute("DROP TRIGGER audit_log_no_update")
        db.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2")
    db.close()
    checked = _heldar("check", "--data-dir", str(data))
    assert checked.returncode == 1
    assert "FAIL audit-chain: audit chain BROKEN at seq 2" in checked.stdout
    assert "altered" in checked.stdout


def test_check_without_a_store_is_a_clear_error(tmp_path: Path) -> None:
    result = _heldar("check", "--data-dir", str(tmp_path / "nothing"))
    assert result.returncode == 2
    assert "no store" in result.stderr and "Traceback" not in result.stderr
