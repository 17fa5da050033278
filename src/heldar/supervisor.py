"""The one owner of every background task.

A service is anything with `name` and `async run()`. The supervisor runs each in its own task inside
an `asyncio.TaskGroup`; a service that raises is logged with its traceback and restarted with capped
exponential backoff (reset after a healthy run), so one faulty service never takes the kernel down.
`stop()` cancels everything and waits, bounded, for the `finally` blocks to finish.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self

from heldar.clock import Clock, SystemClock

log = logging.getLogger(__name__)


class Service(Protocol):
    name: str

    async def run(self) -> None:
        """Run until cancelled. Returning means the service finished on purpose."""
        ...


@dataclass(frozen=True)
class Backoff:
    initial_s: float = 1.0
    cap_s: float = 30.0
    healthy_after_s: float = 30.0

    def delays(self) -> BackoffState:
        return BackoffState(self)


class BackoffState:
    """1 s, 2 s, 4 s … capped; back to the initial delay after a run of `healthy_after_s`."""

    def __init__(self, policy: Backoff) -> None:
        self._policy = policy
        self._next = policy.initial_s

    def after_run(self, ran_for_s: float) -> float:
        """The delay to wait now, given how long the run that just ended lasted."""
        if ran_for_s >= self._policy.healthy_after_s:
            self._next = self._policy.initial_s
        delay = self._next
        self._next = min(self._policy.cap_s, delay * 2)
        return delay


class Supervisor:
    """Owns background services for the lifetime of the app (`async with`)."""

    def __init__(self, *, clock: Clock | None = None, backoff: Backoff | None = None) -> None:
        self._clock = clock or SystemClock()
        self._backoff = backoff or Backoff()
        self._group: asyncio.TaskGroup | None = None
        self._tasks: dict[str, asyncio.Task[None]] = {}

    async def __aenter__(self) -> Self:
        self._group = asyncio.TaskGroup()
        await self._group.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for task in self._tasks.values():
            task.cancel()
        assert self._group is not None
        await self._group.__aexit__(exc_type, exc, tb)
        self._tasks.clear()
        self._group = None

    @property
    def running(self) -> list[str]:
        return sorted(name for name, task in self._tasks.items() if not task.done())

    def start(self, service: Service) -> None:
        """Run `service` under supervision; names are unique while running."""
        if self._group is None:
            raise RuntimeError("supervisor is not entered")
        existing = self._tasks.get(service.name)
        if existing is not None and not existing.done():
            raise RuntimeError(f"service {service.name!r} is already running")
        self._tasks[service.name] = self._group.create_task(
            self._keep_running(service), name=service.name
        )

    async def stop_service(self, name: str) -> None:
        """Cancel one service and wait until its cleanup has run."""
        task = self._tasks.pop(name, None)
        if task is None:
            return
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    async def _keep_running(self, service: Service) -> None:
        backoff = self._backoff.delays()
        while True:
            started = self._clock.monotonic()
            try:
                await service.run()
            except asyncio.CancelledError:
                raise
            except Exception:  # supervisor boundary: log with traceback and restart
                ran_for = self._clock.monotonic() - started
                delay = backoff.after_run(ran_for)
                log.exception("service %s failed; restarting in %.1f s", service.name, delay)
                await self._clock.sleep(delay)
                continue
            log.info("service %s finished", service.name)
            return
