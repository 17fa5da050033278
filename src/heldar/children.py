"""Stopping a child process the one way we do it: polite signal, bounded wait, SIGKILL, reap."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

log = logging.getLogger(__name__)


def send(proc: asyncio.subprocess.Process, sig: int) -> None:
    """Signal `proc`, ignoring one that already exited (and was not yet reaped)."""
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(sig)


async def terminate(
    proc: asyncio.subprocess.Process, *, sig: int, grace_s: float, what: str
) -> int:
    """Send `sig`, wait up to `grace_s`, then SIGKILL; always reaps. Returns the exit status."""
    if proc.returncode is None:
        send(proc, sig)
        try:
            await asyncio.wait_for(asyncio.shield(proc.wait()), grace_s)
        except TimeoutError:
            log.warning("%s %d ignored signal %d for %.0f s; killing", what, proc.pid, sig, grace_s)
            send(proc, signal.SIGKILL)
    return await proc.wait()
