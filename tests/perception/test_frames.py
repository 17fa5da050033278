"""FrameStore: sequence numbers that only grow, the ring, and long-polling without polling."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from heldar.perception.budget import StreamKey
from heldar.perception.frames import FrameStore

CAM = StreamKey("cam", "sub")
OTHER = StreamKey("cam", "main")
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def put(store: FrameStore, key: StreamKey = CAM, data: bytes = b"jpeg") -> int:
    return store.publish(key, data, captured_at=NOW, width=640, height=360).seq


def test_nothing_before_the_first_frame() -> None:
    store = FrameStore()
    assert store.latest(CAM) is None
    assert store.get(CAM) is None
    assert store.last_seq(CAM) == 0


def test_seq_grows_per_stream_and_get_honours_after_seq() -> None:
    store = FrameStore()
    assert [put(store) for _ in range(3)] == [1, 2, 3]
    assert put(store, OTHER) == 1
    latest = store.latest(CAM)
    assert latest is not None
    assert latest.seq == 3
    assert latest.captured_at == NOW
    assert (latest.width, latest.height) == (640, 360)
    assert store.get(CAM, after_seq=2) == latest
    assert store.get(CAM, after_seq=3) is None


def test_the_ring_keeps_the_newest_few() -> None:
    store = FrameStore(ring_size=4)
    for i in range(10):
        put(store, data=bytes([i]))
    assert [f.seq for f in store.recent(CAM)] == [7, 8, 9, 10]
    frame = store.frame(CAM, 8)
    assert frame is not None
    assert frame.jpeg == bytes([7])
    assert store.frame(CAM, 3) is None


def test_drop_forgets_frames_but_never_resets_seq() -> None:
    store = FrameStore()
    put(store)
    put(store)
    store.drop(CAM)
    assert store.latest(CAM) is None
    assert put(store) == 3


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError):
        FrameStore().publish(CAM, b"x", captured_at=datetime(2024, 1, 1), width=1, height=1)


@given(st.lists(st.sampled_from([CAM, OTHER, "drop"]), max_size=60))
def test_seq_is_strictly_increasing_per_stream(ops: list[StreamKey | str]) -> None:
    store = FrameStore(ring_size=3)
    last = {CAM: 0, OTHER: 0}
    for op in ops:
        if isinstance(op, str):
            store.drop(CAM)
            continue
        seq = put(store, op)
        assert seq == last[op] + 1
        last[op] = seq


async def test_wait_newer_returns_at_once_when_a_newer_frame_exists() -> None:
    store = FrameStore()
    put(store)
    frame = await store.wait_newer(CAM, 0, timeout_s=5)
    assert frame is not None
    assert frame.seq == 1


async def test_wait_newer_wakes_on_publish_not_on_a_timer() -> None:
    store = FrameStore()
    put(store)
    waiter = asyncio.create_task(store.wait_newer(CAM, 1, timeout_s=30))
    await asyncio.sleep(0)  # let it start waiting
    put(store, OTHER)  # another stream does not wake it with a frame
    await asyncio.sleep(0)
    assert not waiter.done()
    started = time.monotonic()
    put(store)
    frame = await asyncio.wait_for(waiter, 1)
    assert frame is not None
    assert frame.seq == 2
    assert time.monotonic() - started < 0.5


async def test_wait_newer_times_out_with_none() -> None:
    store = FrameStore()
    put(store)
    started = time.monotonic()
    assert await store.wait_newer(CAM, 1, timeout_s=0.2) is None
    assert 0.15 <= time.monotonic() - started < 2
    assert await store.wait_newer(CAM, 1, timeout_s=0) is None


async def test_many_waiters_all_get_the_newest() -> None:
    store = FrameStore()
    waiters = [asyncio.create_task(store.wait_newer(CAM, None, timeout_s=30)) for _ in range(20)]
    await asyncio.sleep(0)
    put(store)
    frames = await asyncio.wait_for(asyncio.gather(*waiters), 2)
    assert {f.seq for f in frames if f is not None} == {1}
    assert all(f is not None for f in frames)
