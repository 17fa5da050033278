"""`HeldarClient`: the worker contract over HTTP (httpx), one method per call, typed both ways.

It owns the connection pool, the credential (sent as `Authorization: Bearer`, never in a URL, a
repr or an error), the mapping of HTTP answers onto `heldar_worker.errors`, and the rule that a
task's `frame_url` may only point at the kernel the client was made for.
"""

from __future__ import annotations

import contextlib
import email.utils
import logging
import math
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from heldar_worker._version import __version__
from heldar_worker.errors import (
    AuthError,
    ContractError,
    RateLimited,
    Rejected,
    ServerError,
    TransportError,
)
from heldar_worker.models import (
    AiTask,
    DetectionRecord,
    Discovery,
    Frame,
    IngestRequest,
    IngestResponse,
    Lease,
)

log = logging.getLogger(__name__)

API = "/api/v1"
_DETAIL_MAX = 300
_DEFAULT_RETRY_AFTER_S = 1.0
_MAX_RETRY_AFTER_S = 300.0
HEARTBEAT_HEADER = "x-heartbeat-interval-s"

_M = TypeVar("_M", bound=BaseModel)
_RECORDS = TypeAdapter(list[DetectionRecord])


class HeldarClient:
    """An async client for one kernel. Use it as `async with HeldarClient(...) as client:`.

    `api_key` may be None only against a kernel with auth turned off (loopback development).
    `transport` is httpx's seam for tests (`httpx.MockTransport`, `httpx.ASGITransport`).
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        url = httpx.URL(base_url)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("base_url must be an absolute http(s) URL")
        if url.userinfo or url.query or url.fragment:
            raise ValueError("base_url must not carry credentials, a query or a fragment")
        headers = {"user-agent": f"heldar-worker/{__version__}", "accept": "application/json"}
        if api_key is not None:
            api_key = api_key.strip()
            if not api_key or any(ch.isspace() or not ch.isprintable() for ch in api_key):
                raise ValueError("api_key is empty or holds whitespace or control characters")
            headers["authorization"] = f"Bearer {api_key}"
        self.base_url = url
        self.timeout = timeout
        self.authenticated = api_key is not None
        self._http = httpx.AsyncClient(
            base_url=url,
            headers=headers,
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"HeldarClient(base_url={str(self.base_url)!r}, authenticated={self.authenticated})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- the contract ------------------------------------------------------------------------------

    async def discover(self, worker_id: str | None = None) -> Discovery:
        """`GET /ai/tasks?worker_id=`: this worker's share of the enabled tasks; a heartbeat."""
        params = {"worker_id": worker_id} if worker_id is not None else None
        response = await self._request("GET", f"{API}/ai/tasks", params=params)
        body = _json(response)
        if isinstance(body, list):  # the kernel's (and the reference's) bare list of tasks
            body = {"worker_id": worker_id, "tasks": body}
        if isinstance(body, dict) and body.get("heartbeat_interval_s") is None:
            # With a bare list, how often to call again comes as a header.
            body["heartbeat_interval_s"] = _seconds(response.headers.get(HEARTBEAT_HEADER))
        try:
            return Discovery.model_validate(body)
        except ValidationError as exc:
            raise ContractError(
                f"{response.request.url.path}: answer does not fit Discovery "
                f"({exc.error_count()} errors)",
                code="bad_shape",
            ) from exc

    async def lease(
        self,
        worker_id: str,
        task_types: list[str] | None = None,
        max_tasks: int | None = None,
        ttl_secs: int = 30,
    ) -> Lease:
        """`POST /ai/leases`: acquire, or renew (same worker_id), a lease over eligible tasks."""
        body: dict[str, Any] = {"worker_id": worker_id, "ttl_secs": ttl_secs}
        if task_types is not None:
            body["task_types"] = task_types
        if max_tasks is not None:
            body["max_tasks"] = max_tasks
        response = await self._request("POST", f"{API}/ai/leases", json=body)
        return _parse(Lease, response)

    async def release(self, lease_id: str) -> bool:
        """`DELETE /ai/leases/{id}`; False when the kernel no longer knows the lease (expired)."""
        try:
            await self._request("DELETE", f"{API}/ai/leases/{quote(lease_id, safe='')}")
        except Rejected as exc:
            if exc.status == 404:
                return False
            raise
        return True

    async def frame(
        self, task: AiTask, after_seq: int | None = None, wait_ms: int | None = None
    ) -> Frame | None:
        """The task's newest frame; with `after_seq`, only one newer than it (long-poll `wait_ms`).

        None when there is nothing to analyze: 404 (no frame sampled yet) or 204/304 (nothing
        newer than `after_seq` within `wait_ms`).
        """
        params: dict[str, str] = {}
        if after_seq is not None:
            params["after_seq"] = str(after_seq)
        if wait_ms is not None:
            params["wait_ms"] = str(wait_ms)
        # Merged by hand: httpx 0.28 replaces a URL's query with `params=` rather than add to it.
        url = self.frame_url(task).copy_merge_params(params)
        try:
            response = await self._request("GET", url, extra_read_s=(wait_ms or 0) / 1000)
        except Rejected as exc:
            if exc.status == 404:
                return None
            raise
        if response.status_code in (204, 304):
            return None
        if response.status_code != 200:
            raise ContractError(
                f"unexpected answer to a frame pull of {url.path}",
                status=response.status_code,
                code="unexpected_status",
            )
        return _frame_from(response)

    async def ingest(self, request: IngestRequest) -> IngestResponse:
        """`POST /ai/events`: one batch of detections (and an optional event) for one frame."""
        body = request.model_dump(mode="json", exclude_none=True)
        response = await self._request("POST", f"{API}/ai/events", json=body)
        return _parse(IngestResponse, response)

    async def detections(
        self,
        camera_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        label: str | None = None,
        track_id: str | None = None,
        limit: int | None = None,
    ) -> list[DetectionRecord]:
        """`GET /cameras/{id}/detections?from&to&label&track_id&limit`, newest first."""
        params: dict[str, str] = {}
        if since is not None:
            params["from"] = _rfc3339(since)
        if until is not None:
            params["to"] = _rfc3339(until)
        if label is not None:
            params["label"] = label
        if track_id is not None:
            params["track_id"] = track_id
        if limit is not None:
            params["limit"] = str(limit)
        path = f"{API}/cameras/{quote(camera_id, safe='')}/detections"
        response = await self._request("GET", path, params=params or None)
        return _parse_list(_RECORDS, response)

    def frame_url(self, task: AiTask) -> httpx.URL:
        """Where to pull `task`'s frames: its `frame_url`, which must stay on this kernel."""
        if task.frame_url is None:
            path = f"{API}/cameras/{quote(task.camera_id, safe='')}/frame"
            return httpx.URL(path, params={"profile": task.stream_profile, "task": task.id})
        url = httpx.URL(task.frame_url)
        if not url.scheme and not url.host:
            if not url.path.startswith("/"):
                raise ContractError("frame_url must be an absolute path", code="foreign_frame_url")
            return url
        # An absolute frame_url must name the kernel itself: the credential goes wherever it points.
        if (url.scheme, url.host, url.port) != (
            self.base_url.scheme,
            self.base_url.host,
            self.base_url.port,
        ) or url.userinfo:
            raise ContractError(
                "frame_url points away from the kernel; refusing to send the credential there",
                code="foreign_frame_url",
            )
        return url

    # -- plumbing ----------------------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        url: str | httpx.URL,
        *,
        params: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
        extra_read_s: float = 0.0,
    ) -> httpx.Response:
        """One request; `extra_read_s` lengthens the read timeout by a long-poll's wait."""
        path = httpx.URL(url).path
        timeout = httpx.Timeout(self.timeout, read=self.timeout + extra_read_s)
        try:
            response = await self._http.request(
                method, url, params=params, json=json, timeout=timeout
            )
        except httpx.TransportError as exc:
            # str(exc) of a transport error names the URL at most; the type says what happened.
            raise TransportError(
                f"{method} {path}: {type(exc).__name__}", code="transport_error"
            ) from exc
        _raise_for(method, path, response)
        return response


def _raise_for(method: str, path: str, response: httpx.Response) -> None:
    status = response.status_code
    if 200 <= status < 300 or status == 304:
        return
    code, detail = _problem(response)
    detail = f"{method} {path}: {detail}"
    if status in (401, 403):
        raise AuthError(detail, status=status, code=code)
    retry_after = response.headers.get("retry-after")
    if status == 429 or (status == 503 and retry_after is not None):
        raise RateLimited(detail, status=status, code=code, retry_after=_retry_after(retry_after))
    if status >= 500:
        raise ServerError(detail, status=status, code=code)
    if status >= 400:
        raise Rejected(detail, status=status, code=code)
    raise ContractError(detail, status=status, code="unexpected_status")


def _problem(response: httpx.Response) -> tuple[str, str]:
    """The kernel's `{"error": code, "detail": …}`, or a short excerpt of whatever came instead."""
    try:
        body = response.json()
    except ValueError:
        return "http_error", response.text[:_DETAIL_MAX] or response.reason_phrase
    if isinstance(body, dict):
        code = body.get("error")
        detail = body.get("detail", code)
        return (str(code)[:64] if code else "http_error"), str(detail)[:_DETAIL_MAX]
    return "http_error", str(body)[:_DETAIL_MAX]


def _retry_after(value: str | None) -> float:
    if value is None:
        return _DEFAULT_RETRY_AFTER_S
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        when = None
        with contextlib.suppress(TypeError, ValueError):
            when = email.utils.parsedate_to_datetime(value)
        if when is None or when.tzinfo is None:
            return _DEFAULT_RETRY_AFTER_S
        seconds = (when - datetime.now(UTC)).total_seconds()
    if not math.isfinite(seconds):
        return _DEFAULT_RETRY_AFTER_S
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER_S)


def _seconds(value: str | None) -> float | None:
    """A positive, finite number of seconds from a header; None for anything else."""
    try:
        seconds = float(value) if value is not None else math.nan
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds > 0 else None


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise ContractError(
            f"{response.request.url.path}: answer is not JSON", code="bad_json"
        ) from exc


def _parse(model: type[_M], response: httpx.Response) -> _M:
    try:
        return model.model_validate(_json(response))
    except ValidationError as exc:
        raise ContractError(
            f"{response.request.url.path}: answer does not fit {model.__name__} "
            f"({exc.error_count()} errors)",
            code="bad_shape",
        ) from exc


def _parse_list(adapter: TypeAdapter[list[_M]], response: httpx.Response) -> list[_M]:
    try:
        return adapter.validate_python(_json(response))
    except ValidationError as exc:
        raise ContractError(
            f"{response.request.url.path}: answer does not fit the contract "
            f"({exc.error_count()} errors)",
            code="bad_shape",
        ) from exc


def _frame_from(response: httpx.Response) -> Frame:
    path = response.request.url.path
    content_type = response.headers.get("content-type", "")
    jpeg = response.content
    if not content_type.startswith("image/jpeg") or not jpeg.startswith(b"\xff\xd8"):
        raise ContractError(f"{path}: the frame is not a JPEG", code="not_a_jpeg")
    headers = response.headers
    try:
        seq = int(headers["x-frame-seq"]) if "x-frame-seq" in headers else None
        age = float(headers["x-frame-age-ms"]) if "x-frame-age-ms" in headers else None
        captured = headers.get("x-frame-captured-at")
        captured_at = datetime.fromisoformat(captured) if captured else None
    except ValueError as exc:
        raise ContractError(f"{path}: malformed x-frame-* header", code="bad_header") from exc
    if captured_at is not None and captured_at.tzinfo is None:
        raise ContractError(f"{path}: x-frame-captured-at has no offset", code="bad_header")
    return Frame(
        jpeg=jpeg,
        seq=seq,
        captured_at=captured_at,
        age_ms=age,
        ticket=headers.get("x-frame-ticket") or None,
    )


def _rfc3339(when: datetime) -> str:
    if when.tzinfo is None:
        raise ValueError("datetimes sent to the kernel must be timezone-aware")
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")
