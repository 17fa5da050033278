"""`Runner`: lease tasks for one analyzer, pull every new frame once, post what it finds.

One `run()` owns everything it starts (an `asyncio.TaskGroup`): a lease loop and one loop per
leased task. The lease loop re-POSTs `/ai/leases` with the same worker_id — acquire and renew are
the same call in the contract — every third of the TTL, and reconciles the task loops with the
answer (start new tasks, stop dropped ones, restart changed ones). A task loop long-polls its
frame with `after_seq`, so a frame is never analyzed twice, runs the analyzer off the event loop,
and posts the result with the frame's ticket and a frame_id that makes the post idempotent.

Errors back off exponentially (capped, with jitter). Two kinds stop the runner, and `run()` raises
them: a 4xx on the lease call (401/403: the key is gone; 422: a bad worker_id or TTL), and an
analyzer that cannot run here (`AnalyzerUnavailable`, `DecoderUnavailable`). `stop()`, or
SIGTERM/SIGINT with `handle_signals=True`, ends the loops and releases the lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from heldar_worker.analyzer import Analyzer, AnalyzerUnavailable, Result
from heldar_worker.backoff import Backoff
from heldar_worker.client import HeldarClient
from heldar_worker.errors import AuthError, HeldarError, RateLimited
from heldar_worker.frames import DecodedFrame, DecoderUnavailable
from heldar_worker.models import AiTask, Frame, IngestRequest, Lease

log = logging.getLogger(__name__)

_T = TypeVar("_T")

# After this many empty long-polls in a row, pull once without `after_seq`: a kernel whose seqs went
# backwards (an older kernel, or its clock moved back: our kernel starts each run's seqs at its
# start time) would otherwise never have a frame "newer than the last seq we saw".
_RESYNC_AFTER_MISSES = 3
_NO_FRAME_POLL_S = 1.0
_MIN_POLL_S = 0.05
# However often posts report a lost lease, renew ahead of schedule at most every sixth of the TTL
# (and 5 s): a renewal may itself void the tickets of frames in flight, and that must not become
# a renewal storm.
_MAX_FORCED_RENEWAL_GAP_S = 5.0
_CLOSE_TIMEOUT_S = 5.0
WORKER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
MIN_TTL_S, MAX_TTL_S = 5, 300
_RELEASE_TIMEOUT_S = 5.0


@dataclass
class RunnerStats:
    frames_analyzed: int = 0
    frames_stale: int = 0
    analyzer_errors: int = 0
    batches_posted: int = 0
    detections_posted: int = 0
    duplicates: int = 0
    batches_dropped: int = 0
    leases: int = 0


def frame_id(task: AiTask, frame: Frame) -> str | None:
    """The idempotency key of a post: `{task_id}:{seq}` (or `{task_id}:{captured ms}` without seq).

    It names the task, not only the camera: two tasks on one camera analyze the same frame seq, and
    the kernel dedupes on (camera_id, frame_id) — with `{camera}:{seq}` the second task's batch
    would be taken for a replay of the first (or refused as a conflicting replay).
    """
    if frame.seq is not None:
        return f"{task.id}:{frame.seq}"
    if frame.captured_at is not None:
        return f"{task.id}:{int(frame.captured_at.timestamp() * 1000)}"
    return None


class Runner:
    """Runs one analyzer type against a kernel. `analyzer` makes a fresh instance per task.

    `analyzer` is usually the `Analyzer` subclass itself; pass `task_type` when it is a factory
    without a `task_type` attribute.
    """

    def __init__(
        self,
        client: HeldarClient,
        analyzer: Callable[[], Analyzer],
        worker_id: str,
        *,
        task_type: str | None = None,
        max_tasks: int | None = None,
        ttl_secs: int = 30,
        wait_ms: int = 5000,
        max_frame_age_ms: float | None = None,
        post_empty: bool = False,
        heartbeat: bool = True,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        ingest_attempts: int = 4,
    ) -> None:
        resolved = task_type or getattr(analyzer, "task_type", None)
        if not isinstance(resolved, str) or not resolved:
            raise ValueError("the analyzer has no task_type: pass task_type=")
        if not MIN_TTL_S <= ttl_secs <= MAX_TTL_S:
            raise ValueError(f"ttl_secs must be within {MIN_TTL_S}..{MAX_TTL_S}")
        if not WORKER_ID.match(worker_id):
            raise ValueError(
                "worker_id must be 1..64 of A-Z a-z 0-9 _ . : - (starting alphanumeric)"
            )
        self.client = client
        self.worker_id = worker_id
        self.task_type = resolved
        self.stats = RunnerStats()
        self._make_analyzer = analyzer
        self._max_tasks = max_tasks
        self._ttl_secs = ttl_secs
        self._wait_ms = wait_ms
        self._max_frame_age_ms = max_frame_age_ms
        self._post_empty = post_empty
        self._heartbeat = heartbeat
        self._backoff = (backoff_base, backoff_cap)
        self._ingest_attempts = max(1, ingest_attempts)
        self._lease: Lease | None = None
        self._lease_deadline = 0.0
        self._leased_at = 0.0
        self._heartbeat_s: float | None = None
        self._running: dict[str, tuple[AiTask, asyncio.Task[None]]] = {}
        self._frame_limit: int | None = None
        self._fatal: Exception | None = None
        self._stop: asyncio.Event | None = None
        self._renew_now: asyncio.Event | None = None
        self._group: asyncio.TaskGroup | None = None

    @property
    def lease(self) -> Lease | None:
        """The lease as last granted or renewed (None before the first, and after release)."""
        return self._lease

    @property
    def tasks(self) -> list[AiTask]:
        """The tasks with a running loop right now."""
        return [task for task, _ in self._running.values()]

    def stop(self) -> None:
        """Ask `run()` to finish: stop the loops, release the lease. Call from the loop's thread."""
        if self._stop is not None:
            self._stop.set()

    async def run_for(self, n_frames: int) -> RunnerStats:
        """`run()` until `n_frames` more frames have been analyzed (and their batches posted)."""
        if n_frames < 1:
            raise ValueError("n_frames must be >= 1")
        self._frame_limit = self.stats.frames_analyzed + n_frames
        try:
            return await self.run()
        finally:
            self._frame_limit = None

    async def run(self, *, handle_signals: bool = False) -> RunnerStats:
        """Lease, analyze and post until `stop()` (or a signal, with `handle_signals`)."""
        if self._stop is not None:
            raise RuntimeError("this runner is already running")
        self._stop = asyncio.Event()
        self._renew_now = asyncio.Event()
        self._fatal = None
        remove_handlers = _install_signal_handlers(self.stop) if handle_signals else None
        try:
            async with asyncio.TaskGroup() as group:
                self._group = group
                lease_loop = group.create_task(self._lease_loop(), name="heldar-lease")
                await self._stop.wait()
                lease_loop.cancel()
                self._reconcile([])
        finally:
            self._group = None
            self._running.clear()
            self._stop = None
            if remove_handlers is not None:
                remove_handlers()
            await self._release()
        if self._fatal is not None:
            raise self._fatal
        return self.stats

    # -- the lease ---------------------------------------------------------------------------------

    async def _lease_loop(self) -> None:
        assert self._renew_now is not None
        backoff = Backoff(*self._backoff)
        while True:
            delay: float
            if self._heartbeat:
                await self._heartbeat_once()
            try:
                lease = await self.client.lease(
                    self.worker_id,
                    task_types=[self.task_type],
                    max_tasks=self._max_tasks,
                    ttl_secs=self._ttl_secs,
                )
            except HeldarError as exc:
                if not exc.retryable:
                    self._fail(exc)
                    return
                delay = backoff.next()
                if isinstance(exc, RateLimited):
                    delay = max(delay, exc.retry_after)
                log.warning("lease failed (%s); retrying in %.1f s", exc, delay)
                if self._lease is not None and time.monotonic() >= self._lease_deadline:
                    # Past expiry the tasks may be someone else's: stop until leased again.
                    log.warning("lease %s expired; pausing its tasks", self._lease.lease_id)
                    self._reconcile([])
            else:
                backoff.reset()
                self._granted(lease)
                delay = self._renew_interval(lease)
            self._renew_now.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._renew_now.wait(), delay)

    async def _heartbeat_once(self) -> None:
        """Discovery marks this worker live under its key; the lease call decides the rest."""
        try:
            discovery = await self.client.discover(self.worker_id)
        except HeldarError as exc:
            log.debug("discovery heartbeat failed: %s", exc)
        else:
            self._heartbeat_s = discovery.heartbeat_interval_s

    def _granted(self, lease: Lease) -> None:
        if self._lease is None or self._lease.lease_id != lease.lease_id:
            log.info("lease %s: %d task(s)", lease.lease_id, len(lease.tasks))
        self._lease = lease
        self._leased_at = time.monotonic()
        self._lease_deadline = self._leased_at + self._lease_remaining(lease)
        self.stats.leases += 1
        self._reconcile([t for t in lease.tasks if t.enabled and t.task_type == self.task_type])

    def _lease_remaining(self, lease: Lease) -> float:
        """Seconds the lease has left by the kernel's word; the asked TTL if the clocks disagree."""
        expires_at = lease.expires_at
        if expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=UTC)
        remaining = (expires_at - datetime.now(UTC)).total_seconds()
        return remaining if 0 < remaining <= 10 * self._ttl_secs else float(self._ttl_secs)

    def _renew_interval(self, lease: Lease) -> float:
        # A third of the TTL leaves room for two failed renewals before the lease lapses; the
        # discovery heartbeat, when the kernel asks for one, may need to come sooner.
        interval = min(self._ttl_secs, self._lease_remaining(lease)) / 3
        if self._heartbeat and self._heartbeat_s is not None and self._heartbeat_s > 0:
            interval = min(interval, self._heartbeat_s)
        return max(1.0, interval)

    async def _release(self) -> None:
        lease, self._lease = self._lease, None
        if lease is None:
            return
        try:
            async with asyncio.timeout(_RELEASE_TIMEOUT_S):
                released = await self.client.release(lease.lease_id)
        except (HeldarError, TimeoutError) as exc:
            log.warning("could not release lease %s (it lapses by itself): %s", lease.lease_id, exc)
        else:
            log.info("lease %s %s", lease.lease_id, "released" if released else "already gone")

    def _reconcile(self, tasks: list[AiTask]) -> None:
        """Run exactly one loop per task in `tasks`; a task whose fields changed restarts."""
        wanted = {task.id: task for task in tasks}
        for task_id, (task, handle) in list(self._running.items()):
            if wanted.get(task_id) != task:
                log.info("task %s (camera %s) stopped", task_id, task.camera_id)
                handle.cancel()
                del self._running[task_id]
        if self._group is None or (self._stop is not None and self._stop.is_set()):
            return
        for task_id, task in wanted.items():
            if task_id not in self._running:
                log.info("task %s (camera %s) started", task_id, task.camera_id)
                handle = self._group.create_task(self._task_loop(task), name=f"heldar-{task_id}")
                self._running[task_id] = (task, handle)

    def _fail(self, exc: Exception) -> None:
        log.error("stopping: %s", exc)
        if self._fatal is None:
            self._fatal = exc
        self.stop()

    # -- one task ----------------------------------------------------------------------------------

    async def _task_loop(self, task: AiTask) -> None:
        # One thread per task, not asyncio.to_thread: setup/analyze/close of one analyzer must run
        # one at a time, and close() must queue behind an analyze still running when we cancel.
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"heldar-{task.id}")
        analyzer: Analyzer | None = None
        try:
            analyzer = await self._start_analyzer(task, executor)
            if analyzer is not None:
                await self._frames(task, analyzer, executor)
        finally:
            if analyzer is not None:
                closing = asyncio.wrap_future(executor.submit(analyzer.close))
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(closing, _CLOSE_TIMEOUT_S)
            executor.shutdown(wait=False)

    async def _start_analyzer(self, task: AiTask, executor: ThreadPoolExecutor) -> Analyzer | None:
        """A set-up analyzer for `task`; None (and the runner stopping) when it cannot run here."""
        backoff = Backoff(*self._backoff)
        while True:
            analyzer: Analyzer | None = None
            try:
                analyzer = self._make_analyzer()
                await _call(executor, analyzer.setup, task)
            except (AnalyzerUnavailable, DecoderUnavailable) as exc:
                self._fail(exc)  # a missing dependency does not install itself: stop
                return None
            except Exception:  # analyzer code: a supervisor boundary
                delay = backoff.next()
                log.exception(
                    "analyzer setup for task %s failed; retrying in %.1f s", task.id, delay
                )
                self.stats.analyzer_errors += 1
                await asyncio.sleep(delay)
            else:
                return analyzer

    async def _frames(self, task: AiTask, analyzer: Analyzer, executor: ThreadPoolExecutor) -> None:
        pull_backoff = Backoff(*self._backoff)
        analyze_backoff = Backoff(*self._backoff)
        last: Frame | None = None
        misses = 0
        while True:
            after = last.seq if last is not None and misses < _RESYNC_AFTER_MISSES else None
            started = time.monotonic()
            try:
                frame = await self.client.frame(task, after_seq=after, wait_ms=self._wait_ms)
            except HeldarError as exc:
                await self._pull_failed(task, exc, pull_backoff)
                continue
            pull_backoff.reset()
            if frame is None or (last is not None and _same_frame(frame, last)):
                misses += 1
                # A long-poll that timed out has already waited; an immediate answer (404 before the
                # first frame, a kernel without long-poll) must not turn into a busy loop.
                pause = (
                    max(_MIN_POLL_S, min(_NO_FRAME_POLL_S, self._wait_ms / 1000))
                    if frame is None
                    else 1.0 / max(task.fps, 0.1)
                )
                await asyncio.sleep(max(0.0, pause - (time.monotonic() - started)))
                continue
            misses = 0
            last = frame
            if self._max_frame_age_ms is not None and (frame.age_ms or 0) > self._max_frame_age_ms:
                self.stats.frames_stale += 1
                continue
            try:
                result = await _call(executor, analyzer.analyze, DecodedFrame(task, frame))
            except (AnalyzerUnavailable, DecoderUnavailable) as exc:
                self._fail(exc)
                return
            except Exception:  # analyzer code: a supervisor boundary
                self.stats.analyzer_errors += 1
                delay = analyze_backoff.next()
                log.exception("analyzer failed on task %s frame %s", task.id, frame.seq)
                await asyncio.sleep(delay)
                continue
            analyze_backoff.reset()
            if not result.empty or self._post_empty:
                await self._post(task, frame, result)
            self.stats.frames_analyzed += 1
            if self._frame_limit is not None and self.stats.frames_analyzed >= self._frame_limit:
                self.stop()

    async def _pull_failed(self, task: AiTask, exc: HeldarError, backoff: Backoff) -> None:
        delay = backoff.next()
        if isinstance(exc, RateLimited):
            delay = max(delay, exc.retry_after)
        if isinstance(exc, AuthError):
            self._renew_lease_now()  # the lease call decides whether the key is gone
        log.warning("frame pull for task %s failed (%s); retrying in %.1f s", task.id, exc, delay)
        await asyncio.sleep(delay)

    async def _post(self, task: AiTask, frame: Frame, result: Result) -> None:
        """Post one frame's batch; retry what may succeed later (idempotent by frame_id)."""
        request = IngestRequest(
            camera_id=task.camera_id,
            task_type=task.task_type,
            timestamp=frame.captured_at,
            frame_id=frame_id(task, frame),
            frame_ticket=frame.ticket,
            detections=result.detections,
            event=result.event,
        )
        backoff = Backoff(*self._backoff)
        for attempt in range(1, self._ingest_attempts + 1):
            try:
                answer = await self.client.ingest(request)
            except HeldarError as exc:
                if not exc.retryable:
                    # Refused as sent (409: replay with another body, 401/403: ticket required or
                    # not ours …): never resend it; re-lease in case the ticket was the problem.
                    log.warning("batch for task %s frame %s dropped: %s", task.id, frame.seq, exc)
                    self.stats.batches_dropped += 1
                    if exc.status in (401, 403):
                        self._renew_lease_now()
                    return
                retry = exc
            else:
                self.stats.batches_posted += 1
                self.stats.detections_posted += answer.detections_ingested
                if answer.duplicate:
                    self.stats.duplicates += 1
                if frame.ticket is not None and not answer.ticketed:
                    log.info("ingest was not bound to the frame ticket; renewing the lease")
                    self._renew_lease_now()
                return
            if attempt < self._ingest_attempts:
                delay = backoff.next()
                if isinstance(retry, RateLimited):
                    delay = max(delay, retry.retry_after)
                log.warning("posting task %s frame %s failed (%s)", task.id, frame.seq, retry)
                await asyncio.sleep(delay)
        log.warning("batch for task %s frame %s dropped after retries", task.id, frame.seq)
        self.stats.batches_dropped += 1

    def _renew_lease_now(self) -> None:
        if self._renew_now is None:
            return
        gap = min(_MAX_FORCED_RENEWAL_GAP_S, self._ttl_secs / 6)
        if time.monotonic() - self._leased_at >= gap:
            self._renew_now.set()


def _same_frame(frame: Frame, last: Frame) -> bool:
    if frame.seq is not None and last.seq is not None:
        return frame.seq == last.seq
    return frame.captured_at is not None and frame.captured_at == last.captured_at


async def _call(executor: ThreadPoolExecutor, fn: Callable[..., _T], *args: Any) -> _T:
    return await asyncio.get_running_loop().run_in_executor(executor, fn, *args)


def _install_signal_handlers(stop: Callable[[], None]) -> Callable[[], None]:
    """SIGTERM/SIGINT call `stop`; returns the undo. A no-op off the main thread or on Windows."""
    loop = asyncio.get_running_loop()
    installed: list[tuple[signal.Signals, Any]] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(sig)
        try:
            loop.add_signal_handler(sig, stop)
        except (NotImplementedError, RuntimeError, ValueError):
            continue
        installed.append((sig, previous))

    def remove() -> None:
        for sig, previous in installed:
            loop.remove_signal_handler(sig)
            if previous is not None:  # asyncio would leave the default, not what was there
                signal.signal(sig, previous)

    return remove
