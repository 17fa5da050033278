"""Webhook delivery from the durable outbox against a real receiver on 127.0.0.1.

The dispatcher runs on a `FakeClock(autojump=True)`: its backoff waits jump time instead of taking
it, and `clock.sleeps` shows the backoff it chose.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from pydantic import SecretStr

from heldar.events.log import EventLog
from heldar.events.models import WebhookCreate
from heldar.events.targets import TargetPolicy
from heldar.events.webhooks import (
    ENABLED_CACHE_S,
    DispatchOptions,
    WebhookDispatcher,
    Webhooks,
)
from heldar.secretbox import SecretBox
from heldar.store import webhooks as sql
from heldar.store.engine import Store
from tests.events.support import BIG_BODY_BYTES, Receiver
from tests.support.clock import FakeClock
from tests.support.waiting import eventually

SECRET = "whsec-0123456789abcdef"
LOOPBACK = TargetPolicy.of(["127.0.0.1/32"])


@dataclass
class Rig:
    store: Store
    clock: FakeClock
    events: EventLog
    webhooks: Webhooks
    receiver: Receiver
    task: asyncio.Task[None] | None = None

    def start(self, policy: TargetPolicy = LOOPBACK) -> WebhookDispatcher:
        self.webhooks.policy = policy
        dispatcher = WebhookDispatcher(self.webhooks, self.store, self.clock)
        self.events.subscribe(dispatcher.wake)
        self.task = asyncio.create_task(dispatcher.run())
        return dispatcher

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
            self.task = None

    async def settled(self) -> None:
        """Wait until the outbox has nothing pending."""

        async def empty() -> bool:
            async with self.store.read() as conn:
                return await sql.pending_count(conn) == 0

        await eventually(empty, timeout=15, interval=0.02, what="outbox drained")


def make_webhooks(store: Store, clock: FakeClock) -> Webhooks:
    return Webhooks(
        store,
        clock,
        SecretBox(None),
        LOOPBACK,
        DispatchOptions(timeout_s=0.5, backoff_s=10.0),
    )


@pytest.fixture
async def rig(sqlite_store: Store) -> AsyncIterator[Rig]:
    clock = FakeClock(autojump=True)
    events = EventLog(sqlite_store, clock)
    webhooks = make_webhooks(sqlite_store, clock)
    events.add_outbox(webhooks.enqueue)
    async with Receiver() as receiver:
        rig = Rig(sqlite_store, clock, events, webhooks, receiver)
        try:
            yield rig
        finally:
            await rig.stop()


async def _hook(rig: Rig, **fields: object) -> int:
    body = WebhookCreate.model_validate({"name": "ops", "url": rig.receiver.url, **fields})
    return (await rig.webhooks.create(body)).id


async def test_each_wanted_event_arrives_once_signed_and_verifiable(rig: Rig) -> None:
    hook = await _hook(
        rig,
        secret=SecretStr(SECRET),
        event_types=["camera_offline", "trigger"],
        min_severity="warning",
    )
    rig.start()
    wanted = await rig.events.append(
        "camera_offline", camera_id="gate", severity="warning", payload={"reconnects": 3}
    )
    await rig.events.append("camera_offline", camera_id="gate", severity="info")  # too mild
    await rig.events.append("recording_started", camera_id="gate", severity="critical")  # type
    critical = await rig.events.append("trigger", severity="critical")
    await rig.settled()
    received = rig.receiver.requests
    assert [r.json()["id"] for r in received] == [wanted, critical]
    first = received[0]
    assert first.json() == {
        "id": wanted,
        "camera_id": "gate",
        "event_type": "camera_offline",
        "severity": "warning",
        "timestamp": first.json()["timestamp"],
        "payload": {"reconnects": 3},
    }
    expected = "sha256=" + hmac.new(SECRET.encode(), first.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(first.headers["x-heldar-signature"], expected)
    assert first.headers["x-heldar-event"] == "camera_offline"
    assert first.headers["x-heldar-timestamp"] == str(int(rig.clock.now().timestamp()))
    assert first.headers["content-type"] == "application/json"
    deliveries = await rig.webhooks.deliveries(hook, status=None, before_id=None, limit=10)
    assert {d.status for d in deliveries} == {"delivered"}
    assert {str(d.id) for d in deliveries} == {r.headers["x-heldar-delivery"] for r in received}
    assert rig.webhooks.outcomes["delivered"] == 2


async def test_no_signature_without_a_secret(rig: Rig) -> None:
    await _hook(rig)
    rig.start()
    await rig.events.append("trigger")
    await rig.settled()
    assert "x-heldar-signature" not in rig.receiver.requests[0].headers


async def test_errors_are_retried_with_exponential_backoff_and_the_same_bytes(rig: Rig) -> None:
    hook = await _hook(rig, secret=SecretStr(SECRET))
    rig.receiver.answers = [500, 503]
    rig.start()
    await rig.events.append("trigger", camera_id="gate")
    await rig.settled()
    tries = rig.receiver.requests
    assert len(tries) == 3
    assert len({t.body for t in tries}) == 1
    assert len({t.headers["x-heldar-delivery"] for t in tries}) == 1
    assert len({t.headers["x-heldar-signature"] for t in tries}) == 1
    assert 10.0 in rig.clock.sleeps and 20.0 in rig.clock.sleeps
    [delivery] = await rig.webhooks.deliveries(hook, status=None, before_id=None, limit=10)
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("delivered", 3, 200)


async def test_five_failed_attempts_and_the_delivery_is_given_up(rig: Rig) -> None:
    hook = await _hook(rig)
    rig.receiver.default = 500
    rig.start()
    await rig.events.append("trigger")
    await rig.settled()
    assert len(rig.receiver.requests) == 5
    [delivery] = await rig.webhooks.deliveries(hook, status="failed", before_id=None, limit=10)
    assert (delivery.attempts, delivery.error) == (5, "HTTP 500")
    assert rig.webhooks.outcomes == {"retry": 4, "failed": 1}
    assert [s for s in rig.clock.sleeps if s >= 10] == [10.0, 20.0, 40.0, 80.0]


async def test_a_hanging_receiver_is_cut_off_at_the_timeout_and_retried(rig: Rig) -> None:
    hook = await _hook(rig)
    rig.receiver.answers = ["hang"]
    rig.start()
    await rig.events.append("trigger")
    await rig.settled()
    assert len(rig.receiver.requests) == 2
    [delivery] = await rig.webhooks.deliveries(hook, status=None, before_id=None, limit=10)
    assert (delivery.status, delivery.attempts) == ("delivered", 2)


async def test_redirects_are_never_followed(rig: Rig) -> None:
    hook = await _hook(rig)
    rig.receiver.default = 302
    rig.start()
    await rig.events.append("trigger")
    await rig.settled()
    assert [r.path for r in rig.receiver.requests] == ["/hook"] * 5
    [delivery] = await rig.webhooks.deliveries(hook, status=None, before_id=None, limit=10)
    assert delivery.error == "redirect refused (HTTP 302)"


async def test_a_huge_answer_is_not_read(rig: Rig) -> None:
    await _hook(rig)
    rig.receiver.answers = ["big"]
    rig.start()
    await rig.events.append("trigger")
    await rig.settled()
    assert len(rig.receiver.requests) == 1
    assert rig.receiver.big_bytes_sent < BIG_BODY_BYTES // 2


async def test_the_target_is_vetted_again_at_every_attempt(rig: Rig) -> None:
    hook = await _hook(rig)  # created while 127.0.0.1 was allowlisted
    rig.start(policy=TargetPolicy())  # … and delivered under the default policy
    await rig.events.append("trigger")
    await rig.settled()
    assert rig.receiver.requests == []
    [delivery] = await rig.webhooks.deliveries(hook, status="failed", before_id=None, limit=10)
    assert delivery.error is not None and "loopback" in delivery.error


async def test_outbox_rows_written_without_a_dispatcher_are_delivered_later(rig: Rig) -> None:
    await _hook(rig)
    ids = [await rig.events.append("trigger") for _ in range(3)]  # nothing runs: a "crash"
    assert rig.receiver.requests == []
    rig.start()
    await rig.settled()
    assert sorted(r.json()["id"] for r in rig.receiver.requests) == ids


async def test_stopping_mid_delivery_loses_nothing(rig: Rig) -> None:
    hook = await _hook(rig)
    rig.receiver.answers = ["hang"]
    rig.webhooks.options = DispatchOptions(timeout_s=30.0, backoff_s=10.0)  # stays in flight
    rig.start()
    event_id = await rig.events.append("trigger")
    await rig.receiver.wait_for(1)
    await rig.stop()  # SIGTERM while the attempt is in flight
    [delivery] = await rig.webhooks.deliveries(hook, status="pending", before_id=None, limit=10)
    assert delivery.attempts == 0  # given back, not counted as a failure

    clock = FakeClock(rig.clock.now(), autojump=True)  # "restart": new services on the store
    rig.clock, rig.webhooks = clock, make_webhooks(rig.store, clock)
    rig.start()
    await rig.settled()
    first, second = rig.receiver.requests
    assert first.json()["id"] == second.json()["id"] == event_id
    assert first.headers["x-heldar-delivery"] == second.headers["x-heldar-delivery"]


async def test_a_claim_whose_attempt_died_is_retried_after_its_lease(rig: Rig) -> None:
    await _hook(rig)
    event_id = await rig.events.append("trigger")
    now = rig.clock.now()
    async with rig.store.write() as conn:  # a kernel claimed it, then was killed with -9
        [job] = await sql.claim_due(conn, now, now + rig.webhooks.lease, 10)
    rig.start()
    await rig.settled()
    assert [r.json()["id"] for r in rig.receiver.requests] == [event_id]
    assert rig.clock.now() >= now + rig.webhooks.lease
    assert str(job.id) == rig.receiver.requests[0].headers["x-heldar-delivery"]


async def test_deleting_a_webhook_drops_its_outbox(rig: Rig) -> None:
    hook = await _hook(rig)
    await rig.events.append("trigger")
    await rig.webhooks.delete(hook)
    async with rig.store.read() as conn:
        assert await sql.pending_count(conn) == 0
    rig.start()
    await rig.events.append("trigger")
    await rig.settled()
    assert rig.receiver.requests == []


async def test_test_delivery_is_sent_once_and_recorded(rig: Rig) -> None:
    hook = await _hook(rig, secret=SecretStr(SECRET))
    rig.receiver.answers = [500]
    result = await rig.webhooks.test(hook)
    assert (result.ok, result.status, result.error) == (False, 500, "HTTP 500")
    [request] = rig.receiver.requests
    assert request.json()["event_type"] == "test"
    assert request.headers["x-heldar-delivery"] == str(result.delivery_id)
    [delivery] = await rig.webhooks.deliveries(hook, status=None, before_id=None, limit=10)
    assert (delivery.status, delivery.event_id, delivery.attempts) == ("failed", None, 1)


async def test_the_enabled_webhooks_are_reread_after_a_change_or_after_a_while(rig: Rig) -> None:
    """The outbox reads the enabled webhooks once per transaction and trusts that read for
    `ENABLED_CACHE_S`; a change through this kernel applies at once, and an event no webhook
    wants does not wake the dispatcher."""
    offline = await rig.events.append("camera_offline", severity="warning")
    event = (await rig.events.list(limit=1))[0]
    assert event.id == offline
    assert not rig.webhooks.may_want(event)  # read with the append: nobody wants anything
    hook = await _hook(rig, event_types=["camera_offline"])
    assert rig.webhooks.may_want(event)  # a change here: not known until read again
    await rig.events.append("camera_offline", severity="warning")
    trigger = await rig.events.append("trigger", severity="warning")
    assert rig.webhooks.may_want(event)
    assert not rig.webhooks.may_want((await rig.events.list(limit=1))[0])  # the trigger
    async with rig.store.write() as conn:  # another node disables it
        await sql.update_webhook(conn, hook, {"enabled": False})
    await rig.events.append("camera_offline", severity="warning")
    async with rig.store.read() as conn:
        assert await sql.pending_count(conn) == 2  # not yet seen here: queued (it would wait)
    rig.clock.advance(ENABLED_CACHE_S)
    assert rig.webhooks.may_want(event)  # stale: assume it may
    await rig.events.append("camera_offline", severity="warning")
    async with rig.store.read() as conn:
        assert await sql.pending_count(conn) == 2
    assert not rig.webhooks.may_want(event)
    assert trigger > offline
