"""The worker contract from the worker's side, end to end against a live kernel.

simcam (a real RTSP server on 127.0.0.1) → the kernel's sampler (a real decoder child) → frames
with tickets → the worker SDK's `Runner` with the motion analyzer → ingest → stored detections;
and a killed decoder child, which must not touch the camera's recording.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from heldar.app import Kernel
from heldar.perception.budget import StreamKey
from heldar.settings import Settings
from heldar.simcam.server import SimCamServer
from heldar_worker import HeldarClient, Runner
from heldar_worker.analyzers.motion import MotionAnalyzer
from tests.support.waiting import eventually

pytestmark = pytest.mark.slow


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Sampling and recording on: every camera in this module points at simcam on 127.0.0.1."""
    return settings.model_copy(update={"recording_enabled": True, "ai_sampling_enabled": True})


class IngestLog(httpx.AsyncBaseTransport):
    """`httpx.ASGITransport` to the app that keeps the body of every ingest it carries."""

    def __init__(self, app: FastAPI) -> None:
        self._inner = httpx.ASGITransport(app=app)
        self.bodies: list[bytes] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path == "/api/v1/ai/events":
            self.bodies.append(request.content)
        return await self._inner.handle_async_request(request)


async def _camera(client: httpx.AsyncClient, camera_id: str, url: str, **fields: Any) -> None:
    body = {"id": camera_id, "name": camera_id, "main_stream_url": url, **fields}
    response = await client.post("/api/v1/cameras", json=body)
    assert response.status_code == 201, response.text


async def _motion_task(client: httpx.AsyncClient, camera_id: str) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/cameras/{camera_id}/ai-tasks",
        json={"task_type": "motion", "fps": 2, "width": 320},
    )
    assert response.status_code == 201, response.text
    task: dict[str, Any] = response.json()
    return task


async def _sampler(client: httpx.AsyncClient, camera_id: str) -> dict[str, Any] | None:
    response = await client.get("/api/v1/ai/samplers")
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()
    return next((row for row in rows if row["camera_id"] == camera_id), None)


async def _sampling(client: httpx.AsyncClient, camera_id: str) -> bool:
    row = await _sampler(client, camera_id)
    return row is not None and row["state"] == "sampling"


async def test_motion_worker_posts_ticketed_detections_once(
    app: FastAPI, client: httpx.AsyncClient, simcam: SimCamServer
) -> None:
    await _camera(client, "gate", simcam.url(1), record_enabled=False)
    task = await _motion_task(client, "gate")
    created = await client.post("/api/v1/api-keys", json={"name": "motion-box"})
    assert created.status_code == 201, created.text
    token = created.json()["token"]
    await eventually(lambda: _sampling(client, "gate"), timeout=20, what="the sampler")

    transport = IngestLog(app)
    async with HeldarClient("http://testserver", token, transport=transport) as worker:
        runner = Runner(worker, MotionAnalyzer, "motion-box-1", wait_ms=2000)
        async with asyncio.TaskGroup() as group:
            run = group.create_task(runner.run_for(6))  # ~3 s of frames at 2 fps
            await eventually(lambda: runner.stats.batches_posted >= 1, timeout=15, what="a post")
            # The same batch again, ticket and all, while the lease it was issued under lives.
            replayed = await _post_again(app, token, transport.bodies[0])
            stats = await run
    assert json.loads(transport.bodies[0])["frame_ticket"]
    assert replayed == {"detections_ingested": 0, "ticketed": True, "duplicate": True}

    assert stats.frames_analyzed == 6
    assert stats.batches_posted >= 1 and stats.duplicates == 0
    rows = (await client.get("/api/v1/cameras/gate/detections")).json()
    assert len(rows) == stats.detections_posted > 0  # the replay stored nothing
    first = json.loads(transport.bodies[0])
    assert sum(row["timestamp"] == first["timestamp"] for row in rows) == len(first["detections"])
    for row in rows:
        assert row["label"] == "motion" and row["task_type"] == "motion"
        assert row["attributes"]["source"] == "key:motion-box"
        prov = row["attributes"]["_prov"]
        assert prov["ticketed"] is True
        assert (prov["task_id"], prov["worker_id"]) == (task["id"], "motion-box-1")
    sent = [json.loads(body) for body in transport.bodies]
    assert all(body["frame_id"].startswith(f"{task['id']}:") for body in sent)
    assert len({body["frame_id"] for body in sent}) == len(sent)  # no frame posted twice

    row = await _sampler(client, "gate")
    assert row is not None
    assert (row["stream_profile"], row["state"], row["fps"]) == ("sub", "sampling", 2.0)
    assert row["frames_total"] >= 6


async def _post_again(app: FastAPI, token: str, body: bytes) -> dict[str, Any]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {token}", "content-type": "application/json"},
    ) as http:
        response = await http.post("/api/v1/ai/events", content=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_killing_the_sampler_decoder_leaves_recording_alone(
    app: FastAPI, client: httpx.AsyncClient, simcam: SimCamServer
) -> None:
    kernel: Kernel = app.state.kernel
    await _camera(client, "yard", simcam.url(1), segment_seconds=2)
    await _motion_task(client, "yard")
    await eventually(lambda: _sampling(client, "yard"), timeout=20, what="the sampler")
    await eventually(
        lambda: kernel.recorder.status("yard").segments_written >= 1, timeout=20, what="a segment"
    )
    sampler = kernel.perception.samplers.sampler(StreamKey("yard", "sub"))
    assert sampler is not None and sampler.pid is not None
    recorder_pid = kernel.recorder.status("yard").pid
    segments, frames, decoder = (
        kernel.recorder.status("yard").segments_written,
        sampler.frames_total,
        sampler.pid,
    )

    os.kill(decoder, signal.SIGKILL)

    await eventually(
        lambda: sampler.pid not in (None, decoder) and sampler.frames_total > frames + 1,
        timeout=20,
        what="the sampler back with a new decoder",
    )
    await eventually(
        lambda: kernel.recorder.status("yard").segments_written > segments,
        timeout=15,
        what="a segment after the kill",
    )
    status = kernel.recorder.status("yard")
    assert (status.state, status.pid) == ("recording", recorder_pid)  # the same ffmpeg throughout
    events = (
        await client.get(
            "/api/v1/events", params={"camera_id": "yard", "event_type": "sampler_offline"}
        )
    ).json()
    assert len(events) == 1 and events[0]["payload"]["stream_profile"] == "sub"
