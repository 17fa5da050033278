"""The decoder child's wire format: one length-prefixed record per frame, and its exit codes.

Shared by the child (`heldar.perception.decoder`, the writer) and the parent
(`heldar.perception.process`, the reader). Layout and meaning: docs/design/sampler.md.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from typing import Literal

MAGIC = b"HFR1"
HEADER = struct.Struct("<4sddIIBdI")
MAX_JPEG_BYTES = 32 * 1024 * 1024
FLAG_KEYFRAME = 0x01
FLAG_KEYFRAMES_ONLY = 0x02

EXIT_STOPPED = 0
EXIT_CRASHED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_AUTH_FAILED = 4
EXIT_STREAM_ENDED = 5
EXIT_BAD_STREAM = 6

ExitReason = Literal[
    "stopped",
    "crashed",
    "usage",
    "unreachable",
    "auth_failed",
    "stream_ended",
    "bad_stream",
    "killed",
    "stalled",
    "protocol_error",
]
_REASONS: dict[int, ExitReason] = {
    EXIT_STOPPED: "stopped",
    EXIT_CRASHED: "crashed",
    EXIT_USAGE: "usage",
    EXIT_UNREACHABLE: "unreachable",
    EXIT_AUTH_FAILED: "auth_failed",
    EXIT_STREAM_ENDED: "stream_ended",
    EXIT_BAD_STREAM: "bad_stream",
}


def exit_reason(returncode: int) -> ExitReason:
    """What a decoder's exit status means (negative: killed by a signal)."""
    if returncode < 0:
        return "killed"
    return _REASONS.get(returncode, "crashed")


class RecordError(ValueError):
    """The child wrote something that is not a record (the parent kills it)."""


@dataclass(frozen=True)
class FrameRecord:
    """One frame as the child reports it; the parent assigns its sequence number."""

    captured_at: float
    pts: float | None
    width: int
    height: int
    keyframe: bool
    keyframes_only: bool
    gop_s: float | None
    jpeg: bytes = field(repr=False)

    def encode(self) -> bytes:
        flags = (FLAG_KEYFRAME if self.keyframe else 0) | (
            FLAG_KEYFRAMES_ONLY if self.keyframes_only else 0
        )
        header = HEADER.pack(
            MAGIC,
            self.captured_at,
            math.nan if self.pts is None else self.pts,
            self.width,
            self.height,
            flags,
            math.nan if self.gop_s is None else self.gop_s,
            len(self.jpeg),
        )
        return header + self.jpeg


@dataclass(frozen=True)
class RecordHeader:
    """A parsed header; `jpeg_len` bytes of JPEG follow it."""

    captured_at: float
    pts: float | None
    width: int
    height: int
    flags: int
    gop_s: float | None
    jpeg_len: int

    def with_jpeg(self, jpeg: bytes) -> FrameRecord:
        return FrameRecord(
            captured_at=self.captured_at,
            pts=self.pts,
            width=self.width,
            height=self.height,
            keyframe=bool(self.flags & FLAG_KEYFRAME),
            keyframes_only=bool(self.flags & FLAG_KEYFRAMES_ONLY),
            gop_s=self.gop_s,
            jpeg=jpeg,
        )


def parse_header(raw: bytes) -> RecordHeader:
    """Parse and check a header of `HEADER.size` bytes; raise `RecordError` if it is not one."""
    magic, captured_at, pts, width, height, flags, gop_s, jpeg_len = HEADER.unpack(raw)
    if magic != MAGIC:
        raise RecordError("bad record magic")
    if not math.isfinite(captured_at) or not 0 < jpeg_len <= MAX_JPEG_BYTES:
        raise RecordError("implausible record header")
    if not 0 < width <= 16384 or not 0 < height <= 16384:
        raise RecordError("implausible frame size")
    return RecordHeader(
        captured_at=captured_at,
        pts=pts if math.isfinite(pts) else None,
        width=width,
        height=height,
        flags=flags,
        gop_s=gop_s if math.isfinite(gop_s) and gop_s > 0 else None,
        jpeg_len=jpeg_len,
    )
