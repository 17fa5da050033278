"""`create_app(settings)`: the FastAPI application, its lifespan (one Kernel) and middleware.

The app refuses to build when a route declares no capability and is not a listed public route
(`heldar.api.deps.undeclared_routes`): deny by default, checked before the first request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from heldar import __version__
from heldar.api import metrics
from heldar.api.deps import undeclared_routes
from heldar.api.errors import install_error_handlers
from heldar.api.middleware import (
    BodyLimitMiddleware,
    JsonOnlyMiddleware,
    SecurityHeadersMiddleware,
)
from heldar.api.openapi import install_openapi
from heldar.api.routes import (
    ai,
    api_keys,
    audit,
    auth,
    cameras,
    events,
    evidence,
    live,
    media,
    observability,
    playback,
    recording,
    recordings,
    retention,
    snapshots,
    system,
    users,
    web,
    webhooks,
    zones,
)
from heldar.app import Kernel
from heldar.clock import Clock
from heldar.errors import ConfigurationError
from heldar.settings import Settings

API_PREFIX = "/api/v1"
INGEST_PATH = f"{API_PREFIX}/ai/events"
MAX_INGEST_BYTES = 8 * 1_048_576


def create_app(settings: Settings, *, demo: bool = False, clock: Clock | None = None) -> FastAPI:
    """Build the app. The kernel starts with the ASGI lifespan and stops with it."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with Kernel.open(settings, demo=demo, clock=clock) as kernel:
            app.state.kernel = kernel
            yield

    app = FastAPI(
        title="Heldar",
        version=__version__,
        summary="Open video kernel: cameras, recording, perception, zones.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(system.router)
    for router in (
        auth.router,
        users.router,
        api_keys.router,
        audit.router,
        cameras.router,
        recording.router,
        recordings.router,
        playback.router,
        snapshots.router,
        ai.router,
        observability.router,
        webhooks.router,
        zones.router,
        live.router,
        events.router,
        evidence.router,
        retention.router,
    ):
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(media.router)
    app.include_router(live.media_router)
    app.include_router(web.router)
    metrics.install(app, settings)
    # Outermost last: security headers wrap every answer, the 413/415 refusals included.
    app.add_middleware(JsonOnlyMiddleware)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        per_path={INGEST_PATH: max(settings.max_body_bytes, MAX_INGEST_BYTES)},
    )
    app.add_middleware(SecurityHeadersMiddleware)
    install_openapi(app)
    problems = undeclared_routes(app)
    if problems:
        raise ConfigurationError("routes without a declared capability: " + "; ".join(problems))
    return app
