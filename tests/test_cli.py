"""The `heldar` command as a user runs it: a real process, a real port, a real SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
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
    cameras = httpx.get(f"http://127.0.0.1:{port}/api/v1/cameras", timeout=5)
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
    for command in ("serve", "migrate", "simcam"):
        assert command in result.stdout
