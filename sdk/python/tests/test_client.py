"""`HeldarClient` against the real kernel: the calls it makes, what comes back, and the errors.

The kernel runs in this process (tests/live_kernel.py); its transport keeps a journal of every
request, so a test can check both what the client sent and what the kernel did with it. Answers
that only a broken server gives (a 500, HTML, a malformed header) are checked at the end against
the client's reading of plain `httpx.Response` values: no server stands in for the kernel.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from heldar.perception.budget import StreamKey
from heldar_worker import (
    AiTask,
    AuthError,
    ContractError,
    Detection,
    HeldarClient,
    IngestRequest,
    RateLimited,
    Rejected,
    ServerError,
    TransportError,
)
from heldar_worker.client import _frame_from, _raise_for
from live_kernel import BASE_URL, KernelTransport, LiveKernel
from samples import encode_jpeg, square_frame, task_json

JPEG = encode_jpeg(square_frame(40, 60))


def sent(request: httpx.Request) -> object:
    return json.loads(request.content)


async def test_lease_posts_the_contract_body_with_the_bearer_key(kernel: LiveKernel) -> None:
    await kernel.camera("cam-1")
    motion = await kernel.task("cam-1", "motion")
    await kernel.task("cam-1", "person")
    _, key = await kernel.api_key()
    async with kernel.client(key) as client:
        lease = await client.lease("box:1", task_types=["motion"], max_tasks=4, ttl_secs=45)
        renewed = await client.lease("box:1", task_types=["motion"], ttl_secs=45)
    request = kernel.transport.requests[0]
    assert request.method == "POST"
    assert request.url.path == "/api/v1/ai/leases"
    assert request.headers["authorization"] == f"Bearer {key}"
    assert sent(request) == {
        "worker_id": "box:1",
        "ttl_secs": 45,
        "task_types": ["motion"],
        "max_tasks": 4,
    }
    assert key not in str(request.url)
    assert [t.id for t in lease.tasks] == [motion.id]  # not the person task
    assert lease.tasks[0].frame_url == (f"/api/v1/cameras/cam-1/frame?profile=sub&task={motion.id}")
    left = lease.expires_at - datetime.now(UTC)
    assert timedelta(seconds=40) < left <= timedelta(seconds=45)
    assert renewed.lease_id == lease.lease_id  # the kernel renews in place
    (held,) = kernel.core.perception.leases.active()
    assert (held.lease_id, held.worker_id, held.task_ids) == (lease.lease_id, "box:1", {motion.id})


async def test_discovery_heartbeats_and_reads_the_kernels_bare_list(kernel: LiveKernel) -> None:
    await kernel.camera("cam-1")
    task = await kernel.task("cam-1")
    disabled = await kernel.task("cam-1", "plates", enabled=False)
    key_name, key = await kernel.api_key()
    async with kernel.client(key) as client:
        discovery = await client.discover("box:1")
    assert [t.id for t in discovery.tasks] == [task.id]
    assert disabled.id not in {t.id for t in discovery.tasks}
    assert discovery.worker_id == "box:1"
    # The kernel's answer is a bare list; the interval comes in `x-heartbeat-interval-s`.
    assert discovery.heartbeat_interval_s == 10.0
    assert kernel.transport.requests[0].url.params["worker_id"] == "box:1"
    assert kernel.core.perception.leases.live_workers(f"key:{key_name}") == ["box:1"]


async def test_release_is_true_then_false_once_the_lease_is_gone(kernel: LiveKernel) -> None:
    _, key = await kernel.api_key()
    async with kernel.client(key) as client:
        lease = await client.lease("box:1")
        assert await client.release(lease.lease_id) is True
        assert await client.release(lease.lease_id) is False  # 404: already gone
        assert await client.release("never-granted") is False
    assert kernel.core.perception.leases.active() == []
    release = kernel.transport.calls("DELETE", "/ai/leases/")[0]
    assert release.url.path == f"/api/v1/ai/leases/{lease.lease_id}"


async def test_frame_reads_the_headers_and_long_polls_after_seq(kernel: LiveKernel) -> None:
    await kernel.camera("cam-1")
    await kernel.task("cam-1")
    _, key = await kernel.api_key()
    async with kernel.client(key) as client:
        (task,) = (await client.lease("box:1")).tasks
        first_seq = kernel.publish("cam-1", JPEG)
        first = await client.frame(task)
        assert await client.frame(task, after_seq=first_seq, wait_ms=10) is None  # 204
        waiting = asyncio.create_task(client.frame(task, after_seq=first_seq, wait_ms=5000))
        await asyncio.sleep(0.05)  # the pull is now parked in the kernel
        second_seq = kernel.publish("cam-1", square_frame(52, 60))
        second = await asyncio.wait_for(waiting, 5)
    assert first is not None and second is not None
    assert (first.seq, second.seq) == (first_seq, second_seq)
    assert second_seq == first_seq + 1
    assert first.jpeg == JPEG
    stored = kernel.core.perception.frames.recent(StreamKey("cam-1", "sub"))
    assert second.captured_at == stored[-1].captured_at
    assert second.captured_at is not None and second.captured_at.utcoffset() is not None
    assert second.age_ms is not None and second.age_ms >= 0
    assert second.ticket and first.ticket  # leased: the kernel hands out tickets
    long_poll = kernel.transport.calls("GET", "/frame")[-1]
    assert long_poll.url.path == "/api/v1/cameras/cam-1/frame"
    assert dict(long_poll.url.params) == {
        "profile": "sub",
        "task": task.id,
        "after_seq": str(first_seq),
        "wait_ms": "5000",
    }


async def test_frame_without_a_lease_has_no_ticket(kernel: LiveKernel) -> None:
    await kernel.camera("cam-1")
    await kernel.task("cam-1")
    _, key = await kernel.api_key()
    seq = kernel.publish("cam-1", JPEG)
    async with kernel.client(key) as client:
        (task,) = (await client.discover("box:1")).tasks  # discovered, not leased
        frame = await client.frame(task)
    assert frame is not None and frame.seq == seq
    assert frame.ticket is None


async def test_frame_is_none_before_the_first_frame(kernel: LiveKernel) -> None:
    await kernel.camera("cam-1")
    task = await kernel.task("cam-1")
    _, key = await kernel.api_key()
    async with kernel.client(key) as client:
        assert await client.frame(task) is None  # 404 no_frame
        assert await client.frame(task, after_seq=0, wait_ms=10) is None  # 204


async def test_frame_url_is_built_when_the_task_has_none(kernel: LiveKernel) -> None:
    await kernel.camera("cam-1")
    task = await kernel.task("cam-1", stream_profile="main")
    assert task.frame_url is None  # the task API does not list one; discovery does
    _, key = await kernel.api_key()
    seq = kernel.publish("cam-1", JPEG, profile="main")
    async with kernel.client(key) as client:
        frame = await client.frame(task)
    assert frame is not None and frame.seq == seq and frame.jpeg == JPEG
    (pull,) = kernel.transport.requests
    assert pull.url.path == "/api/v1/cameras/cam-1/frame"
    assert dict(pull.url.params) == {"profile": "main", "task": task.id}


FOREIGN_FRAME_URLS = [
    "http://elsewhere.test/api/v1/cameras/cam-1/frame",
    "https://kernel.test/api/v1/cameras/cam-1/frame",  # another scheme is another origin
    "http://kernel.test:8080/api/v1/cameras/cam-1/frame",
    "http://user@kernel.test/api/v1/cameras/cam-1/frame",
    "//elsewhere.test/api/v1/cameras/cam-1/frame",
    "api/v1/cameras/cam-1/frame",
]


async def test_a_frame_url_off_the_kernel_gets_no_request(kernel: LiveKernel) -> None:
    _, key = await kernel.api_key()
    async with kernel.client(key) as client:
        for frame_url in FOREIGN_FRAME_URLS:
            task = AiTask.model_validate(task_json(frame_url=frame_url))
            with pytest.raises(ContractError) as caught:
                await client.frame(task)
            assert caught.value.code == "foreign_frame_url", frame_url
    assert kernel.transport.requests == []


async def test_an_absolute_frame_url_on_the_kernel_is_followed(kernel: LiveKernel) -> None:
    await kernel.camera("cam-1")
    task = await kernel.task("cam-1")
    _, key = await kernel.api_key()
    kernel.publish("cam-1", JPEG)
    absolute = task.model_copy(
        update={"frame_url": f"{BASE_URL}/api/v1/cameras/cam-1/frame?task={task.id}"}
    )
    async with kernel.client(key) as client:
        frame = await client.frame(absolute)
    assert frame is not None and frame.jpeg == JPEG
    assert kernel.transport.requests[0].headers["authorization"] == f"Bearer {key}"


async def test_a_kernel_behind_a_path_prefix(kernel: LiveKernel) -> None:
    """A reverse proxy serves the kernel under /heldar: every call, frame_url included, keeps it."""
    await kernel.camera("cam-1")
    await kernel.task("cam-1")
    _, key = await kernel.api_key()
    kernel.publish("cam-1", JPEG)
    proxied = KernelTransport(kernel.app, root_path="/heldar")
    async with HeldarClient(f"{BASE_URL}/heldar", key, transport=proxied) as client:
        (task,) = (await client.discover("box:1")).tasks
        frame = await client.frame(task)
    assert frame is not None and frame.jpeg == JPEG
    assert [r.url.path for r in proxied.requests] == [
        "/heldar/api/v1/ai/tasks",
        "/heldar/api/v1/cameras/cam-1/frame",
    ]


async def test_ingest_stores_once_and_answers_a_replay_as_a_duplicate(kernel: LiveKernel) -> None:
    await kernel.camera("cam-1")
    key_name, key = await kernel.api_key()
    request = IngestRequest(
        camera_id="cam-1",
        task_type="motion",
        frame_id="ai_1:1",
        detections=[Detection(label="motion", confidence=0.9, bbox=(0.1, 0.1, 0.2, 0.2))],
    )
    async with kernel.client(key) as client:
        first = await client.ingest(request)
        again = await client.ingest(request)
        records = await client.detections("cam-1")
    assert (first.detections_ingested, first.duplicate, first.ticketed) == (1, False, False)
    assert first.batch_id is not None
    assert (again.detections_ingested, again.duplicate) == (0, True)
    body = sent(kernel.transport.calls("POST", "/ai/events")[0])
    assert isinstance(body, dict)
    assert "frame_ticket" not in body and "event" not in body  # None fields are left out
    (record,) = records
    assert (record.label, record.camera_id, record.task_type) == ("motion", "cam-1", "motion")
    assert record.bbox == pytest.approx([0.1, 0.1, 0.2, 0.2])
    assert record.attributes["source"] == f"key:{key_name}"
    assert record.attributes["_prov"] == {"ticketed": False}


async def test_detections_are_queried_by_window_label_and_limit(kernel: LiveKernel) -> None:
    await kernel.camera("cam-1")
    _, key = await kernel.api_key()
    now = datetime.now(UTC)
    async with kernel.client(key) as client:
        for n, label in enumerate(["person", "car", "person"]):
            await client.ingest(
                IngestRequest(
                    camera_id="cam-1",
                    task_type="person",
                    timestamp=now - timedelta(minutes=n),
                    frame_id=f"f{n}",
                    detections=[Detection(label=label, confidence=0.8, bbox=(0.1, 0.1, 0.2, 0.2))],
                )
            )
        people = await client.detections(
            "cam-1", since=now - timedelta(minutes=5), until=now, label="person", limit=5
        )
        newest = await client.detections("cam-1", limit=1)
    assert [r.timestamp for r in people] == [now, now - timedelta(minutes=2)]  # newest first
    assert [r.label for r in newest] == ["person"]
    query = kernel.transport.calls("GET", "/detections")[0]
    assert query.url.path == "/api/v1/cameras/cam-1/detections"
    assert set(query.url.params) == {"from", "to", "label", "limit"}
    assert query.url.params["from"].endswith("Z")


async def test_a_revoked_or_unknown_key_is_an_auth_error_without_the_key(
    kernel: LiveKernel,
) -> None:
    name, key = await kernel.api_key()
    await kernel.revoke(name)
    for credential in (key, "hk_not_a_key_0123456789abcdef"):
        async with kernel.client(credential) as client:
            with pytest.raises(AuthError) as caught:
                await client.lease("box:1")
        assert caught.value.status == 401
        assert credential not in str(caught.value)
        assert credential not in repr(caught.value)


async def test_a_key_without_the_capability_is_an_auth_error(kernel: LiveKernel) -> None:
    await kernel.camera("cam-1")
    _, key = await kernel.api_key(capabilities=["camera:read", "ai:frames"])  # no ai:ingest
    async with kernel.client(key) as client:
        await client.lease("box:1")  # it may lease and pull …
        with pytest.raises(AuthError) as caught:  # … but not post
            await client.ingest(IngestRequest(camera_id="cam-1", task_type="motion"))
    assert caught.value.status == 403
    assert not caught.value.retryable


async def test_refusals_of_the_body_are_rejected(kernel: LiveKernel) -> None:
    await kernel.camera("cam-1")
    _, key = await kernel.api_key()
    batch = IngestRequest(camera_id="cam-1", task_type="motion", frame_id="f1")
    async with kernel.client(key) as client:
        with pytest.raises(Rejected) as bad_ttl:
            await client.lease("box:1", ttl_secs=1)
        await client.ingest(batch)
        with pytest.raises(Rejected) as replay:  # the same frame_id with another body
            await client.ingest(batch.model_copy(update={"task_type": "person"}))
        with pytest.raises(Rejected) as missing:
            await client.ingest(batch.model_copy(update={"camera_id": "nope"}))
    assert (bad_ttl.value.status, bad_ttl.value.code) == (422, "validation_error")
    assert (replay.value.status, replay.value.code) == (409, "frame_conflict")
    assert (missing.value.status, missing.value.code) == (404, "camera_not_found")
    assert not any(e.retryable for e in (bad_ttl.value, replay.value, missing.value))


@pytest.mark.slow
async def test_a_busy_store_is_rate_limited_with_the_kernels_retry_after(
    kernel: LiveKernel,
) -> None:
    await kernel.camera("cam-1")
    _, key = await kernel.api_key()
    async with kernel.client(key) as client:
        await client.discover("box:1")  # the key's first use is a write: get it done
        # Another process holds the SQLite write lock past the kernel's busy timeout.
        lock = sqlite3.connect(kernel.core.settings.data_dir / "heldar.db", isolation_level=None)
        try:
            lock.execute("BEGIN IMMEDIATE")
            with pytest.raises(RateLimited) as caught:
                await client.ingest(IngestRequest(camera_id="cam-1", task_type="motion"))
        finally:
            lock.close()
    assert (caught.value.status, caught.value.code) == (503, "store_busy")
    assert caught.value.retry_after == 2.0
    assert caught.value.retryable


async def test_no_key_sends_no_authorization(kernel: LiveKernel) -> None:
    async with kernel.client(None) as client:
        with pytest.raises(AuthError):
            await client.discover("box:1")
    assert "authorization" not in kernel.transport.requests[0].headers


async def test_an_unreachable_kernel_is_a_transport_error_without_the_key() -> None:
    key = "hk_test_0123456789abcdef"
    async with HeldarClient("http://127.0.0.1:9", key, timeout=2.0) as client:  # nothing listens
        with pytest.raises(TransportError) as caught:
            await client.discover()
    assert caught.value.retryable
    assert caught.value.status is None
    assert key not in str(caught.value)


def test_the_key_stays_out_of_the_repr() -> None:
    key = "hk_test_0123456789abcdef"
    client = HeldarClient(BASE_URL, key)
    assert key not in repr(client)
    assert "authenticated=True" in repr(client)
    assert key not in repr(vars(client))  # httpx masks the Authorization header too


@pytest.mark.parametrize("key", ["", "   ", "abc\ndef", "abc def", "abc\x00"])
def test_a_malformed_key_is_refused(key: str) -> None:
    with pytest.raises(ValueError, match="api_key"):
        HeldarClient(BASE_URL, key)


@pytest.mark.parametrize(
    "url", ["ftp://kernel.test", "kernel.test:8000", "http://u:p@kernel.test", "http://k.test/?a=1"]
)
def test_a_bad_base_url_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="base_url"):
        HeldarClient(url, "hk_test_0123456789abcdef")


# -- answers no kernel gives: the client's reading of them -----------------------------------------


def answer(status: int, path: str = "/api/v1/ai/leases", **kwargs: object) -> httpx.Response:
    return httpx.Response(status, request=httpx.Request("GET", BASE_URL + path), **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (answer(500, text="boom"), ServerError),
        (answer(502), ServerError),
        (answer(503, text="down"), ServerError),  # without Retry-After: a plain server error
        (answer(302, headers={"location": "http://elsewhere.test/"}), ContractError),
        (answer(418, json=["not", "a", "problem"]), Rejected),
    ],
)
def test_answers_map_onto_the_error_tree(response: httpx.Response, error: type[Exception]) -> None:
    with pytest.raises(error) as caught:
        _raise_for("GET", "/api/v1/ai/leases", response)
    assert isinstance(caught.value, error)
    assert "/api/v1/ai/leases" in str(caught.value)


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [("7", 7.0), ("0", 0.0), ("junk", 1.0), ("100000", 300.0), ("nan", 1.0), (None, 1.0)],
)
def test_rate_limited_carries_retry_after(retry_after: str | None, expected: float) -> None:
    headers = {"retry-after": retry_after} if retry_after is not None else {}
    with pytest.raises(RateLimited) as caught:
        _raise_for("POST", "/api/v1/ai/events", answer(429, json={}, headers=headers))
    assert caught.value.retry_after == expected
    assert (caught.value.status, caught.value.retryable) == (429, True)


def test_retry_after_as_an_http_date() -> None:
    when = datetime.now(UTC) + timedelta(seconds=30)
    date = when.strftime("%a, %d %b %Y %H:%M:%S GMT")
    with pytest.raises(RateLimited) as caught:
        _raise_for("GET", "/x", answer(503, headers={"retry-after": date}))
    assert 25 <= caught.value.retry_after <= 30


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        (b"<html>", {"content-type": "text/html"}),
        (b"not a jpeg", {"content-type": "image/jpeg"}),
        (JPEG, {"content-type": "image/jpeg", "x-frame-seq": "seven"}),
        (JPEG, {"content-type": "image/jpeg", "x-frame-captured-at": "2026-06-13T08:15:31"}),
    ],
)
def test_a_frame_that_breaks_the_contract(content: bytes, headers: dict[str, str]) -> None:
    with pytest.raises(ContractError):
        _frame_from(answer(200, "/api/v1/cameras/cam-1/frame", content=content, headers=headers))
