"""The SSE hub on a real event log: live fan-out, exact resume, scope, slow clients, revocation."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from heldar.errors import TooManyRequests
from heldar.events.log import EventLog
from heldar.events.stream import HEARTBEAT, EventStream, StreamFilter


def _frames(chunks: list[bytes]) -> list[dict[str, Any]]:
    out = []
    for frame in b"".join(chunks).decode().split("\n\n"):
        for line in frame.splitlines():
            if line.startswith("data: "):
                out.append(json.loads(line[6:]))
    return out


async def _take(
    body: AsyncIterator[bytes], count: int, timeout: float = 5.0
) -> list[dict[str, Any]]:
    """Read chunks until `count` events arrived."""
    chunks: list[bytes] = []
    async with asyncio.timeout(timeout):
        while len(_frames(chunks)) < count:
            chunks.append(await anext(body))
    return _frames(chunks)


@pytest.fixture
def hub(event_log: EventLog) -> EventStream:
    stream = EventStream(event_log, ring_size=64, max_subscribers=3)
    event_log.subscribe(stream.publish)
    return stream


async def test_live_subscriber_gets_each_event_once_in_order(
    hub: EventStream, event_log: EventLog
) -> None:
    body = hub.follow(StreamFilter(), since_id=None, heartbeat_s=30)
    assert (await anext(body)).startswith(b"retry:")
    ids = [await event_log.append("trigger", camera_id="a", payload={"n": i}) for i in range(5)]
    got = await _take(body, 5)
    assert [e["id"] for e in got] == ids
    assert got[0]["payload"] == {"n": 0} and got[0]["event_type"] == "trigger"
    await body.aclose()
    assert hub.subscribers == 0


async def test_resume_delivers_exactly_the_missed_events_while_new_ones_arrive(
    hub: EventStream, event_log: EventLog
) -> None:
    first = [await event_log.append("trigger", camera_id="a") for _ in range(3)]
    missed = [await event_log.append("camera_offline", camera_id="a") for _ in range(700)]
    body = hub.follow(StreamFilter(), since_id=first[-1], heartbeat_s=30)
    await anext(body)  # retry:

    async def keep_logging() -> list[int]:
        return [await event_log.append("recording_started", camera_id="a") for _ in range(20)]

    writer = asyncio.create_task(keep_logging())
    got = await _take(body, len(missed) + 20, timeout=20)
    later = await writer
    assert [e["id"] for e in got] == missed + later  # no gap, no duplicate, ascending
    await body.aclose()


async def test_scope_and_filters_hold_back_what_the_caller_may_not_or_does_not_want(
    hub: EventStream, event_log: EventLog
) -> None:
    selector = StreamFilter(camera_scope=frozenset({"mine"}), severity="warning")
    body = hub.follow(selector, since_id=None, heartbeat_s=30)
    await anext(body)
    await event_log.append("camera_offline", camera_id="theirs", severity="warning")
    await event_log.append("camera_offline", camera_id="mine", severity="info")
    system = await event_log.append("retention_guard", severity="warning")
    mine = await event_log.append("camera_offline", camera_id="mine", severity="warning")
    got = await _take(body, 2)
    assert [e["id"] for e in got] == [system, mine]
    await body.aclose()


async def test_a_slow_subscriber_is_dropped_not_buffered(
    hub: EventStream, event_log: EventLog
) -> None:
    body = hub.follow(StreamFilter(), since_id=None, heartbeat_s=30)
    await anext(body)
    for _ in range(65):  # one more than the ring holds, while the client reads nothing
        await event_log.append("trigger", camera_id="a")
    with pytest.raises(StopAsyncIteration):
        await anext(body)
    assert hub.dropped_total == 1
    assert hub.subscribers == 0


async def test_idle_stream_sends_heartbeats(hub: EventStream) -> None:
    body = hub.follow(StreamFilter(), since_id=None, heartbeat_s=0.05)
    await anext(body)
    async with asyncio.timeout(5):
        assert await anext(body) == HEARTBEAT
    await body.aclose()


async def test_revoked_credential_ends_the_stream_before_the_next_event(
    hub: EventStream, event_log: EventLog
) -> None:
    allowed = True

    async def still_allowed() -> StreamFilter | None:
        return StreamFilter() if allowed else None

    body = hub.follow(
        StreamFilter(), since_id=None, heartbeat_s=30, still_allowed=still_allowed, revalidate_s=0
    )
    await anext(body)
    await event_log.append("trigger", camera_id="a")
    assert len(await _take(body, 1)) == 1
    allowed = False
    await event_log.append("trigger", camera_id="a")
    with pytest.raises(StopAsyncIteration):
        await anext(body)


async def test_subscribers_are_capped(hub: EventStream) -> None:
    bodies = [hub.follow(StreamFilter(), since_id=None, heartbeat_s=30) for _ in range(3)]
    for body in bodies:
        await anext(body)
    with pytest.raises(TooManyRequests) as refused:
        hub.admit()
    assert refused.value.code == "too_many_streams"
    for body in bodies:
        await body.aclose()
    hub.admit()
