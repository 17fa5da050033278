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


async def sqlite_insert_many(
    conn: AsyncConnection, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    """Driver-level executemany on SQLite, for hot paths whose per-row SQLAlchemy parameter
    processing dominates. `rows` must already hold the columns' stored form (the caller knows
    it: naive UTC text with microseconds for `UtcDateTime`, `json.dumps` text for `JSON`).
    Identifiers come from the `Table`, never from input."""
    if conn.dialect.name != "sqlite":
        raise ValueError("sqlite_insert_many is for SQLite stores only")
    for name in columns:
        table.c[name]  # KeyError for a column the table does not have
    placeholders = ", ".join("?" for _ in columns)
    statement = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({placeholders})"  # noqa: S608 - identifiers from the Table
    if rows:
        await conn.exec_driver_sql(statement, rows)
