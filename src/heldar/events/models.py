"""Event types: one row of the event log as clients see it."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

Severity = Literal["info", "warning", "critical"]


class Event(BaseModel):
    """`id, camera_id, event_type, severity, timestamp, payload` (reference contract)."""

    model_config = ConfigDict(frozen=True)

    id: int
    camera_id: str | None
    event_type: str
    severity: Severity
    timestamp: datetime
    payload: dict[str, Any]
