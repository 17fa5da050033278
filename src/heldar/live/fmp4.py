"""Fragmented-MP4 splitting: top-level boxes off a pipe, the init segment, and each fragment.

ffmpeg writes `ftyp moov` once (the init segment), then `moof mdat` pairs. `read_box` reads one
top-level box; `InitInfo.parse` pulls the codec string (for MSE), size and timescale out of the
init segment; `fragment_info` says whether a fragment opens with a keyframe and where it starts.
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass

from heldar.errors import MediaError

MAX_BOX_BYTES = 32 * 1024 * 1024  # one 4K keyframe is a few MB; anything bigger is garbage
_NON_SYNC = 0x0001_0000


async def read_box(reader: asyncio.StreamReader) -> tuple[bytes, bytes] | None:
    """The next top-level box as (type, whole box bytes); None at a clean end of stream."""
    try:
        header = await reader.readexactly(8)
    except asyncio.IncompleteReadError as eof:
        if eof.partial:
            raise MediaError("fMP4 stream ended inside a box header") from eof
        return None
    size, kind = struct.unpack(">I4s", header)
    extra = b""
    if size == 1:
        extra = await reader.readexactly(8)
        (size,) = struct.unpack(">Q", extra)
    if size < 8 + len(extra) or size > MAX_BOX_BYTES:
        raise MediaError(f"implausible fMP4 box size {size}")
    body = await reader.readexactly(size - 8 - len(extra))
    return kind, header + extra + body


def _children(data: bytes, start: int = 0, end: int | None = None) -> dict[bytes, bytes]:
    """The payloads of the boxes directly inside data[start:end] (first of each type)."""
    found: dict[bytes, bytes] = {}
    pos, stop = start, len(data) if end is None else end
    while pos + 8 <= stop:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            (size,) = struct.unpack_from(">Q", data, pos + 8)
            header = 16
        elif size == 0:
            size = stop - pos
        if size < header:
            break
        found.setdefault(kind, data[pos + header : pos + size])
        pos += size
    return found


def _path(data: bytes, *kinds: bytes) -> bytes | None:
    node: bytes | None = data
    for kind in kinds:
        if node is None:
            return None
        node = _children(node).get(kind)
    return node


@dataclass(frozen=True)
class InitInfo:
    """What a player needs to know before the first fragment."""

    codec: str
    """RFC 6381 codec string, e.g. `avc1.64001f`; `hvc1`/`hev1` for H.265."""
    width: int
    height: int
    timescale: int

    @property
    def browser_playable(self) -> bool:
        return self.codec.startswith("avc1")

    @property
    def mime(self) -> str:
        return f'video/mp4; codecs="{self.codec}"'

    @classmethod
    def parse(cls, init: bytes) -> InitInfo:
        top = _children(init)
        mdia = _path(top.get(b"moov", b""), b"trak", b"mdia")
        if mdia is None:
            raise MediaError("init segment has no video track")
        mdhd = _children(mdia).get(b"mdhd", b"")
        timescale = struct.unpack_from(">I", mdhd, 20 if mdhd[:1] == b"\x01" else 12)[0]
        stsd = _path(mdia, b"minf", b"stbl", b"stsd")
        if stsd is None or len(stsd) < 16:
            raise MediaError("init segment has no sample description")
        entry_kind = stsd[12:16]
        entry = _children(stsd, 8)[entry_kind]
        width, height = struct.unpack_from(">HH", entry, 24)
        codec = entry_kind.decode("ascii", "replace")
        if entry_kind in (b"avc1", b"avc3"):
            avcc = _children(entry, 78).get(b"avcC", b"")
            if len(avcc) >= 4:
                codec = f"avc1.{avcc[1]:02x}{avcc[2]:02x}{avcc[3]:02x}"
        return cls(codec=codec, width=width, height=height, timescale=timescale or 90_000)


@dataclass(frozen=True)
class FragmentInfo:
    keyframe: bool
    decode_time: int
    """baseMediaDecodeTime of the fragment, in the track's timescale."""


def fragment_info(moof: bytes) -> FragmentInfo:
    """Keyframe flag and start time of a `moof` box (whole box bytes)."""
    traf = _path(moof[8:], b"traf")
    if traf is None:
        raise MediaError("moof without traf")
    boxes = _children(traf)
    tfhd, trun, tfdt = boxes.get(b"tfhd", b""), boxes.get(b"trun", b""), boxes.get(b"tfdt", b"")
    decode_time = 0
    if len(tfdt) >= 8:
        fmt = ">Q" if tfdt[0] == 1 else ">I"
        decode_time = struct.unpack_from(fmt, tfdt, 4)[0]
    flags = _first_sample_flags(tfhd, trun)
    keyframe = flags is not None and not flags & _NON_SYNC
    return FragmentInfo(keyframe=keyframe, decode_time=decode_time)


def _first_sample_flags(tfhd: bytes, trun: bytes) -> int | None:
    if len(trun) >= 8:
        tr_flags = int.from_bytes(trun[1:4], "big")
        pos = 8 + (4 if tr_flags & 0x1 else 0)
        if tr_flags & 0x4:
            return int(struct.unpack_from(">I", trun, pos)[0])
        pos += 4 if tr_flags & 0x4 else 0
        if tr_flags & 0x400:
            pos += 4 if tr_flags & 0x100 else 0
            pos += 4 if tr_flags & 0x200 else 0
            return int(struct.unpack_from(">I", trun, pos)[0])
    if len(tfhd) >= 8:
        tf_flags = int.from_bytes(tfhd[1:4], "big")
        pos = 8
        for bit, width in ((0x1, 8), (0x2, 4), (0x8, 4), (0x10, 4)):
            pos += width if tf_flags & bit else 0
        if tf_flags & 0x20:
            return int(struct.unpack_from(">I", tfhd, pos)[0])
    return None
