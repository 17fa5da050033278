"""`create_app(settings)`: the FastAPI application, its lifespan (one Kernel) and middleware."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from heldar import __version__
from heldar.api.errors import install_error_handlers
from heldar.api.middleware import BodyLimitMiddleware, SecurityHeadersMiddleware
from heldar.api.routes import cameras, system
from heldar.app import Kernel
from heldar.settings import Settings

API_PREFIX = "/api/v1"


def create_app(settings: Settings, *, demo: bool = False) -> FastAPI:
    """Build the app. The kernel starts with the ASGI lifespan and stops with it."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with Kernel.open(settings, demo=demo) as kernel:
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
    app.include_router(cameras.router, prefix=API_PREFIX)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    return app
