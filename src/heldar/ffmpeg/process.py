"""Spawning, draining, stopping and reaping one ffmpeg child.

Every child: `shell=False`, `stdin=DEVNULL`, its own session, stderr drained concurrently into a
bounded tail (so a chatty ffmpeg can never block on a full pipe), stdout handed to a line callback.
Stop is polite signal → bounded wait → SIGKILL, and the process is always awaited, so no zombie
and no orphan is ever left behind. When util-linux's `setpriv` exists the child also gets
`PR_SET_PDEATHSIG=SIGTERM`, so it finalizes and exits if the kernel dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import shutil
import signal
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from heldar.children import send, terminate
from heldar.logs import redact

log = logging.getLogger(__name__)

STDERR_TAIL_BYTES = 8192
LineHandler = Callable[[str], Awaitable[None]]


@functools.cache
def _setpriv() -> str | None:
    return shutil.which("setpriv")


class _Tail:
    """The last `limit` bytes of a stream, as redacted text."""

    def __init__(self, limit: int) -> None:
        self._chunks: deque[bytes] = deque()
        self._size = 0
        self._limit = limit

    def add(self, chunk: bytes) -> None:
        self._chunks.append(chunk)
        self._size += len(chunk)
        while self._size > self._limit and len(self._chunks) > 1:
            self._size -= len(self._chunks.popleft())
        if self._size > self._limit:
            only = self._chunks.pop()[-self._limit :]
            self._chunks.append(only)
            self._size = len(only)

    def text(self) -> str:
        return redact(b"".join(self._chunks).decode("utf-8", "replace")).strip()


@dataclass(frozen=True)
class Exit:
    """How a child ended: its status (negative = signal) and its redacted stderr tail."""

    returncode: int
    stderr_tail: str
    stopped_by_us: bool


class FfmpegProcess:
    """One running ffmpeg. Create with `await FfmpegProcess.spawn(...)`; end with `stop()`."""

    def __init__(
        self,
        proc: asyncio.subprocess.Process,
        on_stdout_line: LineHandler | None,
        *,
        binary_stdout: bool = False,
    ) -> None:
        self._proc = proc
        self._tail = _Tail(STDERR_TAIL_BYTES)
        self._stopped_by_us = False
        self._on_line = on_stdout_line
        self._binary_stdout = binary_stdout
        self._drains = [asyncio.create_task(self._drain_stderr(), name=f"ffmpeg-{proc.pid}-stderr")]
        if not binary_stdout:  # binary output is the caller's to read (`stdout`)
            self._drains.append(
                asyncio.create_task(self._read_stdout(), name=f"ffmpeg-{proc.pid}-stdout")
            )
        self._exit: Exit | None = None

    @classmethod
    async def spawn(
        cls,
        argv: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        on_stdout_line: LineHandler | None = None,
        feed_stdin: bool = False,
        binary_stdout: bool = False,
    ) -> FfmpegProcess:
        """Start `argv` (argv[0] is the ffmpeg binary). Raises OSError if it cannot start.

        With `feed_stdin` the caller writes the child's input through `stdin` (then closes it);
        otherwise stdin is /dev/null. With `binary_stdout` the output is media the caller reads
        from `stdout` (live view); otherwise it is read line by line for `on_stdout_line`."""
        command = list(argv)
        setpriv = _setpriv()
        if setpriv:
            command = [setpriv, "--pdeathsig", "TERM", "--", *command]
        child_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"}
        child_env.update(env or {})
        proc = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.PIPE if feed_stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=child_env,
            start_new_session=True,
        )
        return cls(proc, on_stdout_line, binary_stdout=binary_stdout)

    @property
    def stdout(self) -> asyncio.StreamReader:
        """The child's binary output, when spawned with `binary_stdout`."""
        if not self._binary_stdout or self._proc.stdout is None:
            raise RuntimeError("stdout is read line by line unless spawned with binary_stdout")
        return self._proc.stdout

    @property
    def stdin(self) -> asyncio.StreamWriter | None:
        """The child's stdin when spawned with `feed_stdin`."""
        return self._proc.stdin

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode

    def stderr_tail(self) -> str:
        return self._tail.text()

    async def wait(self) -> Exit:
        """Wait for the child to exit on its own (or after `stop()`), reap it, finish draining."""
        if self._exit is None:
            returncode = await self._proc.wait()
            await asyncio.gather(*self._drains, return_exceptions=True)
            self._exit = Exit(returncode, self._tail.text(), self._stopped_by_us)
        return self._exit

    async def stop(self, *, grace_s: float = 8.0, sig: int = signal.SIGINT) -> Exit:
        """Polite signal (ffmpeg finalizes its file), SIGKILL after `grace_s`; always reaps."""
        if self._proc.returncode is None:
            self._stopped_by_us = True
            await terminate(self._proc, sig=sig, grace_s=grace_s, what="ffmpeg")
        return await self.wait()

    def kill(self) -> None:
        """SIGKILL now (used by the stall watchdog); `wait()` still has to be awaited."""
        self._stopped_by_us = True
        self._signal(signal.SIGKILL)

    def _signal(self, sig: int) -> None:
        send(self._proc, sig)

    async def _drain_stderr(self) -> None:
        assert self._proc.stderr is not None
        while chunk := await self._proc.stderr.read(4096):
            self._tail.add(chunk)

    async def _read_stdout(self) -> None:
        assert self._proc.stdout is not None
        while line := await self._proc.stdout.readline():
            if self._on_line is None:
                continue
            try:
                await self._on_line(line.decode("utf-8", "replace").strip())
            except Exception:  # a faulty handler must not stop the draining (pipe would fill)
                log.exception("stdout handler of ffmpeg %d failed", self.pid)


async def stop_stale(pid: int, *, must_contain: str, grace_s: float = 8.0) -> bool:
    """Stop an ffmpeg left by a previous kernel (not our child, so it cannot be awaited).

    Only a process whose command line contains `must_contain` (the camera's output directory) is
    touched, so a recycled pid never kills a stranger. Returns True when one was stopped.
    """
    cmdline = Path(f"/proc/{pid}/cmdline")
    try:
        argv = cmdline.read_bytes().split(b"\0")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    if not any(must_contain.encode() in arg for arg in argv):
        return False
    log.warning("stopping stale ffmpeg %d left by a previous run", pid)
    for sig, wait_s in ((signal.SIGINT, grace_s), (signal.SIGKILL, 2.0)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = asyncio.get_running_loop().time() + wait_s
        while cmdline.exists() and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110 - not our child: nothing to await
            await asyncio.sleep(0.05)
        if not cmdline.exists():
            return True
    return not cmdline.exists()
