"""Real network pieces for event tests: a webhook receiver and an SSE reader.

`Receiver` is a small HTTP/1.1 server on 127.0.0.1 that records every request and answers from a
script (`answers`: status codes, `"hang"`, `"big"`), so delivery is tested against real sockets.
SSE tests run the app under a real uvicorn (`tests.support.serving`: httpx's ASGI transport
buffers whole answers). `sse_messages` parses a text/event-stream.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx

Answer = int | str  # a status code, "hang" (never answer) or "big" (a 64 MB body)
BIG_BODY_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """`async with Receiver() as r:` … `r.url`, `r.requests`, `await r.wait_for(n)`."""

    answers: list[Answer] = field(default_factory=list)
    default: Answer = 200
    requests: list[Received] = field(default_factory=list)
    big_bytes_sent: int = 0

    def __post_init__(self) -> None:
        self._arrived = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def __aenter__(self) -> Receiver:
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        async with asyncio.timeout(timeout):
            while len(self.requests) < count:
                self._arrived.clear()
                await self._arrived.wait()
        return self.requests

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        try:
            while await self._one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # the client went away, or the receiver is closing
        finally:
            self._tasks.discard(task)
            self._writers.discard(writer)
            writer.close()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        line = await reader.readline()
        if not line:
            return False
        _method, path, _version = line.decode().split(" ", 2)
        headers: dict[str, str] = {}
        while (header := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = header.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        self.requests.append(Received(path, headers, body))
        self._arrived.set()
        answer = self.answers.pop(0) if self.answers else self.default
        if answer == "hang":
            await asyncio.Event().wait()
        if answer == "big":
            writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: {BIG_BODY_BYTES}\r\n\r\n".encode())
            chunk = b"x" * 65536
            for _ in range(BIG_BODY_BYTES // len(chunk)):
                writer.write(chunk)
                await writer.drain()
                self.big_bytes_sent += len(chunk)
            return False
        status = int(answer)
        extra = (
            f"Location: http://127.0.0.1:{self.port}/elsewhere\r\n" if 300 <= status < 400 else ""
        )
        writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 2\r\n{extra}\r\nok".encode())
        await writer.drain()
        return True


@dataclass(frozen=True)
class SseMessage:
    id: str | None
    data: str | None
    comment: str | None = None

    def event(self) -> dict[str, Any]:
        assert self.data is not None
        parsed: dict[str, Any] = json.loads(self.data)
        return parsed


async def sse_messages(response: httpx.Response) -> AsyncIterator[SseMessage]:
    """Messages (and comments) of a text/event-stream, as they arrive."""
    event_id: str | None = None
    data: list[str] = []
    async for line in response.aiter_lines():
        if line == "":
            if data or event_id is not None:
                yield SseMessage(event_id, "\n".join(data) if data else None)
            event_id, data = None, []
        elif line.startswith(":"):
            yield SseMessage(None, None, comment=line[1:].strip())
        elif line.startswith("id:"):
            event_id = line[3:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())


async def next_events(
    messages: AsyncIterator[SseMessage], count: int, timeout: float = 5.0
) -> list[dict[str, Any]]:
    """The next `count` events (comments skipped)."""
    out: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        async for message in messages:
            if message.data is not None:
                out.append(message.event())
                if len(out) == count:
                    break
    return out
