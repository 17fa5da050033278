"""A real kernel for benchmarks: `heldar serve` on a free port with a temporary data directory.

with kernel({"HELDAR_AI_MAX_TOTAL_FPS": "6"}) as base:  # "http://127.0.0.1:<port>"
    ...
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

PASSWORD = "bench-Passw0rd-123"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@contextlib.contextmanager
def kernel(env_extra: dict[str, str] | None = None) -> Iterator[str]:
    """Start `heldar serve` (admin password `PASSWORD`), yield its base URL, stop it."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="heldar-bench-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HELDAR_")}
        env["HELDAR_BOOTSTRAP_ADMIN_PASSWORD"] = PASSWORD
        env["HELDAR_LOG_LEVEL"] = "warning"
        env.update(env_extra or {})
        argv = [sys.executable, "-m", "heldar.cli", "serve", "--port", str(port)]
        argv += ["--data-dir", str(Path(tmp) / "data")]
        proc = subprocess.Popen(
            argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None:
                    raise SystemExit(f"kernel exited: {proc.stderr.read() if proc.stderr else ''}")
                with contextlib.suppress(httpx.TransportError):
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise SystemExit("kernel did not start within 60 s")
                time.sleep(0.1)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def kernel_pid(base: str) -> int | None:
    """The pid listening on the kernel's port (for CPU accounting), from /proc/net/tcp."""
    port = int(base.rsplit(":", 1)[1])
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as handle:
            for line in handle.readlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":
                    inodes.add(fields[9])
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    return int(pid)
    return None
