"""SQL of users, sessions, API keys and the login throttle."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from heldar.auth.models import ApiKeyRecord, SessionRecord, UserRecord
from heldar.errors import Conflict
from heldar.store.tables import api_keys, login_throttle, sessions, users
from heldar.store.types import UtcDateTime

# -- users ----------------------------------------------------------------------------------------


def _user(row: Any) -> UserRecord:
    return UserRecord.model_validate(dict(row._mapping))


async def count_users(conn: AsyncConnection) -> int:
    return int(await conn.scalar(select(func.count()).select_from(users)) or 0)


async def count_enabled_admins(conn: AsyncConnection) -> int:
    query = select(func.count()).where(users.c.role == "admin", users.c.enabled.is_(True))
    return int(await conn.scalar(query) or 0)


async def list_users(conn: AsyncConnection) -> list[UserRecord]:
    return [_user(row) for row in await conn.execute(select(users).order_by(users.c.id))]


async def get_user(conn: AsyncConnection, user_id: int) -> UserRecord | None:
    row = (await conn.execute(select(users).where(users.c.id == user_id))).first()
    return _user(row) if row is not None else None


async def get_user_by_name(conn: AsyncConnection, username: str) -> UserRecord | None:
    row = (await conn.execute(select(users).where(users.c.username == username))).first()
    return _user(row) if row is not None else None


async def insert_user(conn: AsyncConnection, values: dict[str, Any]) -> int:
    try:
        async with conn.begin_nested():
            result = await conn.execute(insert(users).values(**values).returning(users.c.id))
    except IntegrityError as exc:
        raise Conflict(f"user {values['username']!r} already exists", code="user_exists") from exc
    return int(result.scalar_one())


async def update_user(conn: AsyncConnection, user_id: int, values: dict[str, Any]) -> None:
    await conn.execute(update(users).where(users.c.id == user_id).values(**values))


async def delete_user(conn: AsyncConnection, user_id: int) -> bool:
    result = await conn.execute(delete(users).where(users.c.id == user_id))
    return bool(result.rowcount)


# -- sessions -------------------------------------------------------------------------------------


async def insert_session(conn: AsyncConnection, record: SessionRecord) -> None:
    await conn.execute(insert(sessions).values(**record.model_dump()))


async def get_session(
    conn: AsyncConnection, token_hash: str
) -> tuple[SessionRecord, UserRecord] | None:
    """The session and its user, in one query (every authenticated request runs it)."""
    columns = [c.label(f"s_{c.name}") for c in sessions.c]
    columns += [c.label(f"u_{c.name}") for c in users.c]
    query = (
        select(*columns)
        .join_from(sessions, users, users.c.id == sessions.c.user_id)
        .where(sessions.c.token_hash == token_hash)
    )
    row = (await conn.execute(query)).first()
    if row is None:
        return None
    values = row._mapping
    session = SessionRecord.model_validate({c.name: values[f"s_{c.name}"] for c in sessions.c})
    user = UserRecord.model_validate({c.name: values[f"u_{c.name}"] for c in users.c})
    return session, user


async def touch_session(conn: AsyncConnection, token_hash: str, at: datetime) -> None:
    await conn.execute(
        update(sessions).where(sessions.c.token_hash == token_hash).values(last_seen_at=at)
    )


async def delete_session(conn: AsyncConnection, token_hash: str) -> bool:
    result = await conn.execute(delete(sessions).where(sessions.c.token_hash == token_hash))
    return bool(result.rowcount)


async def delete_user_sessions(
    conn: AsyncConnection, user_id: int, *, keep: str | None = None
) -> int:
    query = delete(sessions).where(sessions.c.user_id == user_id)
    if keep is not None:
        query = query.where(sessions.c.token_hash != keep)
    result = await conn.execute(query)
    return int(result.rowcount)


async def delete_expired_sessions(conn: AsyncConnection, now: datetime) -> int:
    result = await conn.execute(delete(sessions).where(sessions.c.expires_at <= now))
    return int(result.rowcount)


# -- API keys -------------------------------------------------------------------------------------


def _key(row: Any) -> ApiKeyRecord:
    return ApiKeyRecord.model_validate(dict(row._mapping))


async def insert_api_key(conn: AsyncConnection, values: dict[str, Any]) -> int:
    result = await conn.execute(insert(api_keys).values(**values).returning(api_keys.c.id))
    return int(result.scalar_one())


async def list_api_keys(conn: AsyncConnection) -> list[ApiKeyRecord]:
    return [_key(row) for row in await conn.execute(select(api_keys).order_by(api_keys.c.id))]


async def get_api_key(conn: AsyncConnection, key_id: int) -> ApiKeyRecord | None:
    row = (await conn.execute(select(api_keys).where(api_keys.c.id == key_id))).first()
    return _key(row) if row is not None else None


async def get_api_key_by_hash(conn: AsyncConnection, token_hash: str) -> ApiKeyRecord | None:
    row = (await conn.execute(select(api_keys).where(api_keys.c.token_hash == token_hash))).first()
    return _key(row) if row is not None else None


async def revoke_api_key(conn: AsyncConnection, key_id: int, at: datetime) -> bool:
    query = (
        update(api_keys)
        .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=at)
    )
    return bool((await conn.execute(query)).rowcount)


async def touch_api_key(conn: AsyncConnection, key_id: int, at: datetime) -> None:
    await conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=at))


# -- login throttle -------------------------------------------------------------------------------


async def throttle_rows(
    conn: AsyncConnection, keys: list[str]
) -> dict[str, tuple[int, datetime, datetime | None]]:
    """`key → (failures, window_start, locked_until)` for the keys that have a row."""
    rows = await conn.execute(select(login_throttle).where(login_throttle.c.key.in_(keys)))
    return {row.key: (row.failures, row.window_start, row.locked_until) for row in rows}


async def record_failure(
    conn: AsyncConnection,
    key: str,
    *,
    now: datetime,
    window_s: float,
    max_failures: int,
    locked_until: datetime,
) -> tuple[int, datetime | None]:
    """Count one failure for `key` atomically (one upsert, safe across nodes).

    Failures older than the window start a new count; reaching `max_failures` sets the lock.
    Returns the new `(failures, locked_until)`.
    """
    table = login_throttle
    cutoff = now - timedelta(seconds=window_s)
    expired = table.c.window_start <= literal(cutoff, UtcDateTime())
    failures = case((expired, 1), else_=table.c.failures + 1)
    upsert = _dialect_insert(conn)(table).values(
        key=key,
        failures=1,
        window_start=now,
        locked_until=locked_until if max_failures <= 1 else None,
    )
    statement = upsert.on_conflict_do_update(
        index_elements=[table.c.key],
        set_={
            "failures": failures,
            "window_start": case(
                (expired, literal(now, UtcDateTime())), else_=table.c.window_start
            ),
            "locked_until": case(
                (failures >= max_failures, literal(locked_until, UtcDateTime())),
                else_=table.c.locked_until,
            ),
        },
    ).returning(table.c.failures, table.c.locked_until)
    row = (await conn.execute(statement)).one()
    return int(row.failures), row.locked_until


def _dialect_insert(conn: AsyncConnection) -> Any:
    # INSERT … ON CONFLICT has the same meaning on both backends; SQLAlchemy spells it per dialect.
    return pg_insert if conn.dialect.name == "postgresql" else sqlite_insert


async def clear_throttle(conn: AsyncConnection, key: str) -> None:
    await conn.execute(delete(login_throttle).where(login_throttle.c.key == key))


async def locked_keys(conn: AsyncConnection, now: datetime) -> dict[str, datetime]:
    """Every key locked at `now`, with the end of its lock."""
    query = select(login_throttle.c.key, login_throttle.c.locked_until).where(
        login_throttle.c.locked_until > now
    )
    return {row.key: row.locked_until for row in await conn.execute(query)}


async def purge_throttle(
    conn: AsyncConnection, *, window_start_before: datetime, now: datetime
) -> int:
    query = delete(login_throttle).where(
        login_throttle.c.window_start < window_start_before,
        (login_throttle.c.locked_until.is_(None)) | (login_throttle.c.locked_until <= now),
    )
    return int((await conn.execute(query)).rowcount)
