"""Fixtures of the event tests: a migrated SQLite store and an event log on it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from heldar.clock import SystemClock
from heldar.events.log import EventLog
from heldar.store.engine import Store


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'heldar.db'}")
    await store.migrate()
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
def event_log(sqlite_store: Store) -> EventLog:
    return EventLog(sqlite_store, SystemClock())
