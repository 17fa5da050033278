"""The few statements whose SQL differs between SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection


async def upsert(
    conn: AsyncConnection, table: Table, values: dict[str, Any], *, keys: Sequence[str]
) -> None:
    """INSERT … ON CONFLICT (keys) DO UPDATE SET every other given column."""
    module: Any = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = module.insert(table).values(**values)
    updates = {k: statement.excluded[k] for k in values if k not in keys}
    await conn.execute(statement.on_conflict_do_update(index_elements=list(keys), set_=updates))
