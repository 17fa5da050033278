"""Real network pieces for live-view tests: the app under uvicorn, a camera on the simcam, and a
WebSocket viewer that records what it received.

`serving(app)` runs the already-started app under a real uvicorn on 127.0.0.1 with per-message
deflate off, as `heldar serve` runs it. `WsViewer` reads the live WebSocket protocol: one JSON
`init`, the init segment, fMP4 fragments, and a JSON `end` before the server closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import websockets
from fastapi import FastAPI

from tests.support.serving import serving as serving_app

SEND_BUFFER_BYTES = 64 * 1024


@contextlib.asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    """The app under uvicorn with a small send buffer: a stalled viewer shows within seconds at
    this camera's 100 kB/s, as on a real network path."""
    async with serving_app(app, send_buffer_bytes=SEND_BUFFER_BYTES) as base:
        yield base


@dataclass
class WsViewer:
    """Everything one WebSocket viewer got; `run()` reads until the server closes."""

    url: str
    init_message: dict[str, Any] | None = None
    init: bytes | None = None
    fragments: list[bytes] = field(default_factory=list)
    end_message: dict[str, Any] | None = None
    close_code: int | None = None
    texts: list[str] = field(default_factory=list)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        async with websockets.connect(self.url, compression=None, max_size=None) as ws:
            try:
                async for message in ws:
                    self._take(message)
            except websockets.ConnectionClosedError:
                pass  # 1011 (stream ended) and 1008 (token revoked) are errors to websockets
            finally:
                self.close_code = ws.close_code

    def _take(self, message: str | bytes) -> None:
        if isinstance(message, str):
            self.texts.append(message)
            parsed = json.loads(message)
            if parsed["type"] == "init":
                self.init_message = parsed
            elif parsed["type"] == "end":
                self.end_message = parsed
        elif self.init is None:
            self.init = message
        else:
            self.fragments.append(message)
        self._arrived.set()

    async def wait_fragments(self, count: int, timeout: float = 15.0) -> None:
        async with asyncio.timeout(timeout):
            while len(self.fragments) < count:
                self._arrived.clear()
                await self._arrived.wait()


def ws_url(base: str, path: str) -> str:
    return base.replace("http://", "ws://", 1) + path


@contextlib.asynccontextmanager
async def stalled_viewer(base: str, path: str) -> AsyncIterator[None]:
    """A WebSocket client that completes the handshake and then never reads (tiny receive
    buffer, so the kernel's sends back up within seconds)."""
    host, port = base.removeprefix("http://").split(":")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
    reader, writer = await asyncio.open_connection(sock=sock)
    writer.write(
        (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    status = await reader.readline()
    assert b" 101 " in status, status
    writer.transport.pause_reading()
    try:
        yield
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
