"""Opening the store: engines, the single SQLite writer, migrations, error translation.

SQLite runs in WAL mode with a busy timeout. Every write goes through one writer connection, and an
asyncio lock serializes write transactions, which begin with `BEGIN IMMEDIATE` so a transaction
never has to upgrade a read lock (the classic SQLITE_BUSY deadlock). Reads use their own pool and
never wait for writers. PostgreSQL uses one asyncpg pool for both. A store that stays locked beyond
the busy timeout surfaces as `StoreBusy` (HTTP 503 + Retry-After), never as a 500.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from heldar.errors import ConfigurationError, StoreBusy
from heldar.logs import redact
from heldar.settings import async_store_url

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT_MS = 5000
_PG_MIGRATION_LOCK = 0x48454C44  # "HELD": one node migrates at a time


def _is_busy(exc: DBAPIError) -> bool:
    message = str(exc.orig).lower()
    return any(s in message for s in ("database is locked", "database is busy", "lock timeout"))


class Store:
    """Connections to the store. Use `read()` for queries and `write()` for transactions."""

    def __init__(self, url: str, *, busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS) -> None:
        self.url = async_store_url(url)
        parsed = make_url(self.url)
        self.dialect = parsed.get_backend_name()
        if self.dialect not in ("sqlite", "postgresql"):
            raise ConfigurationError(
                f"unsupported store {self.dialect!r}: use sqlite or postgresql"
            )
        self._write_lock: asyncio.Lock | None = None
        if self.dialect == "sqlite":
            database = parsed.database or ""
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            self._writer = create_async_engine(self.url, pool_size=1, max_overflow=0)
            self._reader = create_async_engine(self.url, pool_size=4, max_overflow=4)
            _configure_sqlite(self._writer, immediate=True, busy_timeout_ms=busy_timeout_ms)
            _configure_sqlite(self._reader, immediate=False, busy_timeout_ms=busy_timeout_ms)
            self._write_lock = asyncio.Lock()
        else:
            self._writer = create_async_engine(self.url, pool_size=5, max_overflow=5)
            self._reader = self._writer

    @property
    def description(self) -> str:
        """The URL with any password masked, for logs and `/system`."""
        return redact(make_url(self.url).render_as_string(hide_password=True))

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for queries (no transaction is committed)."""
        try:
            async with self._reader.connect() as conn:
                yield conn
        except OperationalError as exc:
            if _is_busy(exc):
                raise StoreBusy("the store is busy; retry shortly") from exc
            raise

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """One write transaction: committed on success, rolled back on any exception."""
        try:
            if self._write_lock is None:
                async with self._writer.begin() as conn:
                    yield conn
                return
            async with self._write_lock, self._writer.begin() as conn:
                yield conn
        except OperationalError as exc:
            if _is_busy(exc):
                raise StoreBusy("the store is busy; retry shortly") from exc
            raise

    async def migrate(self) -> str:
        """Create or upgrade the schema to the newest revision; returns that revision."""
        async with self.write() as conn:
            if self.dialect == "postgresql":
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK}
                )
            await conn.run_sync(_upgrade)
            revision = await conn.scalar(text("SELECT version_num FROM alembic_version"))
        return str(revision)

    async def ping(self) -> None:
        """Raise if the store cannot answer a trivial query."""
        async with self.read() as conn:
            await conn.execute(text("SELECT 1"))

    async def close(self) -> None:
        await self._writer.dispose()
        if self._reader is not self._writer:
            await self._reader.dispose()


def _configure_sqlite(engine: AsyncEngine, *, immediate: bool, busy_timeout_ms: int) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, emit BEGIN (the driver's implicit BEGIN is deferred).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    """The newest migration revision shipped with this version."""
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def _upgrade(sync_conn: Connection) -> None:
    config = _alembic_config()
    config.attributes["connection"] = sync_conn
    command.upgrade(config, "head")
