"""`EventLog`: append events (redacted), list them, and tell whoever listens.

Payload strings pass through `redact()` before they are stored, so an ffmpeg stderr tail or a URL
in an event can never carry a camera password. Two seams carry an event further:
- outbox writers (`add_outbox`) run *inside* the transaction that stores the event, so what they
  write (the webhook outbox) exists exactly when the event does;
- listeners (`subscribe`) are called after the commit, synchronously and in id order on SQLite
  (one writer); they must not block or raise (the SSE hub, MQTT, the webhook dispatcher's wake-up).
"""

from __future__ import annotations

import builtins
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from heldar.clock import Clock
from heldar.events.models import Event, Severity
from heldar.logs import redact
from heldar.store import events as sql
from heldar.store.engine import Store

log = logging.getLogger(__name__)

EventListener = Callable[[Event], None]


@dataclass(frozen=True)
class EventDraft:
    """An event to append (`append_many_in`): the log gives it its id and redacts its payload."""

    event_type: str
    camera_id: str | None = None
    severity: Severity = "info"
    payload: dict[str, Any] = field(default_factory=dict)
    timestamp: datetime | None = None


OutboxWriter = Callable[[AsyncConnection, list[Event]], Awaitable[None]]


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
        self._listeners: list[EventListener] = []
        self._outboxes: list[OutboxWriter] = []
        self.appended: Counter[str] = Counter()  # by severity, for metrics

    def subscribe(self, listener: EventListener) -> None:
        """Call `listener(event)` after each append commits (never blocks, never raises)."""
        self._listeners.append(listener)

    def add_outbox(self, writer: OutboxWriter) -> None:
        """Run `writer(conn, events)` in the transaction that stores those events (once per
        append, with every event it stored)."""
        self._outboxes.append(writer)

    async def append(
        self,
        event_type: str,
        *,
        camera_id: str | None = None,
        severity: Severity = "info",
        payload: dict[str, Any] | None = None,
    ) -> int:
        async with self._store.write() as conn:
            event = await self.append_in(
                conn, event_type, camera_id=camera_id, severity=severity, payload=payload
            )
        self.committed([event])
        return event.id

    async def append_in(
        self,
        conn: AsyncConnection,
        event_type: str,
        *,
        camera_id: str | None = None,
        severity: Severity = "info",
        payload: dict[str, Any] | None = None,
        timestamp: datetime | None = None,
    ) -> Event:
        """Store an event in the caller's write transaction (the outbox writers run in it too).
        The caller must hand the result to `committed()` once its transaction has committed —
        the seam for services that log events together with their own rows (ingest, zones)."""
        safe = redacted(payload or {})
        timestamp = timestamp or self._clock.now()
        event_id = await sql.insert_event(
            conn,
            camera_id=camera_id,
            event_type=event_type,
            severity=severity,
            timestamp=timestamp,
            payload=safe,
        )
        event = Event(
            id=event_id,
            camera_id=camera_id,
            event_type=event_type,
            severity=severity,
            timestamp=timestamp,
            payload=safe,
        )
        for writer in self._outboxes:
            await writer(conn, [event])
        return event

    async def append_many_in(
        self, conn: AsyncConnection, items: Iterable[EventDraft]
    ) -> builtins.list[Event]:
        """`append_in` for several events in one statement (a zone engine's burst); the caller
        hands the result to `committed()` after its commit, as for `append_in`."""
        drafts = builtins.list(items)
        rows = [
            {
                "camera_id": d.camera_id,
                "event_type": d.event_type,
                "severity": d.severity,
                "timestamp": d.timestamp or self._clock.now(),
                "payload": redacted(d.payload),
            }
            for d in drafts
        ]
        ids = await sql.insert_events(conn, rows)
        made = [Event(id=event_id, **row) for event_id, row in zip(ids, rows, strict=True)]
        if made:
            for writer in self._outboxes:
                await writer(conn, made)
        return made

    def committed(self, events: Iterable[Event]) -> None:
        """Events whose transaction committed: log them and tell every listener, in id order."""
        for event in events:
            log.info(
                "event %s camera=%s %s",
                event.event_type,
                event.camera_id,
                event.payload,
                extra={"camera_id": event.camera_id} if event.camera_id else None,
            )
            self.appended[event.severity] += 1
            self._publish(event)

    def _publish(self, event: Event) -> None:
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:  # a listener's bug must not fail an event that already committed
                log.exception("event listener %r failed", listener)

    async def list(
        self,
        *,
        camera_id: str | None = None,
        event_type: str | None = None,
        severity: Severity | None = None,
        before_id: int | None = None,
        since_id: int | None = None,
        camera_scope: Collection[str] | None = None,
        limit: int = 100,
    ) -> list[Event]:
        """Newest first; with `since_id`, ascending from just after it (a forward cursor)."""
        async with self._store.read() as conn:
            return await sql.list_events(
                conn,
                camera_id=camera_id,
                event_type=event_type,
                severity=severity,
                before_id=before_id,
                since_id=since_id,
                camera_scope=camera_scope,
                limit=limit,
            )

    async def types(self, limit: int = 500) -> builtins.list[str]:
        """Distinct event types found in the log."""
        async with self._store.read() as conn:
            return await sql.event_types(conn, limit)

    async def newest_id(self) -> int:
        async with self._store.read() as conn:
            return await sql.newest_id(conn)
