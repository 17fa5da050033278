"""Ingest of worker detections: provenance, idempotency and group commit.

`Ingest.accept(principal, request)` turns a validated request into a `Prepared` batch (ticket
checked, provenance written by the server, a SHA-256 of the canonical body) and hands it to the
`IngestWriter`. The writer is one service that commits *every* pending batch in one transaction —
outbox rows, detections and worker events together — then answers each request and offers the
committed batches to the consumer hub. Under load one SQLite transaction carries tens of batches,
so the single writer is not the bottleneck (docs/design/perception.md §Ingest).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from heldar.auth.models import Principal
from heldar.clock import Clock
from heldar.errors import Conflict, Forbidden, HeldarError, NotFound, TooManyRequests
from heldar.events.log import EventLog, redacted
from heldar.perception.leases import Leases
from heldar.perception.models import (
    Detection,
    DetectionBatch,
    DetectionIn,
    IngestRequest,
    IngestResponse,
)
from heldar.perception.tickets import TicketSigner
from heldar.store import perception as sql
from heldar.store.engine import Store

log = logging.getLogger(__name__)

Provenance = Literal["warn", "enforce"]
MAX_PENDING = 2000
MAX_GROUP = 256
SERVER_ATTRIBUTES = frozenset({"source", "_prov"})


@dataclass
class Prepared:
    camera_id: str
    task_type: str
    frame_id: str | None
    body_hash: str
    timestamp: datetime
    detections: tuple[Detection, ...]
    event: dict[str, Any] | None
    provenance: dict[str, Any]
    done: asyncio.Future[IngestResponse] = field(repr=False)


class Ingest:
    """Checks and stamps a batch, then waits for the writer to commit it."""

    def __init__(
        self,
        writer: IngestWriter,
        tickets: TicketSigner,
        leases: Leases,
        clock: Clock,
        *,
        provenance: Provenance,
        camera_exists: Callable[[str], bool],
        task_type_of: Callable[[str], str | None],
    ) -> None:
        self._task_type_of = task_type_of
        self._writer = writer
        self._tickets = tickets
        self._leases = leases
        self._clock = clock
        self._provenance = provenance
        self._camera_exists = camera_exists

    async def accept(self, principal: Principal, request: IngestRequest) -> IngestResponse:
        camera_id, task_type, frame_id = request.camera_id, request.task_type, request.frame_id
        prov: dict[str, Any] = {"ticketed": False}
        if request.frame_ticket is not None:
            claims = self._tickets.verify(request.frame_ticket)
            lease = self._leases.holder(principal.actor, claims.task_id)
            if lease is None or lease.lease_id != claims.lease_id:
                raise Forbidden("the frame ticket's lease is not yours", code="invalid_ticket")
            camera_id, frame_id = claims.camera_id, claims.frame_id
            task_type = self._task_type_of(claims.task_id) or task_type
            prov = {
                "ticketed": True,
                "lease_id": lease.lease_id,
                "worker_id": lease.worker_id,
                "task_id": claims.task_id,
                "captured_at": claims.captured_at.isoformat(),
            }
        elif self._provenance == "enforce":
            raise Forbidden(
                "a frame_ticket is required (HELDAR_INGEST_PROVENANCE=enforce)",
                code="ticket_required",
            )
        principal.check_camera(camera_id)
        if not self._camera_exists(camera_id):
            raise NotFound(f"camera {camera_id!r} not found", code="camera_not_found")
        source = principal.actor
        # `source` and `_prov` are the server's: whatever the worker put there is dropped, and the
        # batch's provenance is what every reader sees under those keys.
        detections = tuple(map(_detection, request.detections))
        event = None
        if request.event is not None:
            severity = "warning" if request.event.severity == "critical" else request.event.severity
            event = {
                "event_type": request.event.event_type,
                "severity": severity,
                "payload": redacted(request.event.payload),
            }
        timestamp = request.timestamp or self._clock.now()
        body_hash = _fingerprint(camera_id, task_type, frame_id, request, detections, event)
        prepared = Prepared(
            camera_id=camera_id,
            task_type=task_type,
            frame_id=frame_id,
            body_hash=body_hash,
            timestamp=timestamp,
            detections=detections,
            event=event,
            provenance={"source": source, **prov},
            done=asyncio.get_running_loop().create_future(),
        )
        return await self._writer.submit(prepared)


class IngestWriter:
    """The one service that writes ingest batches, many per transaction."""

    name = "ingest-writer"

    def __init__(
        self,
        store: Store,
        clock: Clock,
        events: EventLog,
        *,
        on_committed: Callable[[list[DetectionBatch]], None],
    ) -> None:
        self._events = events
        self._store = store
        self._clock = clock
        self._queue: asyncio.Queue[Prepared] = asyncio.Queue(MAX_PENDING)
        self._on_committed = on_committed
        self.batches_total = 0
        self.detections_total = 0
        self.duplicates_total = 0

    async def submit(self, prepared: Prepared) -> IngestResponse:
        try:
            self._queue.put_nowait(prepared)
        except asyncio.QueueFull:
            raise TooManyRequests(
                "ingest is saturated; retry shortly", retry_after_s=1, code="ingest_busy"
            ) from None
        return await prepared.done

    async def run(self) -> None:
        try:
            while True:
                group = [await self._queue.get()]
                while len(group) < MAX_GROUP and not self._queue.empty():
                    group.append(self._queue.get_nowait())
                await self._commit(group)
        finally:
            while not self._queue.empty():
                pending = self._queue.get_nowait()
                if not pending.done.done():
                    pending.done.set_exception(
                        TooManyRequests("the kernel is stopping", retry_after_s=5)
                    )

    async def _commit(self, group: list[Prepared]) -> None:
        try:
            answers, committed = await self._write(group)
        except HeldarError as exc:  # e.g. StoreBusy: every request of the group gets it
            for item in group:
                if not item.done.done():
                    item.done.set_exception(exc)
            return
        except Exception as exc:
            log.exception("ingest commit failed")
            for item in group:
                if not item.done.done():
                    item.done.set_exception(exc)
            return
        for item, answer in zip(group, answers, strict=True):
            if not item.done.done():
                if isinstance(answer, HeldarError):
                    item.done.set_exception(answer)
                else:
                    item.done.set_result(answer)
        if committed:
            self._on_committed(committed)

    async def _write(
        self, group: list[Prepared]
    ) -> tuple[list[IngestResponse | HeldarError], list[DetectionBatch]]:
        now = self._clock.now()
        answers: list[IngestResponse | HeldarError | None] = []
        fresh: list[tuple[int, Prepared]] = []  # (answer index, batch) of what gets stored
        keys = [(p.camera_id, p.frame_id) for p in group if p.frame_id is not None]
        async with self._store.write() as conn:
            known = await sql.existing_batches(conn, keys)
            seen: dict[tuple[str, str], str] = {k: v.body_hash for k, v in known.items()}
            for item in group:
                key = None if item.frame_id is None else (item.camera_id, item.frame_id)
                if key is not None and key in seen:
                    answers.append(self._repeat(item, seen[key]))
                    continue
                if key is not None:
                    seen[key] = item.body_hash
                fresh.append((len(answers), item))
                answers.append(None)
            ids = await sql.insert_batches(
                conn,
                [_batch_row(item, now) for _, item in fresh],
                [
                    sql.BatchDetections(
                        item.camera_id, item.task_type, item.timestamp, item.detections
                    )
                    for _, item in fresh
                ],
            )
            logged = []
            for _, item in fresh:
                if item.event is not None:
                    logged.append(
                        await self._events.append_in(
                            conn,
                            item.event["event_type"],
                            camera_id=item.camera_id,
                            severity=item.event["severity"],
                            timestamp=item.timestamp,
                            payload={**item.event["payload"], "source": item.provenance["source"]},
                        )
                    )
        self._events.committed(logged)
        committed = []
        for (index, item), batch_id in zip(fresh, ids, strict=True):
            answers[index] = IngestResponse(
                detections_ingested=len(item.detections),
                ticketed=bool(item.provenance.get("ticketed")),
                duplicate=False,
                batch_id=batch_id,
            )
            committed.append(
                DetectionBatch(
                    id=batch_id,
                    camera_id=item.camera_id,
                    task_type=item.task_type,
                    frame_id=item.frame_id,
                    timestamp=item.timestamp,
                    detections=item.detections,
                    event=item.event,
                    provenance=item.provenance,
                )
            )
        self.batches_total += len(committed)
        self.detections_total += sum(len(b.detections) for b in committed)
        return [a for a in answers if a is not None], committed

    def _repeat(self, item: Prepared, stored_hash: str) -> IngestResponse | HeldarError:
        """A frame already ingested: the same body is a duplicate, another one a conflict."""
        if stored_hash != item.body_hash:
            return Conflict(
                f"frame {item.frame_id!r} of {item.camera_id!r} was already ingested with a "
                "different body",
                code="frame_conflict",
            )
        self.duplicates_total += 1
        ticketed = bool(item.provenance.get("ticketed"))
        return IngestResponse(detections_ingested=0, ticketed=ticketed, duplicate=True)


def _detection(detection: DetectionIn) -> Detection:
    """A validated detection as stored, without the attributes the server writes itself
    (`source`, `_prov`)."""
    x, y, w, h = detection.bbox
    attributes = detection.attributes
    if attributes and not SERVER_ATTRIBUTES.isdisjoint(attributes):
        attributes = {k: v for k, v in attributes.items() if k not in SERVER_ATTRIBUTES}
    return Detection(
        detection.label, detection.confidence, (x, y, w, h), detection.track_id, attributes
    )


def _fingerprint(
    camera_id: str,
    task_type: str,
    frame_id: str | None,
    request: IngestRequest,
    detections: tuple[Detection, ...],
    event: dict[str, Any] | None,
) -> str:
    """SHA-256 of what the batch says (the ticket left out: it only vouches for it), so a replay
    is told from a different body under the same frame id. Built from the parsed values — the
    `repr` of floats is exact and stable — rather than re-serializing the request model, which
    cost more than the rest of the hashing together."""
    parts: list[object] = [
        camera_id,
        task_type,
        frame_id,
        request.timestamp.isoformat() if request.timestamp else None,
        json.dumps(event, sort_keys=True, default=str) if event else None,
    ]
    for d in detections:
        attributes = json.dumps(d.attributes, sort_keys=True, default=str) if d.attributes else ""
        parts.append((d.label, d.confidence, d.bbox, d.track_id, attributes))
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _batch_row(item: Prepared, now: datetime) -> dict[str, Any]:
    return {
        "camera_id": item.camera_id,
        "task_type": item.task_type,
        "frame_id": item.frame_id,
        "body_hash": item.body_hash,
        "timestamp": item.timestamp,
        "detections": len(item.detections),
        "event": item.event,
        "provenance": item.provenance,
        "created_at": now,
    }


def _detections(item: Prepared) -> sql.BatchDetections:
    return sql.BatchDetections(item.camera_id, item.task_type, item.timestamp, item.detections)
