"""`SamplerManager`: one `Sampler` per sampled stream, kept in line with the AI tasks' demands.

It is the supervisor-owned service named `sampler`. `apply(demands)` takes the full current set of
demands, runs the budget and starts, reassigns or removes samplers — removing one means awaiting
its end, child reaped — so one (camera, profile) never has two decoders.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from heldar.cameras.vendors import StreamProfile
from heldar.clock import Clock, SystemClock
from heldar.perception.budget import DEFAULT_MAX_TOTAL_FPS, Allocation, Ask, StreamKey, allocate
from heldar.perception.frames import FrameStore
from heldar.perception.sampler import (
    EventSink,
    Sampler,
    SamplerConfig,
    SamplerState,
    SamplerStatus,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Demand:
    """What one AI task (or several, already merged) asks of a stream. `url` carries the
    credentials, spliced in by the caller; it is excluded from `repr`."""

    camera_id: str
    stream_profile: StreamProfile
    url: str = field(repr=False)
    fps: float
    width: int

    @property
    def key(self) -> StreamKey:
        return StreamKey(self.camera_id, self.stream_profile)


def merge(demands: Iterable[Demand]) -> dict[StreamKey, tuple[str, Ask]]:
    """Per stream: the URL (the first demand's) and the highest fps and width asked."""
    merged: dict[StreamKey, tuple[str, Ask]] = {}
    for demand in demands:
        ask = Ask(demand.fps, demand.width)
        known = merged.get(demand.key)
        if known is not None:
            url, old = known
            ask = Ask(max(old.fps, ask.fps), max(old.width, ask.width))
        else:
            url = demand.url
        merged[demand.key] = (url, ask)
    return merged


class SamplerManager:
    """Owns every sampler under its own task group while `run()` runs."""

    name = "sampler"

    def __init__(
        self,
        frames: FrameStore,
        *,
        max_total_fps: float = DEFAULT_MAX_TOTAL_FPS,
        on_event: EventSink | None = None,
        config: SamplerConfig | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.frames = frames
        self._max_total_fps = max_total_fps
        self._on_event = on_event
        self._config = config or SamplerConfig()
        self._clock = clock or SystemClock()
        self._demands: list[Demand] = []
        self._allocations: dict[StreamKey, Allocation] = {}
        self._samplers: dict[StreamKey, Sampler] = {}
        self._tasks: dict[StreamKey, asyncio.Task[None]] = {}
        self._retiring: dict[StreamKey, asyncio.Task[None]] = {}
        self._group: asyncio.TaskGroup | None = None
        self._lock = asyncio.Lock()

    # -- service ---------------------------------------------------------------------------------

    async def run(self) -> None:
        try:
            async with asyncio.TaskGroup() as group:
                self._group = group
                await self.apply(self._demands)
                await asyncio.Future()  # until cancelled; the group then reaps every child
        finally:
            self._group = None
            self._samplers.clear()
            self._tasks.clear()
            self._retiring.clear()

    # -- control ---------------------------------------------------------------------------------

    async def apply(self, demands: Iterable[Demand]) -> None:
        """Make the running samplers match `demands` (the full set; an absent stream stops)."""
        async with self._lock:
            self._demands = list(demands)
            wanted = merge(self._demands)
            self._allocations = allocate(
                {key: ask for key, (_, ask) in wanted.items()}, self._max_total_fps
            )
            if self._group is None:
                return  # applied when run() starts
            for key in sorted(set(self._samplers) - set(wanted)):
                await self._remove(key)
            for key in sorted(wanted):
                url = wanted[key][0]
                sampler = self._samplers.get(key)
                if sampler is not None:
                    sampler.assign(url, self._allocations[key])
                    continue
                await self._retired(key)
                sampler = Sampler(
                    key,
                    frames=self.frames,
                    on_event=self._on_event,
                    config=self._config,
                    clock=self._clock,
                )
                sampler.assign(url, self._allocations[key])
                self._samplers[key] = sampler
                self._tasks[key] = self._group.create_task(sampler.run(), name=f"sampler-{key}")

    def status(self) -> list[SamplerStatus]:
        """One row per stream that has demands, in (camera_id, profile) order; a stream whose
        sampler is not running (the service is not) shows `stopped` or `budget_exhausted`."""
        rows = []
        for key, allocation in sorted(self._allocations.items()):
            sampler = self._samplers.get(key)
            if sampler is not None:
                rows.append(sampler.status())
                continue
            idle: SamplerState = (
                "budget_exhausted" if allocation.state == "budget_exhausted" else "stopped"
            )
            rows.append(
                SamplerStatus(
                    camera_id=key.camera_id,
                    stream_profile=key.stream_profile,
                    state=idle,
                    fps=allocation.fps,
                    width=allocation.width,
                    frames_total=0,
                    last_frame_at=None,
                )
            )
        return rows

    def sampler(self, key: StreamKey) -> Sampler | None:
        return self._samplers.get(key)

    def allocation(self, key: StreamKey) -> Allocation | None:
        return self._allocations.get(key)

    async def _remove(self, key: StreamKey) -> None:
        sampler = self._samplers.pop(key)
        task = self._tasks.pop(key)
        sampler.close()
        self._retiring[key] = task
        self.frames.drop(key)
        await self._retired(key)
        log.info("sampler %s removed", key)

    async def _retired(self, key: StreamKey) -> None:
        """Wait until a removed sampler of `key` has ended (its child reaped). `asyncio.wait`
        does not cancel it if we are cancelled: the next `apply` waits for it again."""
        task = self._retiring.get(key)
        if task is not None:
            await asyncio.wait({task})
            self._retiring.pop(key, None)
