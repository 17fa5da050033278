"""`heldar check`: verify the kernel's invariants against the store (and later the data directory).

Each invariant is one small async function `(CheckContext) -> CheckResult`, listed in `CHECKS` in
the order they run; a failed schema check stops the rest (nothing else can be trusted then). The
recording invariants of DESIGN.md §3 join as further functions. Checks only read.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from heldar.auth.audit import AuditLog
from heldar.clock import Clock, SystemClock
from heldar.errors import ConfigurationError
from heldar.events.log import EventLog
from heldar.recording.indexer import Indexer
from heldar.settings import Settings
from heldar.store import segments as segment_sql
from heldar.store.engine import Store, head_revision


@dataclass(frozen=True)
class CheckContext:
    settings: Settings
    store: Store
    clock: Clock


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    summary: str
    problems: tuple[str, ...] = field(default_factory=tuple)


Check = Callable[[CheckContext], Awaitable[CheckResult]]


async def check_schema(ctx: CheckContext) -> CheckResult:
    """The store is at the revision this version expects."""
    expected = head_revision()
    try:
        async with ctx.store.read() as conn:
            revision = await conn.scalar(text("SELECT version_num FROM alembic_version"))
    except SQLAlchemyError:
        revision = None
    if revision != expected:
        return CheckResult(
            "schema",
            False,
            f"store is at revision {revision or '(none)'}, expected {expected}: "
            "run `heldar migrate`",
        )
    return CheckResult("schema", True, f"store at revision {expected}")


async def check_audit_chain(ctx: CheckContext) -> CheckResult:
    """Every audit entry links to the one before it and matches its hash."""
    report = await AuditLog(ctx.store, ctx.clock).verify()
    problems = () if report.ok else (report.summary(),)
    return CheckResult("audit-chain", report.ok, report.summary(), problems)


def _live_files(data_dir: Path) -> set[Path]:
    """The newest file of every camera whose recorder pid file names a live process: the one
    file invariant 2 allows to be unindexed (ffmpeg is still writing it)."""
    live: set[Path] = set()
    for pid_file in (data_dir / "run").glob("*.pid"):
        try:
            pid = int(pid_file.read_text().strip())
        except ValueError:
            continue
        if not Path(f"/proc/{pid}").exists():
            continue
        files = sorted((data_dir / "recordings" / pid_file.stem).glob("*.mp4"))
        if files:
            live.add(files[-1])
    return live


async def check_segment_files(ctx: CheckContext) -> CheckResult:
    """Invariant 1: every segments row has its file, with the recorded size."""
    data_dir = ctx.settings.data_dir
    async with ctx.store.read() as conn:
        rows = await segment_sql.all_rows(conn)
    problems = []
    for row in rows:
        if row.deleting:
            problems.append(f"{row.path}: deletion was interrupted (run with --repair)")
            continue
        try:
            size = (data_dir / row.path).stat().st_size
        except FileNotFoundError:
            problems.append(f"{row.path}: indexed but missing on disk")
            continue
        if size != row.size_bytes:
            problems.append(f"{row.path}: {size} bytes on disk, {row.size_bytes} indexed")
    return CheckResult(
        "segment-files", not problems, f"{len(rows)} indexed segments checked", tuple(problems)
    )


async def check_files_indexed(ctx: CheckContext) -> CheckResult:
    """Invariant 2: every .mp4 under recordings/ is indexed or is being written right now."""
    data_dir = ctx.settings.data_dir
    async with ctx.store.read() as conn:
        known = set(await segment_sql.all_paths(conn))
    live = _live_files(data_dir)
    files = sorted((data_dir / "recordings").glob("*/*.mp4"))
    problems = [
        f"{path.relative_to(data_dir)}: on disk but not indexed (run with --repair)"
        for path in files
        if str(path.relative_to(data_dir)) not in known and path not in live
    ]
    return CheckResult(
        "files-indexed", not problems, f"{len(files)} files under recordings/", tuple(problems)
    )


async def check_no_overlap(ctx: CheckContext) -> CheckResult:
    """Invariant 4: segments of one camera never overlap in time."""
    async with ctx.store.read() as conn:
        rows = await segment_sql.all_rows(conn)
    problems = [
        f"{b.camera_id}: {Path(a.path).name} ends after {Path(b.path).name} starts"
        for a, b in itertools.pairwise(rows)
        if a.camera_id == b.camera_id and a.end_time > b.start_time
    ]
    return CheckResult(
        "no-overlap", not problems, f"{len(rows)} segments in order", tuple(problems)
    )


CHECKS: tuple[Check, ...] = (
    check_schema,
    check_audit_chain,
    check_segment_files,
    check_files_indexed,
    check_no_overlap,
)


async def repair(settings: Settings, *, clock: Clock | None = None) -> str:
    """Reconcile disk and index (what a kernel start does) — for `heldar check --repair`.
    Refused while a kernel records into this data directory. Unlike a start, it removes rows
    without files however many there are: the operator asked for it (the index guard is off)."""
    if _live_files(settings.data_dir):
        raise ConfigurationError("a recorder is running on this data directory: stop it first")
    clock = clock or SystemClock()
    store = Store(settings.store_url)
    try:
        indexer = Indexer(
            store, EventLog(store, clock), clock, settings.data_dir, guard_min_rows=sys.maxsize
        )
        report = await indexer.reconcile()
    finally:
        await store.close()
    return (
        f"indexed {report.indexed}, quarantined {report.quarantined}, removed "
        f"{report.rows_removed} rows without files, finished {report.deletions_finished} deletions"
    )


async def run_checks(
    settings: Settings, checks: Sequence[Check] = CHECKS, *, clock: Clock | None = None
) -> list[CheckResult]:
    """Run `checks` in order against the store of `settings`."""
    if settings.database_url is None and not settings.path("heldar.db").is_file():
        raise ConfigurationError(f"no store at {settings.path('heldar.db')}")
    store = Store(settings.store_url)
    ctx = CheckContext(settings=settings, store=store, clock=clock or SystemClock())
    results: list[CheckResult] = []
    try:
        for check in checks:
            result = await check(ctx)
            results.append(result)
            if check is check_schema and not result.ok:
                break
    finally:
        await store.close()
    return results
