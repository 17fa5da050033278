"""The app under a real uvicorn on 127.0.0.1, configured as `heldar serve` runs it."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import uvicorn
from fastapi import FastAPI

from tests.support.waiting import eventually


@contextlib.asynccontextmanager
async def serving(app: FastAPI, *, send_buffer_bytes: int | None = None) -> AsyncIterator[str]:
    """The (already started) app under a real uvicorn on 127.0.0.1; yields its base URL.

    `send_buffer_bytes` caps the socket send buffer (accepted sockets inherit it): loopback
    autotunes it to ~4 MB, which hides a reader that stopped reading for a long time."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if send_buffer_bytes is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer_bytes)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        lifespan="off",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=2,
        ws_per_message_deflate=False,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await eventually(lambda: server.started, timeout=10, interval=0.02, what="uvicorn")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()
