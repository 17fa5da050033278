"""Alembic environment: always runs on the connection the kernel hands it (Store.migrate)."""

from __future__ import annotations

from alembic import context

from heldar.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `heldar migrate` (Store.migrate), not bare alembic")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations()
