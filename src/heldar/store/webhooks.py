"""SQL of webhooks and their delivery outbox (tables in `tables_observability`)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, type_coerce, update
from sqlalchemy.ext.asyncio import AsyncConnection

from heldar.events.models import WebhookDelivery, WebhookRecord
from heldar.store.dialect import insert_ids
from heldar.store.tables_observability import webhook_deliveries as deliveries
from heldar.store.tables_observability import webhooks
from heldar.store.types import UtcDateTime


@dataclass(frozen=True)
class Job:
    """A claimed delivery: what one attempt needs."""

    id: int
    webhook_id: int
    event_type: str
    body: str
    attempts: int
    url: str
    secret_enc: str | None


# -- webhooks -------------------------------------------------------------------------------------


def _webhook(row: Any) -> WebhookRecord:
    return WebhookRecord.model_validate(dict(row._mapping))


async def insert_webhook(conn: AsyncConnection, values: dict[str, Any]) -> int:
    result = await conn.execute(insert(webhooks).values(**values).returning(webhooks.c.id))
    return int(result.scalar_one())


async def get_webhook(conn: AsyncConnection, webhook_id: int) -> WebhookRecord | None:
    row = (await conn.execute(select(webhooks).where(webhooks.c.id == webhook_id))).first()
    return _webhook(row) if row is not None else None


async def list_webhooks(
    conn: AsyncConnection, *, enabled_only: bool = False
) -> list[WebhookRecord]:
    query = select(webhooks).order_by(webhooks.c.id)
    if enabled_only:
        query = query.where(webhooks.c.enabled.is_(True))
    return [_webhook(row) for row in await conn.execute(query)]


async def count_webhooks(conn: AsyncConnection) -> int:
    return int(await conn.scalar(select(func.count()).select_from(webhooks)) or 0)


async def update_webhook(conn: AsyncConnection, webhook_id: int, values: dict[str, Any]) -> None:
    await conn.execute(update(webhooks).where(webhooks.c.id == webhook_id).values(**values))


async def delete_webhook(conn: AsyncConnection, webhook_id: int) -> bool:
    # Explicit, so the outbox empties on PostgreSQL and SQLite alike (the FK cascades too).
    await conn.execute(delete(deliveries).where(deliveries.c.webhook_id == webhook_id))
    result = await conn.execute(delete(webhooks).where(webhooks.c.id == webhook_id))
    return result.rowcount > 0


# -- the outbox -----------------------------------------------------------------------------------


async def insert_deliveries(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> list[int]:
    return await insert_ids(conn, deliveries, rows)


_due = and_(deliveries.c.status == "pending", webhooks.c.enabled.is_(True))


async def claim_due(
    conn: AsyncConnection, now: datetime, lease_until: datetime, limit: int
) -> list[Job]:
    """Pending deliveries of enabled webhooks due by `now`, oldest due first, claimed by pushing
    their due time to `lease_until` (an attempt that never reports back is retried after it).
    The conditional UPDATE makes the claim exclusive across kernel nodes sharing a store."""
    rows = await conn.execute(
        select(
            deliveries.c.id,
            deliveries.c.webhook_id,
            deliveries.c.event_type,
            deliveries.c.body,
            deliveries.c.attempts,
            webhooks.c.url,
            webhooks.c.secret_enc,
        )
        .join(webhooks, webhooks.c.id == deliveries.c.webhook_id)
        .where(_due, deliveries.c.next_attempt_at <= now)
        .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
        .limit(limit)
    )
    candidates = {row.id: Job(**dict(row._mapping)) for row in rows}
    if not candidates:
        return []
    claimed = await conn.execute(
        update(deliveries)
        .where(
            deliveries.c.id.in_(list(candidates)),
            deliveries.c.status == "pending",
            deliveries.c.next_attempt_at <= now,
        )
        .values(next_attempt_at=lease_until, updated_at=now)
        .returning(deliveries.c.id)
    )
    won = {int(row[0]) for row in claimed}
    return [job for job_id, job in candidates.items() if job_id in won]


async def finish_attempt(conn: AsyncConnection, delivery_id: int, values: dict[str, Any]) -> None:
    await conn.execute(
        update(deliveries)
        .where(deliveries.c.id == delivery_id, deliveries.c.status == "pending")
        .values(**values)
    )


async def next_due(conn: AsyncConnection, *, besides: Collection[int] = ()) -> datetime | None:
    """When the earliest pending delivery of an enabled webhook is due (ids in `besides`, the
    caller's attempts in flight, left out: their due time is only their claim's lease)."""
    earliest = type_coerce(func.min(deliveries.c.next_attempt_at), UtcDateTime())
    query = (
        select(earliest)
        .select_from(deliveries.join(webhooks, webhooks.c.id == deliveries.c.webhook_id))
        .where(_due)
    )
    if besides:
        query = query.where(deliveries.c.id.not_in(sorted(besides)))
    value: datetime | None = await conn.scalar(query)
    return value


async def pending_count(conn: AsyncConnection) -> int:
    return int(
        await conn.scalar(
            select(func.count()).select_from(deliveries).where(deliveries.c.status == "pending")
        )
        or 0
    )


async def list_deliveries(
    conn: AsyncConnection,
    webhook_id: int,
    *,
    status: str | None,
    before_id: int | None,
    limit: int,
) -> list[WebhookDelivery]:
    query = select(deliveries).where(deliveries.c.webhook_id == webhook_id)
    if status is not None:
        query = query.where(deliveries.c.status == status)
    if before_id is not None:
        query = query.where(deliveries.c.id < before_id)
    rows = await conn.execute(query.order_by(deliveries.c.id.desc()).limit(limit))
    out = []
    for row in rows:
        values = dict(row._mapping)
        values["subscription_id"] = values.pop("webhook_id")
        if values["status"] != "pending":
            values["next_attempt_at"] = None
        out.append(WebhookDelivery.model_validate(values))
    return out


async def get_delivery(conn: AsyncConnection, delivery_id: int) -> WebhookDelivery | None:
    row = (await conn.execute(select(deliveries).where(deliveries.c.id == delivery_id))).first()
    if row is None:
        return None
    values = dict(row._mapping)
    values["subscription_id"] = values.pop("webhook_id")
    return WebhookDelivery.model_validate(values)


async def prune_deliveries(conn: AsyncConnection, before: datetime) -> int:
    """Forget finished deliveries last touched before `before`."""
    result = await conn.execute(
        delete(deliveries).where(
            deliveries.c.status.in_(("delivered", "failed")), deliveries.c.updated_at < before
        )
    )
    return int(result.rowcount)
