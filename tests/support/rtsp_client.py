"""Test-side RTSP clients: a raw asyncio client for hand-made requests, and the real ffmpeg.

`RawRtspClient` speaks just enough RTSP/1.0 over TCP to send arbitrary bytes, read replies and
interleaved RTP frames; `run_ffmpeg_client` runs the ffmpeg binary as a recorder would and always
reaps it; `probe` opens the result with PyAV.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import av

from heldar.ffmpeg.binary import find_ffmpeg
from heldar.simcam.packetizer import RtpPacket


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class RawRtspClient:
    """One RTSP connection driven by hand; interleaved frames read meanwhile are kept in order."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.frames: deque[tuple[int, bytes]] = deque()
        self.session: str | None = None
        self._cseq = 0

    @classmethod
    async def connect(cls, url: str) -> RawRtspClient:
        parts = urlsplit(url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        return cls(reader, writer)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()

    async def __aenter__(self) -> RawRtspClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def request(
        self, method: str, url: str, headers: dict[str, str] | None = None, *, timeout: float = 5
    ) -> Reply:
        self._cseq += 1
        lines = [f"{method} {url} RTSP/1.0", f"CSeq: {self._cseq}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        await self.send(("\r\n".join(lines) + "\r\n\r\n").encode())
        return await self.read_reply(timeout=timeout)

    async def read_reply(self, *, timeout: float = 5) -> Reply:
        async with asyncio.timeout(timeout):
            while True:
                first = await self.reader.readexactly(1)
                if first == b"$":
                    self.frames.append(await self._read_frame_body())
                    continue
                status_line = (first + await self.reader.readuntil(b"\r\n")).decode()
                headers: dict[str, str] = {}
                while line := (await self.reader.readuntil(b"\r\n")).decode().strip():
                    name, _, value = line.partition(":")
                    key = name.strip().lower()
                    value = value.strip()
                    headers[key] = f"{headers[key]}\n{value}" if key in headers else value
                body = await self.reader.readexactly(int(headers.get("content-length", "0")))
                return Reply(int(status_line.split(" ")[1]), headers, body)

    async def read_frame(self, *, timeout: float = 5) -> tuple[int, bytes]:
        """The next interleaved (channel, packet); raises TimeoutError when none comes."""
        if self.frames:
            return self.frames.popleft()
        async with asyncio.timeout(timeout):
            first = await self.reader.readexactly(1)
            if first != b"$":
                raise AssertionError(f"expected an interleaved frame, got {first!r}")
            return await self._read_frame_body()

    async def _read_frame_body(self) -> tuple[int, bytes]:
        header = await self.reader.readexactly(3)
        return header[0], await self.reader.readexactly(int.from_bytes(header[1:], "big"))

    async def play(self, url: str, headers: dict[str, str] | None = None) -> Reply:
        """DESCRIBE, SETUP over TCP and PLAY; returns the PLAY reply (session in `.session`)."""
        extra = headers or {}
        described = await self.request("DESCRIBE", url, extra)
        assert described.status == 200, described
        transport = {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"}
        setup = await self.request("SETUP", f"{url}/trackID=0", {**extra, **transport})
        assert setup.status == 200, setup
        self.session = (setup.header("session") or "").split(";")[0]
        played = await self.request("PLAY", url, {**extra, "Session": self.session})
        assert played.status == 200, played
        return played

    async def read_rtp(self, *, timeout: float = 5) -> RtpPacket:
        """The next RTP packet on channel 0, skipping RTCP."""
        while True:
            channel, data = await self.read_frame(timeout=timeout)
            if channel == 0:
                return RtpPacket.from_bytes(data)

    async def read_access_units(self, count: int, *, timeout: float = 5) -> list[list[RtpPacket]]:
        """The next `count` access units, each the packets up to and including a marker."""
        units: list[list[RtpPacket]] = [[]]
        while len(units) <= count:
            packet = await self.read_rtp(timeout=timeout)
            units[-1].append(packet)
            if packet.marker:
                units.append([])
        return units[:count]


@dataclass(frozen=True)
class FfmpegResult:
    returncode: int
    stderr: str


async def run_ffmpeg_client(
    url: str,
    out: Path,
    *,
    seconds: float | None = None,
    frames: int | None = None,
    timeout: float = 30,
) -> FfmpegResult:
    """Pull `url` over RTSP/TCP into `out` with `-c copy`, as the recorder does; always reaped."""
    limit = ["-t", str(seconds)] if seconds is not None else ["-frames:v", str(frames or 5)]
    args = ["-hide_banner", "-nostdin", "-loglevel", "error", "-protocol_whitelist", "rtsp,tcp"]
    args += ["-rtsp_transport", "tcp", "-timeout", "5000000", "-i", url, *limit]
    args += ["-c", "copy", "-y", str(out)]
    proc = await asyncio.create_subprocess_exec(
        find_ffmpeg(),
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    try:
        async with asyncio.timeout(timeout):
            _, stderr = await proc.communicate()
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return FfmpegResult(proc.returncode, stderr.decode("utf-8", "replace"))


@dataclass(frozen=True)
class Probe:
    codec: str
    width: int
    height: int
    frames: int


def probe(path: Path) -> Probe:
    """Codec, size and decoded frame count of a recorded file."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        ctx = stream.codec_context
        return Probe(ctx.name, ctx.width, ctx.height, frames)
