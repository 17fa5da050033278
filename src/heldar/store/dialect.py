"""The few statements whose SQL differs between SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection


async def upsert(
    conn: AsyncConnection,
    table: Table,
    values: dict[str, Any] | Sequence[dict[str, Any]],
    *,
    keys: Sequence[str],
) -> None:
    """INSERT … ON CONFLICT (keys) DO UPDATE SET every other given column, for one row or, in
    one executemany, for several rows with the same columns."""
    rows = [values] if isinstance(values, dict) else list(values)
    if not rows:
        return
    module: Any = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = module.insert(table)
    updates = {k: statement.excluded[k] for k in rows[0] if k not in keys}
    await conn.execute(
        statement.on_conflict_do_update(index_elements=list(keys), set_=updates), rows
    )


async def insert_ids(
    conn: AsyncConnection, table: Table, rows: Sequence[dict[str, Any]]
) -> list[int]:
    """Insert `rows` (same columns) as one batched statement; their `id`s, in the order given.

    PostgreSQL returns them in parameter order (SQLAlchemy's `sort_by_parameter_order`). On
    SQLite that option makes SQLAlchemy fall back to one INSERT per row — a thread hop each,
    under the store's write lock — while the single writer assigns rowids in insertion order
    anyway, so the ids of one multi-row INSERT … RETURNING, sorted, are in row order."""
    if not rows:
        return []
    if conn.dialect.name == "sqlite":
        result = await conn.execute(insert(table).returning(table.c.id), list(rows))
        return sorted(int(row.id) for row in result)
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return [int(row.id) for row in await conn.execute(statement, list(rows))]


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
