"""`heldar-worker` from the command line, in this process and as a real child process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from heldar_worker.cli import EXIT_USAGE, main


def test_help_lists_the_run_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    assert "run" in capsys.readouterr().out


def test_run_help_lists_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["run", "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for option in ("--analyzer", "--url", "--api-key-file", "--worker-id", "--wait-ms"):
        assert option in out
    assert "--api-key " not in out  # a key on the command line would show in `ps`


def test_the_console_script_answers_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "heldar_worker.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0
    assert "heldar-worker" in done.stdout


def test_an_unknown_analyzer_is_refused() -> None:
    with pytest.raises(SystemExit) as exited:
        main(["run", "--analyzer", "nope", "--url", "http://127.0.0.1:9"])
    assert "unknown analyzer" in str(exited.value.code)


def test_a_url_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HELDAR_URL", raising=False)
    assert main(["run", "--analyzer", "motion"]) == EXIT_USAGE


def test_an_unreadable_key_file_is_refused_without_its_path_contents(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exited:
        main(
            [
                "run",
                "--analyzer",
                "motion",
                "--url",
                "http://127.0.0.1:9",
                "--api-key-file",
                str(tmp_path / "missing"),
            ]
        )
    assert "cannot read the API key file" in str(exited.value.code)


@pytest.mark.slow
def test_sigterm_stops_a_running_worker_cleanly(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("hk_cli_secret_value\n")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("HELDAR_API_KEY", None)
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "heldar_worker.cli",
            "run",
            "--analyzer",
            "motion",
            "--url",
            "http://127.0.0.1:9",  # nothing listens: the worker keeps backing off
            "--api-key-file",
            str(key_file),
            "--worker-id",
            "cli-test",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        time.sleep(1.5)
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=20)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert worker.returncode == 0, output
    assert "lease failed" in output
    assert "hk_cli_secret_value" not in output
