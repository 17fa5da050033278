"""`Runner` against the real kernel: lease, pull each frame once, post with tickets, release.

Frames reach the kernel the way a sampler delivers them (`LiveKernel.publish` into its
`FrameStore`), mostly one at a time as the worker takes them — a camera that waits for its
viewer, so no frame is replaced before the worker could see it. What the worker did is read back
from the kernel (stored detections, leases) and from the transport's journal of requests. Seqs
start at the kernel's own origin, so they are compared with the ones `publish` returned.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from heldar.perception.budget import StreamKey
from heldar.settings import Settings
from heldar_worker import (
    AiTask,
    Analyzer,
    AnalyzerUnavailable,
    AuthError,
    DecodedFrame,
    Detection,
    Frame,
    HeldarClient,
    IngestRequest,
    Rejected,
    Result,
    Runner,
    frame_id,
)
from heldar_worker.analyzers.motion import MotionAnalyzer
from live_kernel import BASE_URL, KernelTransport, LiveKernel, log_in, running
from samples import encode_jpeg, square_frame, task_json

JPEG = encode_jpeg(square_frame(40, 60))
FAST: dict[str, Any] = {"wait_ms": 1000, "backoff_base": 0.01, "backoff_cap": 0.05}


class Journal:
    """What the analyzers of one test did, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, int | None]] = []
        self.configs: list[dict[str, Any]] = []

    def factory(self, fail_on: int | None = None, delay: float = 0.0) -> Callable[[], Analyzer]:
        journal = self

        class Counting(Analyzer):
            task_type = "motion"

            def setup(self, task: AiTask) -> None:
                self.task_id = task.id
                journal.events.append(("setup", task.id, None))
                journal.configs.append(task.config)

            def analyze(self, frame: DecodedFrame) -> Result:
                journal.events.append(("analyze", self.task_id, frame.seq))
                time.sleep(delay)  # a model takes its time (this runs in the task's thread)
                if frame.seq == fail_on:
                    raise RuntimeError("analyzer bug")
                box = Detection(label="thing", confidence=0.5, bbox=(0.1, 0.1, 0.2, 0.2))
                return Result(detections=[box])

            def close(self) -> None:
                journal.events.append(("close", self.task_id, None))

        return Counting

    def seqs(self, task_id: str) -> list[int | None]:
        return [seq for kind, tid, seq in self.events if kind == "analyze" and tid == task_id]


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


async def feed(
    kernel: LiveKernel,
    camera_id: str,
    frames: Sequence[bytes | np.ndarray],
    taken: Callable[[], int],
) -> None:
    """Publish `frames` one at a time, each once `taken()` says the worker has the one before."""
    for i, image in enumerate(frames):
        await until(lambda i=i: taken() >= i, timeout=10)  # type: ignore[misc]
        kernel.publish(camera_id, image)


async def stream(kernel: LiveKernel, camera_id: str, fps: float) -> None:
    """A camera that does not wait: a new frame every 1/fps s, until cancelled."""
    while True:
        kernel.publish(camera_id, JPEG)
        await asyncio.sleep(1 / fps)


async def setup(kernel: LiveKernel, camera_id: str = "cam-1", **task: Any) -> tuple[AiTask, str]:
    """A camera with a motion task, and a new integration key: (task, key)."""
    await kernel.camera(camera_id)
    created = await kernel.task(camera_id, "motion", **task)
    _, key = await kernel.api_key()
    return created, key


def posted(kernel: LiveKernel) -> list[dict[str, Any]]:
    """The ingest bodies the worker sent, in order."""
    return [json.loads(r.content) for r in kernel.transport.calls("POST", "/ai/events")]


def runs(values: list[str | None]) -> list[str | None]:
    """`values` with consecutive repeats collapsed."""
    return [v for i, v in enumerate(values) if i == 0 or values[i - 1] != v]


async def test_motion_worker_end_to_end(kernel: LiveKernel, moving_square: list[bytes]) -> None:
    await kernel.camera("cam-1")
    task = await kernel.task("cam-1", "motion", fps=5)
    key_name, key = await kernel.api_key()
    async with kernel.client(key) as client:
        runner = Runner(client, MotionAnalyzer, "box:1", **FAST)
        async with asyncio.TaskGroup() as group:
            group.create_task(
                feed(kernel, "cam-1", moving_square, lambda: runner.stats.frames_analyzed)
            )
            stats = await asyncio.wait_for(runner.run_for(4), 10)
    assert stats.frames_analyzed == 4
    seqs = kernel.published("cam-1")
    assert len(seqs) == 4
    # The first frame only primes the differencer; frames 2..4 each posted one batch.
    bodies = posted(kernel)
    assert [body["frame_id"] for body in bodies] == [f"{task.id}:{seq}" for seq in seqs[1:]]
    frames = kernel.core.perception.frames
    for seq, body in zip(seqs[1:], bodies, strict=True):
        assert body["frame_ticket"]
        assert (body["camera_id"], body["task_type"]) == ("cam-1", "motion")
        captured = frames.frame(StreamKey("cam-1", "sub"), seq)
        assert captured is not None
        assert datetime.fromisoformat(body["timestamp"]) == captured.captured_at
        (detection,) = body["detections"]
        assert detection["label"] == "motion"
    assert (stats.batches_posted, stats.detections_posted) == (3, 3)

    rows = await kernel.detections("cam-1")
    assert len(rows) == 3
    (lease_id,) = {row["attributes"]["_prov"]["lease_id"] for row in rows}  # renewed in place
    for row in rows:
        assert row["label"] == "motion" and row["task_type"] == "motion"
        assert row["attributes"]["source"] == f"key:{key_name}"
        prov = row["attributes"]["_prov"]
        assert prov["ticketed"] is True
        assert (prov["task_id"], prov["worker_id"]) == (task.id, "box:1")
    x, _, w, _ = rows[0]["bbox"]  # newest first: frame 4, the square now at x = 76..116
    assert x * 320 <= 76 and (x + w) * 320 >= 116

    transport = kernel.transport
    pulls = transport.calls("GET", "/frame")
    after_seqs = runs([r.url.params.get("after_seq") for r in pulls])
    assert after_seqs[:4] == [None, *(str(seq) for seq in seqs[:3])]
    assert all(r.url.params["task"] == task.id for r in pulls)
    assert json.loads(transport.calls("POST", "/ai/leases")[0].content) == {
        "worker_id": "box:1",
        "ttl_secs": 30,
        "task_types": ["motion"],
    }
    assert transport.calls("GET", "/ai/tasks")[0].url.params["worker_id"] == "box:1"
    assert [r.url.path for r in transport.calls("DELETE", "/ai/leases/")] == [
        f"/api/v1/ai/leases/{lease_id}"
    ]
    assert runner.lease is None
    assert kernel.core.perception.leases.active() == []  # released, not left to lapse
    for request in transport.requests:
        assert request.headers["authorization"] == f"Bearer {key}"
        assert key not in str(request.url)


async def test_a_frame_is_analyzed_once_even_when_the_runner_looks_afresh(
    kernel: LiveKernel,
) -> None:
    task, key = await setup(kernel, fps=30)
    journal = Journal()
    async with kernel.client(key) as client:
        runner = Runner(client, journal.factory(), "box:1", **{**FAST, "wait_ms": 50})
        async with asyncio.TaskGroup() as group:
            run = group.create_task(runner.run())
            await feed(kernel, "cam-1", [JPEG] * 3, lambda: len(journal.seqs(task.id)))
            await until(lambda: len(journal.seqs(task.id)) == 3)

            def plain_pulls() -> int:
                pulls = kernel.transport.calls("GET", "/frame")
                return sum("after_seq" not in r.url.params for r in pulls)

            # No new frame comes. After three empty long-polls the runner pulls without
            # `after_seq` (in case the kernel restarted) and the kernel answers frame 3 again.
            looked_afresh = plain_pulls()
            await until(lambda: plain_pulls() >= looked_afresh + 2)
            runner.stop()
            await asyncio.wait_for(run, 5)
    seqs = kernel.published("cam-1")
    assert len(seqs) == 3
    assert journal.seqs(task.id) == seqs
    assert [body["frame_id"] for body in posted(kernel)] == [f"{task.id}:{n}" for n in seqs]
    assert journal.events[-1] == ("close", task.id, None)
    assert len(await kernel.detections("cam-1")) == 3


async def test_a_restarted_kernel_is_followed_from_its_new_seq_origin(
    kernel: LiveKernel, settings: Settings
) -> None:
    task, key = await setup(kernel, fps=30)
    journal = Journal()
    async with kernel.client(key) as client:
        runner = Runner(client, journal.factory(), "box:1", ttl_secs=5, **{**FAST, "wait_ms": 50})
        async with asyncio.TaskGroup() as group:
            run = group.create_task(runner.run())
            await feed(kernel, "cam-1", [JPEG] * 5, lambda: len(journal.seqs(task.id)))
            await until(lambda: len(journal.seqs(task.id)) == 5)
            assert runner.lease is not None
            before = runner.lease.lease_id
            # The kernel restarts on the same data directory and address: a new process, whose
            # frames are numbered from a new origin (its start time) and which knows no lease.
            async with running(settings) as app:
                restarted = LiveKernel(app, await log_in(app), kernel.transport)
                try:
                    kernel.transport.app = app
                    taken = lambda: len(journal.seqs(task.id)) - 5  # noqa: E731
                    await feed(restarted, "cam-1", [JPEG] * 3, taken)
                    await until(lambda: len(journal.seqs(task.id)) == 8)
                    # Its next renewal leases again from the restarted kernel.
                    await until(
                        lambda: runner.lease is not None and runner.lease.lease_id != before
                    )
                    runner.stop()
                    await asyncio.wait_for(run, 5)
                finally:
                    await restarted.admin.aclose()
                assert restarted.core.perception.leases.active() == []  # released there
    before_restart, after_restart = kernel.published("cam-1"), restarted.published("cam-1")
    assert (len(before_restart), len(after_restart)) == (5, 3)
    # The restarted kernel numbers above every seq of the one before …
    assert min(after_restart) > max(before_restart)
    # … and the runner analyzes each frame of both once, in order.
    assert journal.seqs(task.id) == before_restart + after_restart


async def test_batches_after_a_kernel_restart_are_stored(
    kernel: LiveKernel, settings: Settings
) -> None:
    _, key = await setup(kernel, fps=30)
    journal = Journal()
    async with kernel.client(key) as client:
        runner = Runner(client, journal.factory(), "box:1", **{**FAST, "wait_ms": 50})
        await asyncio.wait_for(
            asyncio.gather(
                runner.run_for(2),
                feed(kernel, "cam-1", [JPEG] * 2, lambda: runner.stats.frames_analyzed),
            ),
            10,
        )
        async with running(settings) as app:
            restarted = LiveKernel(app, await log_in(app), kernel.transport)
            try:
                kernel.transport.app = app
                taken = lambda: runner.stats.frames_analyzed - 2  # noqa: E731
                await asyncio.wait_for(
                    asyncio.gather(runner.run_for(2), feed(restarted, "cam-1", [JPEG] * 2, taken)),
                    10,
                )
                stored = await restarted.detections("cam-1")
            finally:
                await restarted.admin.aclose()
    assert runner.stats.batches_dropped == 0
    assert len(stored) == 4


@pytest.mark.slow
async def test_a_busy_store_is_retried_with_the_same_body(kernel: LiveKernel) -> None:
    task, key = await setup(kernel, fps=30)
    journal = Journal()
    async with kernel.client(key) as client:
        runner = Runner(client, journal.factory(), "box:1", **FAST)
        async with asyncio.TaskGroup() as group:
            run = group.create_task(runner.run())
            kernel.publish("cam-1", JPEG)
            await until(lambda: runner.stats.batches_posted == 1)
            # Another process holds SQLite's write lock past the kernel's busy timeout (5 s):
            # the ingest answers 503 store_busy with Retry-After, and the runner tries again.
            lock = sqlite3.connect(settings_db(kernel), isolation_level=None)
            try:
                lock.execute("BEGIN IMMEDIATE")
                kernel.publish("cam-1", JPEG)
                await until(lambda: 503 in kernel.transport.statuses("POST", "/ai/events"), 10)
            finally:
                lock.close()
            await until(lambda: runner.stats.batches_posted == 2, timeout=10)
            runner.stop()
            await asyncio.wait_for(run, 5)
    assert kernel.transport.statuses("POST", "/ai/events") == [200, 503, 200]
    _, busy, retried = kernel.transport.calls("POST", "/ai/events")
    assert busy.content == retried.content  # the same body: idempotent by frame_id
    seqs = kernel.published("cam-1")
    assert len(seqs) == 2
    assert json.loads(retried.content)["frame_id"] == f"{task.id}:{seqs[1]}"
    assert (runner.stats.batches_posted, runner.stats.batches_dropped) == (2, 0)
    assert len(await kernel.detections("cam-1")) == 2


def settings_db(kernel: LiveKernel) -> Path:
    return kernel.core.settings.data_dir / "heldar.db"


async def test_a_conflicting_replay_is_dropped_and_never_resent(kernel: LiveKernel) -> None:
    task, key = await setup(kernel, fps=30)
    # The id the runner will give the next frame's batch is taken already, under the same key, by
    # a batch with another body (posted outside the journaled transport).
    first = kernel.next_seq("cam-1")
    taken = IngestRequest(
        camera_id="cam-1",
        task_type="motion",
        frame_id=f"{task.id}:{first}",
        detections=[Detection(label="other", confidence=0.2, bbox=(0.5, 0.5, 0.1, 0.1))],
    )
    async with HeldarClient(BASE_URL, key, transport=KernelTransport(kernel.app)) as other:
        assert (await other.ingest(taken)).duplicate is False
    journal = Journal()
    async with kernel.client(key) as client:
        runner = Runner(client, journal.factory(), "box:1", **FAST)
        async with asyncio.TaskGroup() as group:
            group.create_task(feed(kernel, "cam-1", [JPEG] * 2, lambda: len(journal.seqs(task.id))))
            stats = await asyncio.wait_for(runner.run_for(2), 10)
    seqs = kernel.published("cam-1")
    assert seqs[0] == first and len(seqs) == 2
    assert kernel.transport.statuses("POST", "/ai/events") == [409, 200]  # never sent again
    assert [body["frame_id"] for body in posted(kernel)] == [f"{task.id}:{n}" for n in seqs]
    assert (stats.batches_posted, stats.batches_dropped) == (1, 1)
    assert sorted(row["label"] for row in await kernel.detections("cam-1")) == ["other", "thing"]


async def test_a_refused_post_renews_the_lease_early_but_not_in_a_storm(
    kernel: LiveKernel,
) -> None:
    await kernel.camera("cam-1")
    await kernel.task("cam-1", "motion", fps=30)
    # A key that may lease and pull but not post: every batch is refused with 403.
    _, key = await kernel.api_key(capabilities=["camera:read", "ai:frames"])
    journal = Journal()
    calls = kernel.transport.calls
    async with kernel.client(key) as client:
        # TTL 6 s: scheduled renewal every 2 s, forced ones at most every 1 s.
        runner = Runner(client, journal.factory(delay=0.01), "box:1", ttl_secs=6, **FAST)
        async with asyncio.TaskGroup() as group:
            camera = group.create_task(stream(kernel, "cam-1", fps=50))
            run = group.create_task(runner.run())
            await until(lambda: len(calls("POST", "/ai/leases")) >= 2, timeout=3)
            forced_at = len(calls("POST", "/ai/events"))
            await asyncio.sleep(0.5)  # more refusals come in; no more renewals may
            runner.stop()
            await asyncio.wait_for(run, 5)
            camera.cancel()
    assert forced_at > 1  # many batches refused before the early renewal …
    assert len(calls("POST", "/ai/leases")) == 2  # … and only one early renewal for all
    refused = kernel.transport.statuses("POST", "/ai/events")  # (not one still in flight)
    assert set(refused) == {403}
    assert runner.stats.batches_dropped == len(refused)
    assert await kernel.detections("cam-1") == []


async def test_a_refused_lease_request_stops_the_runner(kernel: LiveKernel) -> None:
    _, key = await setup(kernel)
    journal = Journal()
    async with kernel.client(key) as client:
        # An operator's typo in --task-type: the kernel refuses the lease (422).
        runner = Runner(client, journal.factory(), "box:1", task_type="mo tion", **FAST)
        with pytest.raises(Rejected) as caught:
            await asyncio.wait_for(runner.run(), 5)
    assert caught.value.status == 422
    assert journal.events == []
    assert kernel.transport.calls("GET", "/frame") == []


async def test_an_analyzer_error_skips_only_that_frame(kernel: LiveKernel) -> None:
    task, key = await setup(kernel, fps=30)
    second = kernel.next_seq("cam-1", 2)
    journal = Journal()
    async with kernel.client(key) as client:
        runner = Runner(client, journal.factory(fail_on=second), "box:1", **FAST)
        async with asyncio.TaskGroup() as group:
            run = group.create_task(runner.run())
            await feed(kernel, "cam-1", [JPEG] * 3, lambda: len(journal.seqs(task.id)))
            await until(lambda: runner.stats.batches_posted == 2)
            runner.stop()
            await asyncio.wait_for(run, 5)
    seqs = kernel.published("cam-1")
    assert len(seqs) == 3 and seqs[1] == second
    assert journal.seqs(task.id) == seqs
    assert [body["frame_id"] for body in posted(kernel)] == [
        f"{task.id}:{seqs[0]}",
        f"{task.id}:{seqs[2]}",
    ]
    assert runner.stats.analyzer_errors == 1
    assert len(await kernel.detections("cam-1")) == 2


async def test_a_revoked_key_stops_the_runner_before_it_starts(kernel: LiveKernel) -> None:
    await kernel.camera("cam-1")
    await kernel.task("cam-1")
    name, key = await kernel.api_key()
    await kernel.revoke(name)
    journal = Journal()
    async with kernel.client(key) as client:
        runner = Runner(client, journal.factory(), "box:1", **FAST)
        with pytest.raises(AuthError) as caught:
            await asyncio.wait_for(runner.run(), 5)
    assert caught.value.status == 401
    assert key not in str(caught.value)
    assert kernel.transport.calls("GET", "/frame") == []
    assert kernel.transport.calls("DELETE", "/ai/leases/") == []  # nothing to release


async def test_a_key_revoked_while_running_stops_the_runner(kernel: LiveKernel) -> None:
    await kernel.camera("cam-1")
    task = await kernel.task("cam-1", fps=30)
    name, key = await kernel.api_key()
    journal = Journal()
    async with kernel.client(key) as client:
        runner = Runner(client, journal.factory(), "box:1", ttl_secs=5, **FAST)
        with pytest.raises(ExceptionGroup) as caught:
            async with asyncio.timeout(10), asyncio.TaskGroup() as group:
                group.create_task(runner.run())
                first = kernel.publish("cam-1", JPEG)
                await until(lambda: journal.seqs(task.id) == [first])
                await kernel.revoke(name)
                kernel.publish("cam-1", JPEG)  # its pull is refused: the runner asks for a lease
    assert caught.group_contains(AuthError)
    assert 401 in kernel.transport.statuses("POST", "/ai/leases")
    assert journal.events[-1] == ("close", task.id, None)


async def test_renewal_follows_the_lease_to_a_new_task(kernel: LiveKernel) -> None:
    first, key = await setup(kernel, "cam-1", fps=30)
    journal = Journal()
    async with kernel.client(key) as client:
        runner = Runner(client, journal.factory(), "box:1", ttl_secs=5, **FAST)
        async with asyncio.TaskGroup() as group:
            run = group.create_task(runner.run())
            on_cam1 = kernel.publish("cam-1", JPEG)
            await until(lambda: journal.seqs(first.id) == [on_cam1])
            # The operator moves the work: cam-1's task off, a task on cam-2 on.
            await kernel.update_task(first.id, enabled=False)
            await kernel.camera("cam-2")
            second = await kernel.task("cam-2", "motion", fps=30)
            await until(lambda: ("setup", second.id, None) in journal.events, timeout=5)
            on_cam2 = kernel.publish("cam-2", JPEG)
            await until(lambda: runner.stats.batches_posted == 2)  # one per camera
            assert journal.seqs(second.id) == [on_cam2]
            assert [t.id for t in runner.tasks] == [second.id]
            runner.stop()
            await asyncio.wait_for(run, 5)
    assert ("close", first.id, None) in journal.events
    cam2_posts = [body for body in posted(kernel) if body["frame_id"].startswith(second.id)]
    assert [body["camera_id"] for body in cam2_posts] == ["cam-2"]
    assert len(await kernel.detections("cam-2")) == 1


async def test_a_task_whose_config_changed_restarts_with_a_fresh_analyzer(
    kernel: LiveKernel,
) -> None:
    task, key = await setup(kernel, fps=30, config={"threshold": 25})
    journal = Journal()
    async with kernel.client(key) as client:
        runner = Runner(client, journal.factory(), "box:1", ttl_secs=5, **FAST)
        async with asyncio.TaskGroup() as group:
            run = group.create_task(runner.run())
            await until(lambda: journal.configs == [{"threshold": 25}])
            await kernel.update_task(task.id, config={"threshold": 40})
            await until(lambda: len(journal.configs) == 2, timeout=5)
            runner.stop()
            await asyncio.wait_for(run, 5)
    assert journal.configs == [{"threshold": 25}, {"threshold": 40}]
    # Two analyzers, each set up and closed once (the old one closes while the new one starts).
    assert sorted(journal.events) == [("close", task.id, None)] * 2 + [("setup", task.id, None)] * 2


async def test_sigterm_releases_the_lease(kernel: LiveKernel) -> None:
    task, key = await setup(kernel, fps=30)
    journal = Journal()
    before = signal.getsignal(signal.SIGTERM)
    async with kernel.client(key) as client:
        runner = Runner(client, journal.factory(), "box:1", **FAST)
        async with asyncio.TaskGroup() as group:
            run = group.create_task(runner.run(handle_signals=True))
            await feed(kernel, "cam-1", [JPEG] * 2, lambda: len(journal.seqs(task.id)))
            await until(lambda: runner.stats.batches_posted == 2)
            assert len(kernel.core.perception.leases.active()) == 1
            os.kill(os.getpid(), signal.SIGTERM)
            stats = await asyncio.wait_for(run, 5)
    assert stats.frames_analyzed == 2
    assert kernel.core.perception.leases.active() == []
    assert kernel.transport.statuses("DELETE", "/ai/leases/") == [204]
    assert signal.getsignal(signal.SIGTERM) == before  # our handler is gone again


async def test_an_analyzer_that_cannot_run_here_stops_the_runner(kernel: LiveKernel) -> None:
    class NeedsAModel(Analyzer):
        task_type = "motion"

        def __init__(self) -> None:
            raise AnalyzerUnavailable("pip install the-model")

        def analyze(self, frame: DecodedFrame) -> Result:
            raise AssertionError("never called")

    _, key = await setup(kernel)
    kernel.publish("cam-1", JPEG)
    async with kernel.client(key) as client:
        runner = Runner(client, NeedsAModel, "box:1", **FAST)
        with pytest.raises(AnalyzerUnavailable, match="the-model"):
            await asyncio.wait_for(runner.run(), 5)
    assert kernel.transport.statuses("DELETE", "/ai/leases/") == [204]  # released on the way out
    assert kernel.core.perception.leases.active() == []
    assert kernel.transport.calls("GET", "/frame") == []


# -- pure ------------------------------------------------------------------------------------------


def test_frame_id_names_the_task_and_the_frame() -> None:
    task = AiTask.model_validate(task_json("ai_7"))
    assert frame_id(task, Frame(jpeg=JPEG, seq=42)) == "ai_7:42"
    captured = datetime.fromisoformat("2026-06-13T08:15:31.120+00:00")
    assert frame_id(task, Frame(jpeg=JPEG, captured_at=captured)) == (
        f"ai_7:{int(captured.timestamp() * 1000)}"
    )
    assert frame_id(task, Frame(jpeg=JPEG)) is None


@pytest.mark.parametrize("worker_id", ["", "-x", "a b", "x" * 65, "box/1"])
def test_a_bad_worker_id_is_refused_before_any_request(worker_id: str) -> None:
    with pytest.raises(ValueError, match="worker_id"):
        Runner(HeldarClient(BASE_URL, "hk_test_key"), MotionAnalyzer, worker_id)


def test_a_runner_needs_a_task_type() -> None:
    client = HeldarClient(BASE_URL, "hk_test_key")

    def factory() -> Analyzer:
        return MotionAnalyzer()

    with pytest.raises(ValueError, match="task_type"):
        Runner(client, factory, "box:1")
    assert Runner(client, factory, "box:1", task_type="motion").task_type == "motion"


def test_a_ttl_outside_the_kernels_bounds_is_refused() -> None:
    client = HeldarClient(BASE_URL, "hk_test_key")
    for ttl in (4, 301):
        with pytest.raises(ValueError, match="ttl_secs"):
            Runner(client, MotionAnalyzer, "box:1", ttl_secs=ttl)
