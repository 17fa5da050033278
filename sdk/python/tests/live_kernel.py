"""The real Heldar kernel, run in this process for the SDK tests, and the transport to reach it.

`LiveKernel` wraps a started kernel app (`heldar.api.app.create_app` inside its lifespan) with an
admin session, and sets it up the way an operator would, over its HTTP API: cameras, AI tasks,
integration API keys. `publish` puts a JPEG into the kernel's own `FrameStore` exactly as a
sampler does, so frames flow without a camera. Frame seqs start at the kernel's own origin (its
start time in epoch ms, so a restarted kernel numbers above the one before), never at 1: tests
compare against the seqs `publish` returned (`published`) or will return (`next_seq`).
`KernelTransport` is `httpx.ASGITransport` to that
app, keeping a journal of the requests it carried; pointing it at another app is a kernel restart
as a worker sees one (same address, new process).
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from fastapi import FastAPI

from heldar.api.app import create_app
from heldar.app import Kernel
from heldar.perception.budget import StreamKey
from heldar.settings import Settings
from heldar_worker import AiTask, HeldarClient
from samples import encode_jpeg

BASE_URL = "http://kernel.test"
ADMIN_USER = "admin"
ADMIN_PASSWORD = "Adm1n-test-passw0rd"
# OWASP's minimum argon2id cost, the cheapest the kernel's settings accept: fast logins.
FAST_HASHING = {"password_hash_memory_kib": 19_456, "password_hash_time_cost": 2}
# A closed local port: a camera the kernel may be told about but will never reach.
NOWHERE = "rtsp://127.0.0.1:9/x"


def kernel_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings for a test kernel: no recording, no samplers (frames come from `publish`)."""
    fields: dict[str, Any] = {
        "data_dir": data_dir,
        "recording_enabled": False,
        "ai_sampling_enabled": False,
        "min_free_disk_gb": 0,
        "bootstrap_admin_user": ADMIN_USER,
        "bootstrap_admin_password": ADMIN_PASSWORD,
        **FAST_HASHING,
        **overrides,
    }
    return Settings(**fields)


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[FastAPI]:
    """The kernel app, started by its lifespan and stopped (children reaped) on exit."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


async def log_in(app: FastAPI) -> httpx.AsyncClient:
    """An HTTP client for `app`, logged in as the bootstrap admin."""
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL)
    response = await http.post(
        "/api/v1/auth/login", json={"username": ADMIN_USER, "password": ADMIN_PASSWORD}
    )
    assert response.status_code == 200, response.text
    http.cookies.clear()
    http.headers["authorization"] = f"Bearer {response.json()['token']}"
    return http


class KernelTransport(httpx.AsyncBaseTransport):
    """`httpx.ASGITransport` to the kernel app, remembering every request it carried and the
    status of every answer that came back."""

    def __init__(self, app: FastAPI, *, root_path: str = "") -> None:
        self.requests: list[httpx.Request] = []
        self.answers: list[tuple[httpx.Request, int]] = []
        self._root_path = root_path
        self.app = app

    @property
    def app(self) -> FastAPI:
        return self._app

    @app.setter
    def app(self, app: FastAPI) -> None:
        self._app = app
        self._inner = httpx.ASGITransport(app=app, root_path=self._root_path)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        response = await self._inner.handle_async_request(request)
        self.answers.append((request, response.status_code))
        return response

    def calls(self, method: str, path_part: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and path_part in r.url.path]

    def statuses(self, method: str, path_part: str) -> list[int]:
        """The statuses the kernel answered to these calls, in order."""
        return [
            status for r, status in self.answers if r.method == method and path_part in r.url.path
        ]


@dataclass
class LiveKernel:
    """A running kernel app, its admin session, and the transport SDK clients talk through."""

    app: FastAPI
    admin: httpx.AsyncClient
    transport: KernelTransport
    _keys: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _published: dict[tuple[str, str], list[int]] = field(default_factory=dict)

    @property
    def core(self) -> Kernel:
        """The kernel's services (frames, leases, store …) behind the app."""
        kernel: Kernel = self.app.state.kernel
        return kernel

    def client(self, api_key: str | None, **kwargs: Any) -> HeldarClient:
        """An SDK client for this kernel, through the journaled transport."""
        return HeldarClient(BASE_URL, api_key, transport=self.transport, **kwargs)

    async def camera(self, camera_id: str) -> str:
        body = {"id": camera_id, "name": camera_id, "main_stream_url": NOWHERE}
        response = await self.admin.post("/api/v1/cameras", json=body)
        assert response.status_code == 201, response.text
        return camera_id

    async def task(self, camera_id: str, task_type: str = "motion", **fields: Any) -> AiTask:
        """Create (or, for an existing camera/type/profile, fetch) an AI task."""
        response = await self.admin.post(
            f"/api/v1/cameras/{camera_id}/ai-tasks", json={"task_type": task_type, **fields}
        )
        assert response.status_code in (200, 201), response.text
        return AiTask.model_validate(response.json())

    async def update_task(self, task_id: str, **fields: Any) -> AiTask:
        response = await self.admin.patch(f"/api/v1/ai-tasks/{task_id}", json=fields)
        assert response.status_code == 200, response.text
        return AiTask.model_validate(response.json())

    async def api_key(self, **fields: Any) -> tuple[str, str]:
        """A new API key (role integration unless `fields` say otherwise): (name, token)."""
        body = {"name": f"worker-{next(self._keys)}", **fields}
        response = await self.admin.post("/api/v1/api-keys", json=body)
        assert response.status_code == 201, response.text
        created = response.json()
        return created["name"], created["token"]

    async def revoke(self, name: str) -> None:
        listed = (await self.admin.get("/api/v1/api-keys")).json()
        (key_id,) = [k["id"] for k in listed if k["name"] == name]
        assert (await self.admin.delete(f"/api/v1/api-keys/{key_id}")).status_code == 204

    def publish(self, camera_id: str, image: np.ndarray | bytes, profile: str = "sub") -> int:
        """Deliver a frame as the camera's sampler would; its seq."""
        jpeg = image if isinstance(image, bytes) else encode_jpeg(image)
        height, width = (180, 320) if isinstance(image, bytes) else image.shape[:2]
        frame = self.core.perception.frames.publish(
            StreamKey(camera_id, profile),  # type: ignore[arg-type]
            jpeg,
            captured_at=datetime.now(UTC),
            width=width,
            height=height,
        )
        self._published.setdefault((camera_id, profile), []).append(frame.seq)
        return frame.seq

    def published(self, camera_id: str, profile: str = "sub") -> list[int]:
        """The seqs of the frames `publish` delivered on this kernel for the stream, in order."""
        return list(self._published.get((camera_id, profile), []))

    def next_seq(self, camera_id: str, n: int = 1, profile: str = "sub") -> int:
        """The seq the `n`-th frame published from now on will get (n = 1: the next one)."""
        key = StreamKey(camera_id, profile)  # type: ignore[arg-type]
        return self.core.perception.frames.last_seq(key) + n

    async def detections(self, camera_id: str) -> list[dict[str, Any]]:
        response = await self.admin.get(f"/api/v1/cameras/{camera_id}/detections")
        assert response.status_code == 200, response.text
        rows: list[dict[str, Any]] = response.json()
        return rows
