"""`Retention`: the service that deletes recordings by age, quota, size cap and free-disk floor.

Each pass reads totals from the index, lets the guard judge them, plans with the pure rule
(`heldar.recording.eviction`) and deletes crash-safely: rows marked `deleting` in one transaction,
files unlinked, rows deleted — a kill at any point is finished by `Indexer.reconcile` or by the
next pass. Evidence-locked and protected segments are never chosen (docs/design/retention.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from heldar.clock import Clock
from heldar.errors import Conflict
from heldar.events.log import EventLog
from heldar.recording import eviction
from heldar.recording.eviction import (
    GB,
    CameraState,
    CameraTotals,
    GuardTrip,
    Limits,
    Marked,
    Reason,
    RetentionSettings,
)
from heldar.recording.naming import segment_start
from heldar.store import retention as sql
from heldar.store.engine import Store

log = logging.getLogger(__name__)

DISK_CHECK_S = 5.0
# Window rows per camera beyond its aged ones, when something must be evicted; and the most rows
# one camera contributes to a pass (more work is done by further passes, run back to back).
EVICT_PAGE = 1000
MAX_WINDOW = 20_000
# Once the free space fell under the floor, a pass frees this much more (hysteresis: the next
# segments and the store's own growth do not bring it straight back under).
FLOOR_HEADROOM = 0.05
# A guard that keeps holding is reported again after this long (it is logged every pass).
GUARD_REPEAT = timedelta(hours=1)

ProtectedIds = Callable[[], Iterable[int]]


def disk_free_bytes(path: Path) -> int:
    """Free bytes for unprivileged writers on the filesystem holding `path`."""
    return shutil.disk_usage(path).free


@dataclass(frozen=True)
class ReasonTotal:
    segments: int
    bytes: int


@dataclass(frozen=True)
class PassReport:
    """What one pass did (also the payload of `retention_pruned`)."""

    deleted: int = 0
    bytes: int = 0
    by_reason: dict[str, ReasonTotal] = field(default_factory=dict)
    by_camera: dict[str, int] = field(default_factory=dict)
    trips: tuple[GuardTrip, ...] = ()
    held_all: bool = False
    short: bool = False
    unmet_bytes: int = 0
    free_bytes: int | None = None


@dataclass(frozen=True)
class DeletionReport:
    segments: int
    bytes: int
    files_removed: int


class Retention:
    """Supervisor-owned (`name`, `run()`); `prune()` is one pass, `tick()` one wake-up."""

    name = "retention"

    def __init__(
        self,
        store: Store,
        events: EventLog,
        clock: Clock,
        data_dir: Path,
        *,
        defaults: RetentionSettings,
        protected: ProtectedIds | None = None,
        free_bytes: Callable[[Path], int] = disk_free_bytes,
        disk_check_s: float = DISK_CHECK_S,
    ) -> None:
        self._store = store
        self._events = events
        self._clock = clock
        self._data_dir = data_dir
        self._recordings = data_dir / "recordings"
        self._defaults = defaults
        self._protected_sources: list[ProtectedIds] = [protected] if protected else []
        self._held: Counter[int] = Counter()
        self._free_bytes = free_bytes
        self._disk_check_s = disk_check_s
        self._settings: RetentionSettings | None = None
        self._lock = asyncio.Lock()
        self._woken = False
        # Rows left marked `deleting` may exist: at start (reconcile finished them, unless the
        # store was shared) and after a deletion of ours failed half-way. Looking costs a scan.
        self._unfinished = True
        self._last_pass: float | None = None
        self._floor_gave_up_at: float | None = None
        self._guard_reported: dict[tuple[str, str | None], datetime] = {}

    # -- the service loop ------------------------------------------------------------------------

    async def run(self) -> None:
        while True:
            report = await self.tick()
            if report is not None and report.short and report.deleted:
                continue  # a window ran out: the next pass picks up right away
            await self._clock.sleep(self._disk_check_s)

    def wake(self) -> None:
        """Run a pass at the next tick (settings changed, a camera's retention changed)."""
        self._woken = True

    async def camera_changed(self, camera_id: str) -> None:
        """`CameraRegistry.subscribe` listener: a camera's retention may have changed."""
        self.wake()

    async def tick(self) -> PassReport | None:
        """Run a pass if one is due: first call, interval over, woken, or disk under the floor."""
        settings = await self.settings()
        now = self._clock.monotonic()
        last = self._last_pass
        due = self._woken or last is None or now - last >= settings.interval_s
        if not due and settings.min_free_disk_gb > 0 and self._below_floor(settings):
            # A floor nothing can be freed for is retried at the interval, not every tick.
            gave_up = self._floor_gave_up_at
            due = gave_up is None or now - gave_up >= settings.interval_s
        if not due:
            return None
        self._woken = False
        report = await self.prune()
        self._last_pass = self._clock.monotonic()
        floor_unmet = (
            report.free_bytes is not None and not report.deleted and report.unmet_bytes > 0
        )
        self._floor_gave_up_at = self._last_pass if floor_unmet or report.held_all else None
        return report

    def _below_floor(self, settings: RetentionSettings) -> bool:
        free = self._free()
        return free is not None and free < settings.min_free_disk_gb * GB

    def _free(self) -> int | None:
        try:
            return self._free_bytes(self._recordings)
        except OSError as exc:
            log.warning("cannot read free space of %s: %s", self._recordings, exc)
            return None

    # -- settings --------------------------------------------------------------------------------

    async def settings(self) -> RetentionSettings:
        """The settings in force: the stored row, else the defaults (cached between passes)."""
        if self._settings is None:
            async with self._store.read() as conn:
                self._settings = await sql.load_settings(conn) or self._defaults
        return self._settings

    async def update_settings(self, values: RetentionSettings) -> RetentionSettings:
        async with self._store.write() as conn:
            await sql.save_settings(conn, values, self._clock.now())
        self._settings = values
        self.wake()
        log.info("retention settings changed: %s", values)
        return values

    # -- protection ------------------------------------------------------------------------------

    def add_protection(self, source: ProtectedIds) -> None:
        """Also never delete the ids `source()` returns (e.g. live playback sessions)."""
        self._protected_sources.append(source)

    @contextmanager
    def hold(self, ids: Iterable[int]) -> Iterator[None]:
        """Protect segments for the duration of a job (an export reading them)."""
        held = list(ids)
        self._held.update(held)
        try:
            yield
        finally:
            self._held.subtract(held)
            self._held += Counter()  # drop ids no job holds any more

    def protected_ids(self) -> frozenset[int]:
        ids: set[int] = set(self._held)
        for source in self._protected_sources:
            ids.update(source())
        return frozenset(ids)

    # -- one pass --------------------------------------------------------------------------------

    async def prune(self) -> PassReport:
        """One pass: finish interrupted deletions, judge, plan, delete, report."""
        async with self._lock:
            async with self._store.read() as conn:
                self._settings = await sql.load_settings(conn) or self._defaults
            settings = self._settings
            if self._unfinished:
                await self._finish_interrupted()
            now = self._clock.now()
            free = self._free() if settings.min_free_disk_gb > 0 else None
            limits = _limits(settings, free)
            states = await self._states(now, free, limits)
            assessment = eviction.assess(now, states, limits)
            await self._report_guard(assessment.trips)
            if assessment.all_held:
                return PassReport(trips=assessment.trips, held_all=True, free_bytes=free)
            protected = self.protected_ids()
            states = await self._windows(states, assessment, len(protected))
            chosen = eviction.plan(now, states, limits, protected, age_held=assessment.age_held)
            reasons = {c.segment.id: c.reason for c in chosen.choices}
            # a session opened since the plan was made still wins
            ids = [i for i in chosen.ids if i not in self.protected_ids()]
            with self._noting_failures():
                marked = await delete_segments(self._store, self._data_dir, ids)
            report = _report(marked, reasons, assessment.trips, chosen, free)
            await self._forget_gaps(now, states, {m.camera_id for m in marked})
        if report.deleted:
            await self._events.append("retention_pruned", severity="info", payload=_payload(report))
        return report

    async def _states(self, now: datetime, free: int | None, limits: Limits) -> list[CameraState]:
        """Each camera's state. Byte totals (one scan of the whole index) are measured only when
        a byte rule can act: a cap, a quota, or free space under the floor."""
        async with self._store.read() as conn:
            policies = await sql.camera_policies(conn)
            under_floor = free is not None and free < limits.min_free_bytes
            quotas = any(quota is not None for _, quota in policies.values())
            if limits.max_bytes is not None or under_floor or quotas:
                totals = await sql.camera_totals(conn)
            else:
                totals = []
                for camera_id in sorted(policies):
                    newest = await sql.newest_start(conn, camera_id)
                    if newest is not None:
                        totals.append(CameraTotals(camera_id, -1, -1, 0, newest))
            states = []
            for t in totals:
                policy = policies.get(t.camera_id)
                retention = None if policy is None else timedelta(hours=policy[0])
                quota = None if policy is None or policy[1] is None else int(policy[1] * GB)
                aged = (0, 0)
                if retention is not None:
                    aged = await sql.aged_totals(conn, t.camera_id, now - retention)
                if t.segment_count < 0:  # age only: count when the guard needs it
                    count = aged[0]
                    if aged[0] > eviction.GUARD_MIN_SEGMENTS:
                        count = await sql.segment_count(conn, t.camera_id)
                    t = CameraTotals(t.camera_id, count, aged[1], 0, t.newest_start)
                states.append(_state(t, retention, quota, aged))
        return states

    async def _windows(
        self, states: list[CameraState], assessment: eviction.Assessment, n_protected: int
    ) -> list[CameraState]:
        out = []
        async with self._store.read() as conn:
            for state in states:
                size = 0 if state.camera_id in assessment.age_held else state.aged_count
                size += _eviction_rows(state, assessment.intent)
                if size == 0 or state.unlocked_bytes == 0:
                    out.append(eviction.with_window(state, (), complete=state.unlocked_bytes == 0))
                    continue
                limit = min(MAX_WINDOW, size + n_protected)
                window = await sql.oldest_unlocked(conn, state.camera_id, limit)
                out.append(eviction.with_window(state, window, complete=len(window) < limit))
        return out

    async def _forget_gaps(
        self, now: datetime, states: Sequence[CameraState], cameras: set[str]
    ) -> None:
        """Gap rows of footage that aged out mean nothing any more: they go with it."""
        cutoffs = {
            s.camera_id: cutoff
            for s in states
            if s.camera_id in cameras and (cutoff := s.cutoff(now)) is not None
        }
        if cutoffs:
            async with self._store.write() as conn:
                for camera_id, cutoff in sorted(cutoffs.items()):
                    await sql.forget_gaps(conn, camera_id, before=cutoff)

    async def _finish_interrupted(self) -> None:
        async with self._store.read() as conn:
            leftovers = await sql.marked_rows(conn)
        if leftovers:
            log.warning("finishing %d interrupted segment deletions", len(leftovers))
            await _unlink_and_forget(self._store, self._data_dir, leftovers)
        self._unfinished = False

    @contextmanager
    def _noting_failures(self) -> Iterator[None]:
        try:
            yield
        except BaseException:
            self._unfinished = True  # the next pass finishes what was marked
            raise

    async def _report_guard(self, trips: Sequence[GuardTrip]) -> None:
        now = self._clock.now()
        active = {(trip.rule, trip.camera_id) for trip in trips}
        for key in list(self._guard_reported):
            if key not in active:
                del self._guard_reported[key]  # cleared: a new trip is reported at once
        for trip in trips:
            key = (trip.rule, trip.camera_id)
            log.warning("retention guard (%s, %s): %s", trip.rule, trip.camera_id, trip.detail)
            last = self._guard_reported.get(key)
            if last is not None and now - last < GUARD_REPEAT:
                continue
            self._guard_reported[key] = now
            await self._events.append(
                "retention_guard",
                camera_id=trip.camera_id,
                severity="warning",
                payload={"rule": trip.rule, "share": trip.share, "detail": trip.detail},
            )

    # -- camera deletion -------------------------------------------------------------------------

    async def ensure_deletable(self, camera_id: str) -> None:
        """Refuse (409 `segments_locked`) while any segment of the camera is evidence-locked."""
        async with self._store.read() as conn:
            locked = await sql.locked_count(conn, camera_id)
        if locked:
            raise Conflict(
                f"camera {camera_id!r} has {locked} evidence-locked segment(s); unlock them first",
                code="segments_locked",
            )

    async def delete_camera_recordings(self, camera_id: str) -> DeletionReport:
        """Delete every recording of a camera, crash-safely; 409 `segments_locked` (and nothing
        deleted) while any is locked. Call once the camera's recorder has stopped: unindexed
        files left in its directory (an unfinished segment) are removed too."""
        async with self._lock:
            async with self._store.write() as conn:
                locked = await sql.locked_count(conn, camera_id)
                if locked:
                    raise Conflict(
                        f"camera {camera_id!r} has {locked} evidence-locked segment(s)",
                        code="segments_locked",
                    )
                marked = await sql.mark_camera(conn, camera_id)
                await sql.forget_gaps(conn, camera_id, before=None)
            with self._noting_failures():
                await _unlink_and_forget(self._store, self._data_dir, marked)
            files = await asyncio.to_thread(self._remove_leftovers, camera_id)
        report = DeletionReport(len(marked), sum(m.size_bytes for m in marked), files)
        log.info("deleted the recordings of camera %s: %s", camera_id, report)
        return report

    def _remove_leftovers(self, camera_id: str) -> int:
        directory = self._recordings / camera_id
        if not directory.is_dir() or directory.is_symlink():
            return 0
        removed = 0
        for path in directory.iterdir():
            if path.suffix == ".mp4" and segment_start(path.name) is not None and path.is_file():
                path.unlink(missing_ok=True)
                removed += 1
        with contextlib.suppress(OSError):  # something else lives there: leave it
            directory.rmdir()
        return removed


def _limits(settings: RetentionSettings, free: int | None) -> Limits:
    floor = int(settings.min_free_disk_gb * GB)
    if free is not None and free < floor:
        floor += int(floor * FLOOR_HEADROOM)
    cap = settings.max_recordings_gb
    return Limits(
        max_bytes=None if cap is None else int(cap * GB),
        min_free_bytes=floor,
        free_bytes=free,
        max_share=settings.guard_max_share,
    )


def _eviction_rows(state: CameraState, intent: eviction.Intent) -> int:
    """Rows of a camera's window that eviction may need: enough segments of its average size to
    cover everything the pass wants to evict (at most `EVICT_PAGE`; more come in the next pass)."""
    need = intent.quota + intent.size + intent.disk
    if need <= 0 or state.segment_count == 0:
        return 0
    average = max(1, (state.unlocked_bytes + state.locked_bytes) // state.segment_count)
    return min(EVICT_PAGE, -(-need // average) + 1)


def _state(
    totals: CameraTotals,
    retention: timedelta | None,
    quota: int | None,
    aged: tuple[int, int],
) -> CameraState:
    return CameraState(
        camera_id=totals.camera_id,
        segment_count=totals.segment_count,
        unlocked_bytes=totals.total_bytes - totals.locked_bytes,
        locked_bytes=totals.locked_bytes,
        newest_start=totals.newest_start,
        retention=retention,
        quota_bytes=quota,
        aged_count=aged[0],
        aged_bytes=aged[1],
    )


def _report(
    marked: Sequence[Marked],
    reasons: dict[int, Reason],
    trips: tuple[GuardTrip, ...],
    chosen: eviction.Plan,
    free: int | None,
) -> PassReport:
    by_reason: dict[str, list[int]] = {}
    by_camera: Counter[str] = Counter()
    for m in marked:
        totals = by_reason.setdefault(reasons.get(m.id, "age"), [0, 0])
        totals[0] += 1
        totals[1] += m.size_bytes
        by_camera[m.camera_id] += 1
    return PassReport(
        deleted=len(marked),
        bytes=sum(m.size_bytes for m in marked),
        by_reason={r: ReasonTotal(n, b) for r, (n, b) in sorted(by_reason.items())},
        by_camera=dict(sorted(by_camera.items())),
        trips=trips,
        short=chosen.short,
        unmet_bytes=chosen.unmet_bytes,
        free_bytes=free,
    )


def _payload(report: PassReport) -> dict[str, object]:
    return {
        "segments": report.deleted,
        "bytes": report.bytes,
        "reasons": sorted(report.by_reason),
        "by_reason": {
            r: {"segments": t.segments, "bytes": t.bytes} for r, t in report.by_reason.items()
        },
        "cameras": report.by_camera,
        "free_bytes_before": report.free_bytes,
    }


# -- crash-safe deletion, phase by phase ----------------------------------------------------------


async def delete_segments(store: Store, data_dir: Path, ids: Sequence[int]) -> list[Marked]:
    """Delete segments (locked ones are skipped) so that a kill at any point leaves no row without
    its file: 1. mark the rows `deleting` (one transaction), 2. unlink the files, 3. delete the
    rows. Rows left marked are finished by `Indexer.reconcile` or the next retention pass."""
    if not ids:
        return []
    async with store.write() as conn:
        marked = await sql.mark_unlocked(conn, ids)
    await _unlink_and_forget(store, data_dir, marked)
    return marked


async def _unlink_and_forget(store: Store, data_dir: Path, marked: Sequence[Marked]) -> None:
    await asyncio.to_thread(unlink_files, data_dir, marked)
    async with store.write() as conn:
        await sql.forget(conn, [m.id for m in marked])


def unlink_files(data_dir: Path, marked: Iterable[Marked]) -> int:
    """Phase 2: remove the files of marked rows (already gone is fine). Paths come from the index
    and are refused unless they resolve under `<data_dir>/recordings`."""
    root = (data_dir / "recordings").resolve()
    removed = 0
    for m in marked:
        path = (data_dir / m.path).resolve()
        if not path.is_relative_to(root):
            log.error("segment %d: path %r is outside the recordings; not removed", m.id, m.path)
            continue
        try:
            path.unlink()
            removed += 1
        except FileNotFoundError:
            pass
    return removed
