"""HTTP metrics for the app (request latency by route template) and the root `/metrics` route.

`install(app, settings)` is called by `create_app` after every router: it adds a pure-ASGI
middleware that times each request and labels it with the matched route's *template*
(`/api/v1/cameras/{camera_id}`), never the raw path (unbounded, and it may carry ids the label set
must not grow with); unmatched paths share one label. `/metrics` needs `system:read` from an
unscoped credential, or a client address in `HELDAR_METRICS_ALLOW`.
"""

from __future__ import annotations

import ipaddress
import time
from typing import Any

from fastapi import Depends, FastAPI, Request, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from heldar.api.deps import Require, client_addr
from heldar.api.forwarded import parse_networks
from heldar.auth.models import Principal
from heldar.auth.rbac import Capability
from heldar.observability.metrics import UNMATCHED_ROUTE
from heldar.settings import Settings

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


def _route_templates(app: FastAPI) -> dict[int, str]:
    """id(route object) → its full path template, prefixes of included routers included."""
    try:  # FastAPI >= 0.16x keeps included routers nested (see heldar.api.deps)
        from fastapi.routing import iter_route_contexts  # type: ignore[attr-defined,unused-ignore]
    except ImportError:  # pragma: no cover - older FastAPI lists routes flat
        contexts: list[Any] = list(app.routes)
    else:
        contexts = list(iter_route_contexts(app.routes))
    templates: dict[int, str] = {}
    for context in contexts:
        path = getattr(context, "path", None)
        if isinstance(path, str):
            templates.setdefault(id(getattr(context, "original_route", context)), path)
    return templates


def route_template(scope: Scope) -> str:
    """The template of the route that answered (`/api/v1/cameras/{camera_id}`), or `unmatched`."""
    route = scope.get("route")
    if route is None:
        return UNMATCHED_ROUTE
    app = scope["app"]
    templates: dict[int, str] | None = getattr(app.state, "route_templates", None)
    if templates is None:
        templates = app.state.route_templates = _route_templates(app)
    template = templates.get(id(route))
    if template is None:
        path = getattr(route, "path", None)
        return path if isinstance(path, str) else UNMATCHED_ROUTE
    return template


class LatencyMiddleware:
    """Observes every HTTP request but event streams (their duration is not a latency)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        streaming = False

        async def observed_send(message: Message) -> None:
            nonlocal status, streaming
            if message["type"] == "http.response.start":
                status = int(message["status"])
                for name, value in message.get("headers", []):
                    if name.lower() == b"content-type" and value.startswith(b"text/event-stream"):
                        streaming = True
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            kernel = getattr(scope["app"].state, "kernel", None)
            if kernel is not None and not streaming:
                kernel.observability.metrics.observe_request(
                    scope["method"], route_template(scope), status, time.perf_counter() - started
                )


class MetricsAccess(Require):
    """`system:read` (unscoped), unless the client address is in HELDAR_METRICS_ALLOW. A
    `Require`, so the route-matrix and the OpenAPI document see the capability it stands for."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(Capability.SYSTEM_READ)
        self._allow = parse_networks(settings.metrics_allow)

    def _allowed(self, address: str | None) -> bool:
        if address is None or not self._allow:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip.version == net.version and ip in net for net in self._allow)

    async def __call__(self, request: Request) -> Principal | None:  # type: ignore[override]
        if self._allowed(client_addr(request)):
            return None  # an allowlisted scraper: no credential needed
        principal = await super().__call__(request)
        principal.check_unscoped("scrape /metrics (it covers every camera)")
        return principal


def install(app: FastAPI, settings: Settings) -> None:
    """Add what the app needs for HTTP metrics (middleware, `/metrics`)."""
    access = MetricsAccess(settings)

    @app.get(
        "/metrics",
        tags=["observability"],
        response_class=Response,
        responses={200: {"content": {PROMETHEUS_TEXT: {}}}},
        dependencies=[Depends(access)],
    )
    async def metrics(request: Request) -> Response:
        """Prometheus text exposition of this kernel."""
        observability = request.app.state.kernel.observability
        await observability.metrics.refresh()
        return Response(observability.metrics.render(), media_type=PROMETHEUS_TEXT)

    app.add_middleware(LatencyMiddleware)
