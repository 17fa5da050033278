"""The simulated RTSP camera: serves a looping H.264 clip at `/cam1` … `/camN` over RTSP/TCP.

Owns the listener, one task per client connection, one paced RTP sender per playing session,
the outage (`stop`/`start`) and hung-camera (`set_stalled`) switches the recorder tests need,
and `serve_simcam`, the entry point behind `heldar simcam`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import secrets
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

from heldar.ffmpeg.binary import find_ffmpeg
from heldar.simcam.auth import Authenticator
from heldar.simcam.clip import ClipMedia, ensure_clip, load_clip
from heldar.simcam.packetizer import RTP_CLOCK_RATE, H264Packetizer, sender_report
from heldar.simcam.rtsp import (
    MAX_LINE,
    RtspProtocolError,
    RtspRequest,
    RtspResponse,
    interleave,
    parse_transport,
    read_request,
    session_description,
)

logger = logging.getLogger(__name__)

SESSION_TIMEOUT_S = 60
MAX_WRITE_BUFFER = 1 << 20
SOCKET_SEND_BUFFER = 64 * 1024  # doubled by Linux
SENDER_REPORT_INTERVAL = 5 * RTP_CLOCK_RATE
TRACK = "trackID=0"
PUBLIC = "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER"
_STREAM_PATH = re.compile(r"/cam([1-9][0-9]{0,3})(/trackID=0)?/?")


@dataclass(eq=False)
class _Session:
    """Mutable state of one RTSP session (one per connection, as ffmpeg uses them)."""

    id: str
    stream: int
    channel: int
    track_url: str
    packetizer: H264Packetizer
    ts_origin: int = field(default_factory=lambda: secrets.randbits(32))
    t_origin: float | None = None
    start_ts: int = 0
    sender: asyncio.Task[None] | None = None


class SimCamServer:
    """A camera that never changes its mind: same clip, forever, in real time."""

    def __init__(
        self,
        clip: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 8554,
        streams: int = 1,
        username: str | None = None,
        password: str | None = None,
        max_write_buffer: int = MAX_WRITE_BUFFER,
    ) -> None:
        if not 1 <= streams <= 9999:
            raise ValueError("streams must be 1..9999")
        if (username is None) != (password is None):
            raise ValueError("give both username and password, or neither")
        self._clip = clip
        self._host = host
        self._port = port
        self._streams = streams
        self._auth = (
            Authenticator(username, password)
            if username is not None and password is not None
            else None
        )
        self._max_write_buffer = max_write_buffer
        self._media: ClipMedia | None = None
        self._server: asyncio.Server | None = None
        self._generation = 0
        self._connections: set[asyncio.Task[None]] = set()
        self._stalled = False

    @property
    def port(self) -> int:
        if self._port == 0:
            raise RuntimeError("the port is chosen by start()")
        return self._port

    def url(self, n: int) -> str:
        if not 1 <= n <= self._streams:
            raise ValueError(f"stream {n} is not served (1..{self._streams})")
        host = "127.0.0.1" if self._host in ("", "0.0.0.0", "::") else self._host  # noqa: S104
        host = f"[{host}]" if ":" in host else host
        return f"rtsp://{host}:{self.port}/cam{n}"

    def set_stalled(self, flag: bool) -> None:
        """Keep every connection open but send no RTP (a hung camera); resume at a keyframe."""
        self._stalled = flag
        logger.info("simcam %s", "stalled" if flag else "resumed")

    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("already serving")
        if self._media is None:
            self._media = await asyncio.to_thread(load_clip, self._clip)
        self._generation += 1
        handler = functools.partial(self._handle, generation=self._generation)
        self._server = await asyncio.start_server(
            handler, self._host, self._port, reuse_address=True, limit=MAX_LINE
        )
        self._port = self._server.sockets[0].getsockname()[1]
        logger.info(
            "simcam listening on %s:%d with %d stream(s)", self._host, self._port, self._streams
        )

    async def stop(self) -> None:
        """Close the listener and every client connection, and wait for their tasks to end."""
        self._generation += 1  # connections accepted from here on are dropped at once
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()
        tasks = list(self._connections)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        logger.info("simcam stopped (%d connection(s) closed)", len(tasks))

    async def run(self) -> None:
        """Serve until cancelled; this is how a supervisor owns the camera."""
        await self.start()
        try:
            await asyncio.Future()
        finally:
            await self.stop()

    async def __aenter__(self) -> SimCamServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, generation: int
    ) -> None:
        task = asyncio.current_task()
        if task is None or generation != self._generation:
            writer.transport.abort()  # accepted just before stop(): it belongs to no one
            return
        self._connections.add(task)
        peer = writer.get_extra_info("peername")
        sock = writer.get_extra_info("socket")
        if sock is not None:  # a camera-sized kernel buffer, so a stuck client shows up soon
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_SEND_BUFFER)
        sessions: list[_Session] = []  # zero or one; a list so _respond can set it
        try:
            await self._converse(reader, writer, sessions, peer)
            writer.close()  # flush a last reply (a 400, say) before the FIN
            async with asyncio.timeout(2):
                await writer.wait_closed()
        except (TimeoutError, ConnectionError):
            pass
        except asyncio.CancelledError:
            if generation == self._generation:
                raise  # not cancelled by our stop(): whoever did owns the cancellation
            # stop() cancelled us and awaits the task. Python 3.11's stream callback logs a
            # cancelled handler task as an error (fixed in 3.12), so end normally instead.
            task.uncancel()
        except Exception:
            logger.exception("simcam: connection from %s failed", peer)
        finally:
            if sessions and sessions[0].sender is not None:
                await _cancel(sessions[0].sender)
            writer.transport.abort()
            self._connections.discard(task)

    async def _converse(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        sessions: list[_Session],
        peer: object,
    ) -> None:
        """Answer requests until the client hangs up, idles past the timeout, or sends junk."""
        try:
            while True:
                try:
                    async with asyncio.timeout(SESSION_TIMEOUT_S):
                        request = await read_request(reader)
                except RtspProtocolError as exc:
                    logger.info("simcam: bad request from %s: %s", peer, exc)
                    writer.write(RtspResponse(400).encode(None))
                    await writer.drain()
                    return
                if request is None:
                    return
                response = await self._respond(request, writer, sessions)
                writer.write(response.encode(request.cseq))
                await writer.drain()
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            return

    async def _respond(
        self, request: RtspRequest, writer: asyncio.StreamWriter, sessions: list[_Session]
    ) -> RtspResponse:
        if request.version != "RTSP/1.0":
            return RtspResponse(505)
        if self._auth is not None and not self._auth.check(
            request.method, request.header("authorization")
        ):
            if request.header("authorization"):
                logger.info(
                    "simcam: rejected credentials for %s %s", request.method, _path(request.url)
                )
            return RtspResponse(401, self._auth.challenge_headers())
        if request.method == "OPTIONS" and request.url == "*":
            return RtspResponse(200, [("Public", PUBLIC)])
        match = _STREAM_PATH.fullmatch(_path(request.url))
        if match is None or int(match.group(1)) > self._streams:
            return RtspResponse(404)
        stream = int(match.group(1))
        base = _base_url(request.url, stream)
        session = sessions[0] if sessions else None
        method = request.method
        if method == "OPTIONS":
            return RtspResponse(200, [("Public", PUBLIC)])
        if method in ("GET_PARAMETER", "SET_PARAMETER"):
            return RtspResponse(200, _session_header(session))
        if method == "DESCRIBE":
            headers = [("Content-Type", "application/sdp"), ("Content-Base", base + "/")]
            assert self._media is not None
            sdp = session_description(self._media, control=f"{base}/{TRACK}")
            return RtspResponse(200, headers, sdp.encode("ascii"))
        if method == "SETUP":
            return self._setup(request, stream, base, sessions)
        if method not in ("PLAY", "PAUSE", "TEARDOWN"):
            return RtspResponse(501)
        if session is None:
            return RtspResponse(455 if request.header("session") is None else 454)
        if (request.header("session") or "").split(";")[0].strip() != session.id:
            return RtspResponse(454)
        if session.stream != stream:
            return RtspResponse(459)
        if method == "PLAY":
            return self._play(session, writer)
        if session.sender is not None:
            await _cancel(session.sender)
            session.sender = None
        if method == "TEARDOWN":
            sessions.clear()
        return RtspResponse(200, _session_header(session))

    def _setup(
        self, request: RtspRequest, stream: int, base: str, sessions: list[_Session]
    ) -> RtspResponse:
        channels = parse_transport(request.header("transport") or "")
        if channels is None:
            return RtspResponse(461)
        if sessions:
            session = sessions[0]
            if session.stream != stream or session.sender is not None:
                return RtspResponse(455)
            session.channel = channels[0]
        else:
            packetizer = H264Packetizer(
                ssrc=secrets.randbits(32), initial_sequence=secrets.randbits(16)
            )
            session = _Session(
                id=secrets.token_hex(8),
                stream=stream,
                channel=channels[0],
                track_url=f"{base}/{TRACK}",
                packetizer=packetizer,
            )
            sessions.append(session)
        transport = (
            f"RTP/AVP/TCP;unicast;interleaved={channels[0]}-{channels[0] + 1};"
            f'ssrc={session.packetizer.ssrc:08X};mode="PLAY"'
        )
        return RtspResponse(200, [("Transport", transport), *_session_header(session)])

    def _play(self, session: _Session, writer: asyncio.StreamWriter) -> RtspResponse:
        if session.sender is None:
            now = asyncio.get_running_loop().time()
            if session.t_origin is None:
                session.t_origin = now
            start_ts = session.ts_origin + round((now - session.t_origin) * RTP_CLOCK_RATE)
            session.sender = asyncio.create_task(self._send(writer, session, now, start_ts))
            session.sender.set_name(f"simcam-sender-{session.id}")
            session.start_ts = start_ts
        rtp_info = (
            f"url={session.track_url};seq={session.packetizer.sequence};"
            f"rtptime={session.start_ts % 2**32}"
        )
        headers = [("Range", "npt=0.000-"), ("RTP-Info", rtp_info), *_session_header(session)]
        return RtspResponse(200, headers)

    async def _send(
        self, writer: asyncio.StreamWriter, session: _Session, play_start: float, start_ts: int
    ) -> None:
        """Send the clip in real time from its first keyframe, looping, until cancelled."""
        assert self._media is not None
        units = self._media.units
        loop = asyncio.get_running_loop()
        packetizer = session.packetizer
        index = elapsed = 0
        next_report = 0
        need_keyframe = True
        while not writer.is_closing():
            delay = play_start + elapsed / RTP_CLOCK_RATE - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            unit = units[index]
            timestamp = (start_ts + elapsed) % 2**32
            backlog = writer.transport.get_write_buffer_size()
            if self._stalled or backlog > self._max_write_buffer:
                need_keyframe = True  # a slow client loses whole GOPs, never half a frame
            elif unit.keyframe or not need_keyframe:
                need_keyframe = False
                packets = packetizer.packetize(unit.nals, timestamp)
                data = b"".join(interleave(session.channel, p.to_bytes()) for p in packets)
                if elapsed >= next_report:
                    next_report = elapsed + SENDER_REPORT_INTERVAL
                    report = sender_report(
                        ssrc=packetizer.ssrc,
                        wallclock=time.time(),
                        rtp_timestamp=timestamp,
                        packets=packetizer.packets_sent,
                        octets=packetizer.octets_sent,
                    )
                    data += interleave(session.channel + 1, report)
                writer.write(data)
            elapsed += unit.duration
            index = (index + 1) % len(units)


def _path(url: str) -> str:
    if url == "*":
        return url
    try:
        return urlsplit(url).path
    except ValueError:
        return ""


def _base_url(url: str, stream: int) -> str:
    """The stream URL as the client addressed us, minus any userinfo, query or track suffix."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}/cam{stream}"


def _session_header(session: _Session | None) -> list[tuple[str, str]]:
    if session is None:
        return []
    return [("Session", f"{session.id};timeout={SESSION_TIMEOUT_S}")]


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.wait([task])


async def serve_simcam(
    *,
    cache_dir: Path,
    port: int,
    streams: int,
    height: int,
    fps: int,
    username: str | None,
    password: str | None,
) -> None:
    """Render (or reuse) the clip, serve it, print one URL per stream, run until cancelled."""
    clip = await ensure_clip(cache_dir, ffmpeg=find_ffmpeg(), height=height, fps=fps)
    server = SimCamServer(clip, port=port, streams=streams, username=username, password=password)
    await server.start()
    try:
        for n in range(1, streams + 1):
            print(server.url(n), flush=True)
        await asyncio.Future()
    finally:
        await server.stop()
