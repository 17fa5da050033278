"""Spawning, reading, stopping and reaping one decoder child (the parent side of the protocol).

The URL is written to the child's stdin and stdin closed; stdout is read to EOF by one task that
hands each record to a callback (so the pipe never fills), stderr is drained into a bounded,
redacted tail. Stop is SIGTERM → grace → SIGKILL, and the child is always awaited: no zombie.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import heldar
from heldar.children import send, terminate
from heldar.logs import redact
from heldar.perception.records import HEADER, ExitReason, FrameRecord, exit_reason, parse_header

log = logging.getLogger(__name__)

STDERR_TAIL_BYTES = 4096
RecordHandler = Callable[[FrameRecord], None]


@dataclass(frozen=True)
class DecoderOptions:
    """How a child decodes: rate, width, mode (`auto` | `keyframes` | `all`), JPEG quality."""

    fps: float
    width: int
    mode: str = "auto"
    quality: int = 85


@dataclass(frozen=True)
class Ended:
    """How a child ended: status (negative = signal), meaning, redacted stderr tail."""

    returncode: int
    reason: ExitReason
    stderr_tail: str
    stopped_by_us: bool

    @property
    def last_error(self) -> str:
        """The last line the child wrote to stderr (redacted), or the reason."""
        lines = [line for line in self.stderr_tail.splitlines() if line.strip()]
        return lines[-1] if lines else self.reason


def child_env() -> dict[str, str]:
    """The parent's environment without any `HELDAR_*` (secrets), able to import heldar."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELDAR_")}
    package_root = str(Path(heldar.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    return env


class DecoderProcess:
    """One running decoder. Create with `await DecoderProcess.spawn(...)`; end with `stop()`."""

    def __init__(self, proc: asyncio.subprocess.Process, on_record: RecordHandler) -> None:
        self._proc = proc
        self._on_record = on_record
        self._tail = bytearray()
        self._stopped_by_us = False
        self.protocol_error: str | None = None
        self._ended: Ended | None = None
        self._drains = [
            asyncio.create_task(self._drain_stderr(), name=f"decoder-{proc.pid}-stderr"),
            asyncio.create_task(self._read_records(), name=f"decoder-{proc.pid}-stdout"),
        ]

    @classmethod
    async def spawn(
        cls,
        url: str,
        options: DecoderOptions,
        *,
        on_record: RecordHandler,
        label: str = "",
        python: str = sys.executable,
    ) -> DecoderProcess:
        """Start a child for `url`. Raises OSError if it cannot start."""
        argv = [python, "-m", "heldar.perception.decoder", "--label", label]
        argv += ["--fps", f"{options.fps:.6g}", "--width", str(options.width)]
        argv += ["--mode", options.mode, "--quality", str(options.quality)]
        argv += ["--parent-pid", str(os.getpid())]
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=child_env(),
            start_new_session=True,
        )
        child = cls(proc, on_record)
        assert proc.stdin is not None
        try:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # wait() says why
                proc.stdin.write(url.encode() + b"\n")
                await proc.stdin.drain()
            proc.stdin.close()
        except BaseException:  # cancelled before the caller got the handle: reap it here
            child.kill()
            await asyncio.shield(child.wait())
            raise
        return child

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode

    def stderr_tail(self) -> str:
        return redact(self._tail.decode("utf-8", "replace")).strip()

    async def wait(self) -> Ended:
        """Wait for the child to exit (on its own or after `stop()`), reap it, finish reading."""
        if self._ended is None:
            returncode = await self._proc.wait()
            await asyncio.gather(*self._drains, return_exceptions=True)
            reason = exit_reason(returncode)
            if self.protocol_error is not None:
                reason = "protocol_error"
            self._ended = Ended(returncode, reason, self.stderr_tail(), self._stopped_by_us)
        return self._ended

    async def stop(self, *, grace_s: float = 3.0) -> Ended:
        """SIGTERM, SIGKILL after `grace_s`; always reaps."""
        if self._proc.returncode is None:
            self._stopped_by_us = True
            await terminate(self._proc, sig=signal.SIGTERM, grace_s=grace_s, what="decoder")
        return await self.wait()

    def kill(self) -> None:
        """SIGKILL now (stall watchdog); `wait()` still has to be awaited."""
        self._stopped_by_us = True
        self._signal(signal.SIGKILL)

    def _signal(self, sig: int) -> None:
        send(self._proc, sig)

    async def _drain_stderr(self) -> None:
        assert self._proc.stderr is not None
        while chunk := await self._proc.stderr.read(4096):
            self._tail += chunk
            del self._tail[:-STDERR_TAIL_BYTES]

    async def _read_records(self) -> None:
        stdout = self._proc.stdout
        assert stdout is not None
        try:
            while True:
                header = parse_header(await stdout.readexactly(HEADER.size))
                record = header.with_jpeg(await stdout.readexactly(header.jpeg_len))
                try:
                    self._on_record(record)
                except Exception:  # a faulty handler must not stop the reading (pipe would fill)
                    log.exception("record handler of decoder %d failed", self.pid)
        except asyncio.IncompleteReadError:
            return  # EOF, possibly mid-record after a kill
        except ValueError as exc:  # RecordError: not our protocol; the child is of no use
            self.protocol_error = str(exc)
            log.warning("decoder %d wrote garbage (%s); killing it", self.pid, exc)
            self.kill()
            while await stdout.read(65536):
                pass
