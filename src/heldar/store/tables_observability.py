"""Tables of observability and integrations (migration 0008), on the shared `metadata`.

`webhooks` are the subscriptions; `webhook_deliveries` is their durable outbox: one row per
(webhook, event), written in the same transaction as the event itself, holding the exact bytes
every attempt sends (so retries carry the same body and signature). See design/observability.md.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from heldar.store.tables import metadata
from heldar.store.types import UtcDateTime

__all__ = ["metadata", "webhook_deliveries", "webhooks"]

_ID = BigInteger().with_variant(Integer, "sqlite")

webhooks = Table(
    "webhooks",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False),
    Column("url", String(2048), nullable=False),
    Column("event_types", JSON, nullable=False),
    Column("min_severity", String(16), nullable=False),
    # "plain:<secret>" or "aesgcm:<b64>" (heldar.secretbox); write-only, never leaves the kernel.
    Column("secret_enc", Text, nullable=True),
    Column("enabled", Boolean, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column(
        "webhook_id",
        _ID,
        ForeignKey("webhooks.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("event_id", _ID, nullable=True),  # NULL for the synthetic `test` delivery
    Column("event_type", String(64), nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(16), nullable=False),  # pending | delivered | failed
    Column("attempts", Integer, nullable=False),
    # Due time while pending; also the claim: an attempt in flight pushes it past its timeout.
    Column("next_attempt_at", UtcDateTime(), nullable=False),
    Column("response_code", Integer, nullable=True),
    Column("error", String(512), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("delivered_at", UtcDateTime(), nullable=True),
    Column("updated_at", UtcDateTime(), nullable=False),
    Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    Index("ix_webhook_deliveries_webhook_id_id", "webhook_id", "id"),
    Index("ix_webhook_deliveries_webhook_id_event_id", "webhook_id", "event_id", unique=True),
)
