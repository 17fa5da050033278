"""Event types: one row of the event log as clients see it, and severity order."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

Severity = Literal["info", "warning", "critical"]
SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "critical": 2}


class Event(BaseModel):
    """`id, camera_id, event_type, severity, timestamp, payload` (reference contract)."""

    model_config = ConfigDict(frozen=True)

    id: int
    camera_id: str | None
    event_type: str
    severity: Severity
    timestamp: datetime
    payload: dict[str, Any]


def at_least(severity: str, floor: str) -> bool:
    """True when `severity` is `floor` or more severe."""
    return SEVERITY_RANK.get(severity, 0) >= SEVERITY_RANK.get(floor, 0)


# -- webhooks (reference contract: /api/v1/webhooks) ---------------------------------------------

EVENT_TYPE_PATTERN = r"^(\*|[A-Za-z0-9_.:-]{1,64})$"
EventTypeName = Annotated[str, Field(pattern=EVENT_TYPE_PATTERN)]
DeliveryStatus = Literal["pending", "delivered", "failed"]
MAX_EVENT_TYPES = 64


def _clean_name(value: str) -> str:
    value = value.strip()
    if not value or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("name must be non-empty and free of control characters")
    return value


def _event_types(value: list[str]) -> list[str]:
    unique = list(dict.fromkeys(value))
    return unique or ["*"]


class WebhookCreate(BaseModel):
    """`POST /webhooks`. `secret` is write-only: it signs deliveries and is never returned."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128)
    url: str = Field(
        min_length=1, max_length=2048, description="http(s) target; no credentials in it."
    )
    event_types: list[EventTypeName] = Field(
        default_factory=lambda: ["*"],
        max_length=MAX_EVENT_TYPES,
        description='Event types delivered; `["*"]` (or empty) is every type.',
    )
    min_severity: Severity = Field(default="info", description="Least severe event delivered.")
    secret: SecretStr | None = Field(
        default=None,
        min_length=16,
        max_length=256,
        description="HMAC-SHA256 key of `X-Heldar-Signature`; no signature without it.",
    )
    enabled: bool = True

    _name = field_validator("name")(_clean_name)
    _types = field_validator("event_types")(_event_types)


class WebhookUpdate(BaseModel):
    """`PATCH /webhooks/{id}`: absent fields stay; `secret: null` removes the secret."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=128)
    url: str | None = Field(default=None, min_length=1, max_length=2048)
    event_types: list[EventTypeName] | None = Field(default=None, max_length=MAX_EVENT_TYPES)
    min_severity: Severity | None = None
    secret: SecretStr | None = Field(default=None, min_length=16, max_length=256)
    enabled: bool | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return None if value is None else _clean_name(value)

    @field_validator("event_types")
    @classmethod
    def _types(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _event_types(value)


class WebhookRecord(BaseModel):
    """A stored webhook, sealed secret included (never leaves the kernel)."""

    model_config = ConfigDict(frozen=True)

    id: int
    name: str
    url: str
    event_types: list[str]
    min_severity: Severity
    secret_enc: str | None = Field(repr=False)
    enabled: bool
    created_at: datetime
    updated_at: datetime

    def wants(self, event: Event) -> bool:
        types = self.event_types
        return ("*" in types or event.event_type in types) and at_least(
            event.severity, self.min_severity
        )


class Webhook(BaseModel):
    """A webhook as clients see it: `has_secret` instead of the secret."""

    model_config = ConfigDict(frozen=True)

    id: int
    name: str
    url: str
    event_types: list[str]
    min_severity: Severity
    has_secret: bool
    enabled: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, record: WebhookRecord) -> Webhook:
        fields = record.model_dump(exclude={"secret_enc"})
        return cls(**fields, has_secret=bool(record.secret_enc))


class WebhookDelivery(BaseModel):
    """One row of the outbox: an event for a webhook, with its attempts so far."""

    model_config = ConfigDict(frozen=True)

    id: int
    subscription_id: int
    event_id: int | None
    event_type: str
    status: DeliveryStatus
    attempts: int
    response_code: int | None
    error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None


class WebhookTestResult(BaseModel):
    """`POST /webhooks/{id}/test`: one signed `test` delivery, attempted now."""

    ok: bool
    status: int | None
    error: str | None
    delivery_id: int
