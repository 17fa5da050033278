"""The supervisor: restarts failing services with capped backoff, resets after a healthy run."""

from __future__ import annotations

import asyncio

import pytest

from heldar.supervisor import Backoff, Supervisor
from tests.support.clock import FakeClock


class Flaky:
    """Fails `failures` times (each run lasting `run_for` fake seconds), then finishes."""

    name = "flaky"

    def __init__(self, clock: FakeClock, run_for: list[float]) -> None:
        self.clock = clock
        self.run_for = run_for
        self.runs = 0
        self.done = asyncio.Event()

    async def run(self) -> None:
        self.runs += 1
        if self.runs > len(self.run_for):
            self.done.set()
            return
        self.clock.advance(self.run_for[self.runs - 1])
        raise RuntimeError(f"failure {self.runs}")


async def test_backoff_doubles_to_the_cap_and_resets_after_a_healthy_run() -> None:
    clock = FakeClock(autojump=True)
    service = Flaky(clock, run_for=[0.1] * 7 + [45.0, 0.1])
    async with Supervisor(clock=clock, backoff=Backoff(1.0, 30.0, 30.0)) as supervisor:
        supervisor.start(service)
        await asyncio.wait_for(service.done.wait(), 5)
    assert clock.sleeps == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 1.0, 2.0]


class Forever:
    name = "forever"

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.cleaned_up = False

    async def run(self) -> None:
        self.started.set()
        try:
            await asyncio.Event().wait()
        finally:
            self.cleaned_up = True


async def test_exit_cancels_services_and_runs_their_cleanup() -> None:
    service = Forever()
    async with Supervisor() as supervisor:
        supervisor.start(service)
        await service.started.wait()
        assert supervisor.running == ["forever"]
        with pytest.raises(RuntimeError, match="already running"):
            supervisor.start(service)
    assert service.cleaned_up


async def test_stop_service_waits_for_cleanup() -> None:
    service = Forever()
    async with Supervisor() as supervisor:
        supervisor.start(service)
        await service.started.wait()
        await supervisor.stop_service("forever")
        assert service.cleaned_up
        assert supervisor.running == []
