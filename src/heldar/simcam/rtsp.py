"""RTSP/1.0 wire format for the simulated camera: bounded request parsing and response framing.

Owns the request and response messages, the reader that skips interleaved `$` frames a client
sends (RTCP receiver reports), the size limits that keep a hostile client from costing memory,
and the SDP a DESCRIBE answers.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from heldar.simcam.clip import ClipMedia

MAX_LINE = 4096
MAX_HEADERS = 64
MAX_BODY = 8192
SERVER_NAME = "heldar-simcam"
_METHOD = re.compile(r"[A-Z][A-Z_]{0,31}")

REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    454: "Session Not Found",
    455: "Method Not Valid in This State",
    459: "Aggregate Operation Not Allowed",
    461: "Unsupported Transport",
    501: "Not Implemented",
    505: "RTSP Version Not Supported",
}


class RtspProtocolError(Exception):
    """The peer sent something that is not RTSP; the answer is 400 and the connection closes."""


@dataclass(frozen=True, slots=True)
class RtspRequest:
    method: str
    url: str
    version: str
    headers: Mapping[str, str]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def cseq(self) -> str | None:
        return self.header("cseq")


@dataclass(frozen=True, slots=True)
class RtspResponse:
    status: int
    headers: Sequence[tuple[str, str]] = field(default_factory=tuple)
    body: bytes = b""

    def encode(self, cseq: str | None) -> bytes:
        lines = [f"RTSP/1.0 {self.status} {REASONS.get(self.status, 'Error')}"]
        if cseq is not None:
            lines.append(f"CSeq: {cseq}")
        lines.append(f"Server: {SERVER_NAME}")
        lines.extend(f"{name}: {value}" for name, value in self.headers)
        if self.body:
            lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + self.body


async def _read_line(reader: asyncio.StreamReader) -> str:
    try:
        raw = await reader.readuntil(b"\n")
    except asyncio.LimitOverrunError as exc:
        raise RtspProtocolError("line too long") from exc
    if len(raw) > MAX_LINE:
        raise RtspProtocolError("line too long")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RtspProtocolError("line is not UTF-8") from exc
    text = text.rstrip("\r\n")
    if any(ord(ch) < 0x20 and ch != "\t" for ch in text):
        raise RtspProtocolError("control character in a line")
    return text


async def read_request(reader: asyncio.StreamReader) -> RtspRequest | None:
    """Read the next request, skipping interleaved binary frames; None at a clean EOF.

    Raises `RtspProtocolError` for anything malformed and `asyncio.IncompleteReadError` when
    the peer hangs up mid-message.
    """
    while True:
        first = await reader.read(1)
        if not first:
            return None
        if first == b"$":
            header = await reader.readexactly(3)
            await reader.readexactly(int.from_bytes(header[1:3], "big"))
            continue
        if first in b"\r\n":
            continue  # stray line ends between messages are tolerated (RFC 2326 §15.1)
        break
    request_line = first.decode("latin-1") + await _read_line(reader)
    parts = request_line.split(" ")
    if len(parts) != 3 or not _METHOD.fullmatch(parts[0]) or not parts[1]:
        raise RtspProtocolError("malformed request line")
    method, url, version = parts
    headers: dict[str, str] = {}
    for count in range(MAX_HEADERS + 1):
        line = await _read_line(reader)
        if not line:
            break
        if count == MAX_HEADERS:
            raise RtspProtocolError("too many headers")
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise RtspProtocolError("malformed header line")
        headers[name.lower()] = value.strip()
    body = b""
    if "content-length" in headers:
        length_text = headers["content-length"]
        if not length_text.isdigit() or int(length_text) > MAX_BODY:
            raise RtspProtocolError("bad or oversized Content-Length")
        body = await reader.readexactly(int(length_text))
    return RtspRequest(method=method, url=url, version=version, headers=headers, body=body)


def parse_transport(value: str) -> tuple[int, int] | None:
    """The interleaved channels of the first `RTP/AVP/TCP` transport offered, or None."""
    for spec in value.split(","):
        params = [p.strip() for p in spec.split(";")]
        if params[0].upper() != "RTP/AVP/TCP":
            continue
        for param in params[1:]:
            key, _, channels = param.partition("=")
            if key.lower() == "interleaved":
                low, _, high = channels.partition("-")
                if low.isdigit() and int(low) < 255 and (not high or high.isdigit()):
                    return int(low), int(high) if high else int(low) + 1
                return None
        return 0, 1
    return None


def interleave(channel: int, payload: bytes) -> bytes:
    """Frame one RTP/RTCP packet for the RTSP connection (RFC 2326 §10.12)."""
    return b"$" + bytes((channel,)) + len(payload).to_bytes(2, "big") + payload


def session_description(media: ClipMedia, *, control: str) -> str:
    """The SDP (RFC 4566) for one live H.264 track whose control URL is `control`."""
    lines = [
        "v=0",
        "o=- 0 1 IN IP4 127.0.0.1",
        "s=Heldar SimCam",
        "c=IN IP4 0.0.0.0",
        "t=0 0",
        "a=control:*",
        "a=range:npt=now-",
        "m=video 0 RTP/AVP 96",
        "a=rtpmap:96 H264/90000",
        f"a=fmtp:96 {media.config.fmtp()}",
        f"a=framerate:{float(media.fps):g}",
        f"a=x-dimensions:{media.width},{media.height}",
        f"a=control:{control}",
    ]
    return "\r\n".join(lines) + "\r\n"
