"""`EventLog`: append events (redacted) and list them.

Payload strings pass through `redact()` before they are stored, so an ffmpeg stderr tail or a URL
in an event can never carry a camera password.
"""

from __future__ import annotations

import logging
from typing import Any

from heldar.clock import Clock
from heldar.events.models import Event, Severity
from heldar.logs import redact
from heldar.store import events as sql
from heldar.store.engine import Store

log = logging.getLogger(__name__)


def redacted(value: Any) -> Any:
    """`value` with `redact()` applied to every string inside it."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {str(k): redacted(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redacted(v) for v in value]
    return value


class EventLog:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def append(
        self,
        event_type: str,
        *,
        camera_id: str | None = None,
        severity: Severity = "info",
        payload: dict[str, Any] | None = None,
    ) -> int:
        safe = redacted(payload or {})
        async with self._store.write() as conn:
            event_id = await sql.insert_event(
                conn,
                camera_id=camera_id,
                event_type=event_type,
                severity=severity,
                timestamp=self._clock.now(),
                payload=safe,
            )
        log.info("event %s camera=%s %s", event_type, camera_id, safe)
        return event_id

    async def list(
        self,
        *,
        camera_id: str | None = None,
        event_type: str | None = None,
        severity: Severity | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> list[Event]:
        async with self._store.read() as conn:
            return await sql.list_events(
                conn,
                camera_id=camera_id,
                event_type=event_type,
                severity=severity,
                before_id=before_id,
                limit=limit,
            )
