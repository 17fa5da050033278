"""Fragmented-MP4 splitting: top-level boxes off a pipe, the init segment, and each fragment.

ffmpeg writes `ftyp moov` once (the init segment), then `moof mdat` pairs. `read_box` reads one
top-level box; `InitInfo.parse` pulls the codec string (for MSE), size and timescale out of the
init segment; `fragment_info` says whether a fragment opens with a keyframe and where it starts;
`fragment_samples` and `AvcConfig.annexb` turn a fragment into H.264 access units (for WebRTC).
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
    avcc: bytes = b""
    """The `avcC` box payload (H.264 only): NAL length size, SPS and PPS."""

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
        avcc = b""
        if entry_kind in (b"avc1", b"avc3"):
            avcc = _children(entry, 78).get(b"avcC", b"")
            if len(avcc) >= 4:
                codec = f"avc1.{avcc[1]:02x}{avcc[2]:02x}{avcc[3]:02x}"
        return cls(
            codec=codec, width=width, height=height, timescale=timescale or 90_000, avcc=avcc
        )


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


@dataclass(frozen=True)
class Sample:
    """One access unit of a fragment, as stored in MP4 (length-prefixed NAL units)."""

    data: bytes
    decode_time: int


def fragment_samples(fragment: bytes) -> list[Sample]:
    """The samples of one fragment (`moof` + `mdat`, whole boxes, `default_base_moof`)."""
    (moof_size,) = struct.unpack_from(">I", fragment, 0)
    traf = _path(fragment[8:moof_size], b"traf")
    if traf is None:
        raise MediaError("moof without traf")
    boxes = _children(traf)
    tfhd, trun, tfdt = boxes.get(b"tfhd", b""), boxes.get(b"trun", b""), boxes.get(b"tfdt", b"")
    if len(tfhd) < 8 or len(trun) < 8:
        raise MediaError("fragment without tfhd/trun")
    tf_flags = int.from_bytes(tfhd[1:4], "big")
    pos, default_duration, default_size = 8, 0, 0
    if tf_flags & 0x1:  # base_data_offset: absolute file offsets cannot be resolved here
        raise MediaError("fragment with an absolute base data offset")
    pos += 4 if tf_flags & 0x2 else 0
    if tf_flags & 0x8:
        (default_duration,) = struct.unpack_from(">I", tfhd, pos)
        pos += 4
    if tf_flags & 0x10:
        (default_size,) = struct.unpack_from(">I", tfhd, pos)
    decode_time = 0
    if len(tfdt) >= 8:
        decode_time = struct.unpack_from(">Q" if tfdt[0] == 1 else ">I", tfdt, 4)[0]
    tr_flags = int.from_bytes(trun[1:4], "big")
    (count,) = struct.unpack_from(">I", trun, 4)
    pos = 8
    offset = moof_size + 8  # no data_offset: the samples start the mdat payload
    if tr_flags & 0x1:
        (offset,) = struct.unpack_from(">i", trun, pos)
        pos += 4
    pos += 4 if tr_flags & 0x4 else 0
    samples = []
    for _ in range(count):
        duration, size = default_duration, default_size
        if tr_flags & 0x100:
            (duration,) = struct.unpack_from(">I", trun, pos)
            pos += 4
        if tr_flags & 0x200:
            (size,) = struct.unpack_from(">I", trun, pos)
            pos += 4
        pos += 4 if tr_flags & 0x400 else 0
        pos += 4 if tr_flags & 0x800 else 0
        if offset < 0 or offset + size > len(fragment):
            raise MediaError("fragment sample outside its mdat")
        samples.append(Sample(fragment[offset : offset + size], decode_time))
        offset += size
        decode_time += duration
    return samples


_START = b"\x00\x00\x00\x01"
_NAL_IDR, _NAL_SPS = 5, 7


@dataclass(frozen=True)
class AvcConfig:
    """An `avcC` record: how long NAL length prefixes are, and the parameter sets."""

    length_size: int
    parameter_sets: tuple[bytes, ...]
    """SPS then PPS NAL units, without start codes."""

    @classmethod
    def parse(cls, avcc: bytes) -> AvcConfig:
        try:
            length_size = (avcc[4] & 0x3) + 1
            sets: list[bytes] = []
            pos = 5
            for count_mask in (0x1F, 0xFF):
                count = avcc[pos] & count_mask
                pos += 1
                for _ in range(count):
                    (size,) = struct.unpack_from(">H", avcc, pos)
                    if pos + 2 + size > len(avcc):
                        raise MediaError("truncated avcC")
                    sets.append(avcc[pos + 2 : pos + 2 + size])
                    pos += 2 + size
        except (IndexError, struct.error) as exc:
            raise MediaError("malformed avcC") from exc
        return cls(length_size=length_size, parameter_sets=tuple(sets))

    def annexb(self, sample: bytes) -> bytes:
        """The sample with start codes instead of length prefixes; an IDR frame that carries no
        SPS of its own gets the init segment's SPS and PPS first (a decoder joining needs them)."""
        units: list[bytes] = []
        pos, size = 0, self.length_size
        while pos + size <= len(sample):
            length = int.from_bytes(sample[pos : pos + size], "big")
            pos += size
            if length == 0 or pos + length > len(sample):
                raise MediaError("malformed H.264 sample")
            units.append(sample[pos : pos + length])
            pos += length
        kinds = {unit[0] & 0x1F for unit in units}
        if _NAL_IDR in kinds and _NAL_SPS not in kinds:
            units[:0] = self.parameter_sets
        return b"".join(_START + unit for unit in units)
