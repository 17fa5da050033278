"""Webhooks: subscriptions (CRUD), the durable outbox, and the dispatcher that empties it.

Every event that a subscription wants becomes one `webhook_deliveries` row *in the transaction that
stores the event* (`enqueue`, an `EventLog` outbox writer), so a committed event always has its
deliveries and a crash can lose neither. `WebhookDispatcher` claims due rows, POSTs the stored body
(byte-identical on every attempt) with the reference's headers and HMAC signature, and records the
outcome: delivered, retried with exponential backoff on the injected clock, or failed after
`max_attempts`. Each attempt re-resolves and vets the target (`targets.vet`); the time, redirects
(none) and response size of an attempt are bounded. Invariants: docs/design/observability.md.
"""

from __future__ import annotations

import asyncio
import builtins
import hashlib
import hmac
import json
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection

from heldar import __version__
from heldar.clock import Clock
from heldar.errors import Conflict, InvalidInput, NotFound
from heldar.events.models import (
    Event,
    Webhook,
    WebhookCreate,
    WebhookDelivery,
    WebhookRecord,
    WebhookTestResult,
    WebhookUpdate,
)
from heldar.events.targets import TargetPolicy, TargetRefused, validate_url, vet
from heldar.logs import redact, register_secret
from heldar.secretbox import SecretBox
from heldar.store import webhooks as sql
from heldar.store.engine import Store

log = logging.getLogger(__name__)

MAX_WEBHOOKS = 100
MAX_ATTEMPTS = 5
MAX_RESPONSE_BYTES = 64 * 1024
ERROR_CHARS = 500
SEAL_CONTEXT = "webhook"
KEEP_FINISHED = timedelta(days=7)
PRUNE_EVERY_S = 3600.0
IDLE_POLL_S = 5.0  # rows another node wrote reach this one's dispatcher within this long
ENABLED_CACHE_S = 5.0
"""How long the outbox writer trusts its read of the enabled webhooks (changes made through
this kernel apply at once; another node's within this time)."""
CREATE_RESOLVE_TIMEOUT_S = 2.0


def body_of(event: Event) -> str:
    """The delivered JSON, `{id, camera_id, event_type, severity, timestamp, payload}`."""
    return json.dumps(event.model_dump(mode="json"), separators=(",", ":"), ensure_ascii=False)


def signature(secret: str, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256(secret, raw body)>` (the reference's scheme)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Attempt:
    """What one POST came to: a status code when the receiver answered, an error when not ok."""

    ok: bool
    status: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class DispatchOptions:
    timeout_s: float = 10.0
    backoff_s: float = 10.0  # first retry after this, then doubling
    max_attempts: int = MAX_ATTEMPTS
    concurrency: int = 16
    batch: int = 100


class Webhooks:
    """CRUD of subscriptions, the outbox writer, and single attempts (used by the dispatcher and
    by `POST /webhooks/{id}/test`)."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        secrets: SecretBox,
        policy: TargetPolicy,
        options: DispatchOptions,
    ) -> None:
        self._store = store
        self._clock = clock
        self._secrets = secrets
        self.policy = policy
        self.options = options
        self.outcomes: Counter[str] = Counter()  # delivered | retry | failed, for metrics
        self._enabled: tuple[float, builtins.list[WebhookRecord]] | None = None
        """The enabled webhooks as last read (monotonic time, records): the outbox writer reads
        them at most every `ENABLED_CACHE_S`, and at once after a change made here."""

    # -- subscriptions ---------------------------------------------------------------------------

    async def list(self) -> list[Webhook]:
        async with self._store.read() as conn:
            return [Webhook.of(r) for r in await sql.list_webhooks(conn)]

    async def get(self, webhook_id: int) -> WebhookRecord:
        async with self._store.read() as conn:
            record = await sql.get_webhook(conn, webhook_id)
        if record is None:
            raise NotFound(f"webhook {webhook_id} not found", code="webhook_not_found")
        return record

    async def create(self, body: WebhookCreate) -> Webhook:
        url = await self._check_url(body.url)
        secret = body.secret.get_secret_value() if body.secret else None
        register_secret(secret)
        now = self._clock.now()
        values = {
            "name": body.name,
            "url": url,
            "event_types": body.event_types,
            "min_severity": body.min_severity,
            "secret_enc": self._seal(secret),
            "enabled": body.enabled,
            "created_at": now,
            "updated_at": now,
        }
        async with self._store.write() as conn:
            if await sql.count_webhooks(conn) >= MAX_WEBHOOKS:
                raise Conflict(
                    f"at most {MAX_WEBHOOKS} webhooks; delete one first", code="too_many_webhooks"
                )
            webhook_id = await sql.insert_webhook(conn, values)
            record = await sql.get_webhook(conn, webhook_id)
        assert record is not None
        self._enabled = None
        log.info("webhook %d created (%s, host %s)", webhook_id, record.name, _host(url))
        return Webhook.of(record)

    async def update(self, webhook_id: int, body: WebhookUpdate) -> Webhook:
        given = body.model_fields_set
        values: dict[str, Any] = {
            k: getattr(body, k)
            for k in ("name", "event_types", "min_severity", "enabled")
            if k in given and getattr(body, k) is not None
        }
        if "url" in given and body.url is not None:
            values["url"] = await self._check_url(body.url)
        if "secret" in given:
            secret = body.secret.get_secret_value() if body.secret else None
            register_secret(secret)
            values["secret_enc"] = self._seal(secret)
        async with self._store.write() as conn:
            if await sql.get_webhook(conn, webhook_id) is None:
                raise NotFound(f"webhook {webhook_id} not found", code="webhook_not_found")
            if values:
                values["updated_at"] = self._clock.now()
                await sql.update_webhook(conn, webhook_id, values)
            record = await sql.get_webhook(conn, webhook_id)
        assert record is not None
        self._enabled = None
        log.info("webhook %d updated (%s)", webhook_id, ", ".join(sorted(given)) or "nothing")
        return Webhook.of(record)

    async def delete(self, webhook_id: int) -> None:
        async with self._store.write() as conn:
            if not await sql.delete_webhook(conn, webhook_id):
                raise NotFound(f"webhook {webhook_id} not found", code="webhook_not_found")
        self._enabled = None
        log.info("webhook %d deleted with its outbox", webhook_id)

    async def deliveries(
        self, webhook_id: int, *, status: str | None, before_id: int | None, limit: int
    ) -> builtins.list[WebhookDelivery]:
        await self.get(webhook_id)
        async with self._store.read() as conn:
            return await sql.list_deliveries(
                conn, webhook_id, status=status, before_id=before_id, limit=limit
            )

    async def register_stored_secrets(self) -> None:
        """Make `redact()` mask every stored secret (e.g. if a receiver echoes it in an error)."""
        async with self._store.read() as conn:
            records = await sql.list_webhooks(conn)
        for record in records:
            if record.secret_enc:
                register_secret(self._open(record.secret_enc))

    # -- the outbox ------------------------------------------------------------------------------

    def _known_hooks(self) -> builtins.list[WebhookRecord] | None:
        """The enabled webhooks as read within `ENABLED_CACHE_S` (None: to be read again)."""
        if self._enabled is None or self._clock.monotonic() - self._enabled[0] >= ENABLED_CACHE_S:
            return None
        return self._enabled[1]

    async def _enabled_hooks(self, conn: AsyncConnection) -> builtins.list[WebhookRecord]:
        hooks = self._known_hooks()
        if hooks is None:
            hooks = await sql.list_webhooks(conn, enabled_only=True)
            self._enabled = (self._clock.monotonic(), hooks)
        return hooks

    def may_want(self, event: Event) -> bool:
        """Could a delivery of `event` have been queued? False only when the enabled webhooks
        read for it want none (the dispatcher then need not look for work)."""
        hooks = self._known_hooks()
        return hooks is None or any(w.wants(event) for w in hooks)

    async def enqueue(self, conn: AsyncConnection, events: builtins.list[Event]) -> None:
        """`EventLog` outbox writer: one pending delivery per (event, enabled webhook wanting
        it), the webhooks read once for all the events of the transaction."""
        hooks = await self._enabled_hooks(conn)
        if not hooks:
            return
        now = self._clock.now()
        rows = []
        for event in events:
            wanted = [w for w in hooks if w.wants(event)]
            body = body_of(event) if wanted else ""
            rows += [
                {
                    "webhook_id": w.id,
                    "event_id": event.id,
                    "event_type": event.event_type,
                    "body": body,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
                for w in wanted
            ]
        if rows:
            await sql.insert_deliveries(conn, rows)

    async def test(self, webhook_id: int) -> WebhookTestResult:
        """Send one signed `test` event now (recorded as a delivery, never retried)."""
        record = await self.get(webhook_id)
        now = self._clock.now()
        event = Event(
            id=0,
            camera_id=None,
            event_type="test",
            severity="info",
            timestamp=now,
            payload={"message": "Heldar webhook test", "webhook_id": webhook_id},
        )
        body = body_of(event)
        async with self._store.write() as conn:
            [delivery_id] = await sql.insert_deliveries(
                conn,
                [
                    {
                        "webhook_id": webhook_id,
                        "event_id": None,
                        "event_type": "test",
                        "body": body,
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt_at": now + self.lease,
                        "created_at": now,
                        "updated_at": now,
                    }
                ],
            )
        job = sql.Job(
            id=delivery_id,
            webhook_id=webhook_id,
            event_type="test",
            body=body,
            attempts=0,
            url=record.url,
            secret_enc=record.secret_enc,
        )
        result = await self.attempt(job)
        await self.record(job, result, max_attempts=1)
        return WebhookTestResult(
            ok=result.ok, status=result.status, error=result.error, delivery_id=delivery_id
        )

    # -- attempts --------------------------------------------------------------------------------

    @property
    def lease(self) -> timedelta:
        """How long a claimed delivery stays claimed: past any attempt's bound."""
        return timedelta(seconds=2 * self.options.timeout_s + 5)

    async def attempt(self, job: sql.Job, client: httpx.AsyncClient | None = None) -> Attempt:
        """POST the job's body once. Never raises (but for cancellation)."""
        body = job.body.encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"heldar-webhook/{__version__}",
            "X-Heldar-Event": job.event_type,
            "X-Heldar-Delivery": str(job.id),
            "X-Heldar-Timestamp": str(int(self._clock.now().timestamp())),
        }
        try:
            if job.secret_enc:
                headers["X-Heldar-Signature"] = signature(self._open(job.secret_enc), body)
            async with asyncio.timeout(self.options.timeout_s):
                target = await vet(job.url, self.policy)
                headers["Host"] = target.host_header
                extensions = {"sni_hostname": target.host} if target.url.scheme == "https" else {}
                owned = client is None
                http = client or _client(self.options.timeout_s)
                try:
                    return await _post(http, target.connect_url, body, headers, extensions)
                finally:
                    if owned:
                        await http.aclose()
        except TargetRefused as exc:
            return Attempt(ok=False, error=f"target refused: {exc}")
        except TimeoutError:
            return Attempt(ok=False, error=f"no answer within {self.options.timeout_s:g} s")
        except (httpx.HTTPError, OSError) as exc:
            return Attempt(ok=False, error=_describe(exc))

    async def record(self, job: sql.Job, result: Attempt, *, max_attempts: int | None) -> str:
        """Store an attempt's outcome; returns `delivered`, `retry` or `failed`."""
        [outcome] = await self.record_many([(job, result)], max_attempts=max_attempts)
        return outcome

    async def record_many(
        self, finished: Sequence[tuple[sql.Job, Attempt]], *, max_attempts: int | None = None
    ) -> builtins.list[str]:
        """Store the outcomes of several attempts in one transaction (the dispatcher's batch)."""
        limit = max_attempts or self.options.max_attempts
        now = self._clock.now()
        rows: builtins.list[tuple[sql.Job, str, dict[str, Any]]] = []
        for job, result in finished:
            attempts = job.attempts + 1
            values: dict[str, Any] = {
                "attempts": attempts,
                "response_code": result.status,
                "error": redact(result.error)[:ERROR_CHARS] if result.error else None,
                "updated_at": now,
            }
            if result.ok:
                outcome = "delivered"
                values.update(status="delivered", delivered_at=now)
            elif attempts >= limit:
                outcome = "failed"
                values.update(status="failed")
            else:
                outcome = "retry"
                delay = self.options.backoff_s * 2 ** (attempts - 1)
                values.update(next_attempt_at=now + timedelta(seconds=delay))
            rows.append((job, outcome, values))
        if not rows:
            return []
        async with self._store.write() as conn:
            for job, _, values in rows:
                await sql.finish_attempt(conn, job.id, values)
        for job, outcome, values in rows:
            self.outcomes[outcome] += 1
            if outcome != "delivered":
                log.warning(
                    "webhook %d delivery %d attempt %d: %s (%s)",
                    job.webhook_id,
                    job.id,
                    values["attempts"],
                    values["error"],
                    outcome,
                )
        return [outcome for _, outcome, _ in rows]

    async def release(self, job: sql.Job) -> None:
        """Give a claimed delivery back (shutdown mid-attempt): due again at once."""
        now = self._clock.now()
        async with self._store.write() as conn:
            await sql.finish_attempt(conn, job.id, {"next_attempt_at": now, "updated_at": now})

    # -- internals -------------------------------------------------------------------------------

    async def _check_url(self, raw: str) -> str:
        url = validate_url(raw)
        try:
            async with asyncio.timeout(CREATE_RESOLVE_TIMEOUT_S):
                await vet(url, self.policy)
        except TargetRefused as exc:
            raise InvalidInput(
                f"webhook target refused: {exc}; an operator may allow private networks with "
                "HELDAR_WEBHOOK_ALLOW_PRIVATE",
                code="webhook_target_refused",
            ) from exc
        except (TimeoutError, OSError):
            pass  # unresolvable now: every attempt vets it again anyway
        return url

    def _seal(self, secret: str | None) -> str | None:
        return self._secrets.seal(secret, context=SEAL_CONTEXT) if secret else None

    def _open(self, sealed: str) -> str:
        return self._secrets.open(sealed, context=SEAL_CONTEXT)


def _client(timeout_s: float) -> httpx.AsyncClient:
    # No redirects, no proxies or netrc from the environment (a proxy would bypass the vetting).
    return httpx.AsyncClient(
        follow_redirects=False,
        trust_env=False,
        timeout=httpx.Timeout(timeout_s),
        limits=httpx.Limits(max_connections=4, max_keepalive_connections=2),
    )


async def _post(
    http: httpx.AsyncClient,
    url: str,
    body: bytes,
    headers: dict[str, str],
    extensions: dict[str, Any],
) -> Attempt:
    request = http.build_request("POST", url, content=body, headers=headers, extensions=extensions)
    response = await http.send(request, stream=True)
    try:
        received = 0
        async for chunk in response.aiter_raw():
            received += len(chunk)
            if received > MAX_RESPONSE_BYTES:
                break  # the answer's body is not needed; stop reading, close the connection
    finally:
        await response.aclose()
    status = response.status_code
    if 200 <= status < 300:
        return Attempt(ok=True, status=status)
    if 300 <= status < 400:
        return Attempt(ok=False, status=status, error=f"redirect refused (HTTP {status})")
    return Attempt(ok=False, status=status, error=f"HTTP {status}")


def _describe(exc: BaseException) -> str:
    """A short reason without the URL (it may hold a token in its path)."""
    if isinstance(exc, httpx.ConnectError | ConnectionRefusedError):
        return "connection failed"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the receiver broke the HTTP protocol or closed the connection"
    if isinstance(exc, OSError) and exc.strerror:
        return f"network error: {exc.strerror}"
    return type(exc).__name__


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).hostname or "?"


class WebhookDispatcher:
    """The supervised service that empties the outbox (claims, attempts, records)."""

    name = "webhook-dispatcher"

    def __init__(self, webhooks: Webhooks, store: Store, clock: Clock) -> None:
        self._webhooks = webhooks
        self._store = store
        self._clock = clock
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(webhooks.options.concurrency)
        self._in_flight: set[int] = set()  # delivery ids with an attempt running here
        # One pool per (webhook, url): a pooled TLS connection is never reused for another name.
        self._clients: dict[tuple[int, str], httpx.AsyncClient] = {}
        self._last_prune: float | None = None
        self._finished: list[tuple[sql.Job, Attempt]] = []  # attempts done, not yet stored

    def wake(self, event: Event | None = None) -> None:
        """`EventLog` listener: new deliveries may be due (not for an event no webhook wants:
        a busy event log must not cost a claim transaction per event)."""
        if event is None or self._webhooks.may_want(event):
            self._wake.set()

    async def run(self) -> None:
        await self._webhooks.register_stored_secrets()
        try:
            async with asyncio.TaskGroup() as group:
                while True:
                    self._wake.clear()
                    await self._flush()
                    await self._prune()
                    free = self._webhooks.options.concurrency - len(self._in_flight)
                    jobs = await self._claim(min(free, self._webhooks.options.batch))
                    for job in jobs:
                        self._in_flight.add(job.id)
                        group.create_task(self._run_job(job), name=f"webhook-delivery-{job.id}")
                    if jobs and len(jobs) == free:
                        await self._wake.wait()  # every slot busy: a finishing job wakes us
                    elif not jobs:
                        await self._idle()
        finally:
            await asyncio.shield(self._flush())
            for client in self._clients.values():
                await client.aclose()
            self._clients.clear()

    async def _claim(self, limit: int) -> list[sql.Job]:
        if limit <= 0:
            return []
        now = self._clock.now()
        async with self._store.write() as conn:
            return await sql.claim_due(conn, now, now + self._webhooks.lease, limit)

    async def _idle(self) -> None:
        """Wait for a wake-up, the next due retry (on the clock), or the idle poll."""
        async with self._store.read() as conn:
            due = await sql.next_due(conn, besides=self._in_flight)
        waits: set[asyncio.Task[Any]] = {asyncio.ensure_future(self._wake.wait())}
        if due is not None:
            delay = max(0.0, (due - self._clock.now()).total_seconds())
            waits.add(asyncio.ensure_future(self._clock.sleep(delay)))
        try:
            await asyncio.wait(waits, timeout=IDLE_POLL_S, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()
            await asyncio.gather(*waits, return_exceptions=True)

    async def _run_job(self, job: sql.Job) -> None:
        try:
            async with self._slots:
                key = (job.webhook_id, job.url)
                client = self._clients.get(key)
                if client is None:
                    client = self._clients[key] = _client(self._webhooks.options.timeout_s)
                try:
                    result = await self._webhooks.attempt(job, client)
                except asyncio.CancelledError:
                    self._in_flight.discard(job.id)
                    await asyncio.shield(self._webhooks.release(job))
                    raise
            self._finished.append((job, result))  # stored with others in one transaction
        finally:
            self._wake.set()

    async def _flush(self) -> None:
        finished, self._finished = self._finished, []
        try:
            await self._webhooks.record_many(finished)
        finally:
            for job, _ in finished:
                self._in_flight.discard(job.id)

    async def _prune(self) -> None:
        now = self._clock.monotonic()
        if self._last_prune is not None and now - self._last_prune < PRUNE_EVERY_S:
            return
        self._last_prune = now
        async with self._store.write() as conn:
            removed = await sql.prune_deliveries(conn, self._clock.now() - KEEP_FINISHED)
        if removed:
            log.info("forgot %d finished webhook deliveries older than 7 days", removed)
