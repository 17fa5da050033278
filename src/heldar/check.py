"""`heldar check`: verify the kernel's invariants against the store (and later the data directory).

Each invariant is one small async function `(CheckContext) -> CheckResult`, listed in `CHECKS` in
the order they run; a failed schema check stops the rest (nothing else can be trusted then). The
recording invariants of DESIGN.md §3 join as further functions. Checks only read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from heldar.auth.audit import AuditLog
from heldar.clock import Clock, SystemClock
from heldar.errors import ConfigurationError
from heldar.settings import Settings
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


CHECKS: tuple[Check, ...] = (check_schema, check_audit_chain)


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
