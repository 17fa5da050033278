"""Just enough ISO-BMFF to index our fragmented MP4 segments without decoding them.

`read_index` finds a file's init section (ftyp + moov) and its complete moof + mdat fragments,
with each track run's decode time, duration and keyframe flag (tfhd/tfdt/trun, defaults from trex,
timescale from mdhd). It reads box headers with `pread`, never the media; a torn last fragment (the
writer was killed) is left out. `Fmp4Cache` keeps indexes while a file's size and mtime hold.
"""

from __future__ import annotations

import functools
import hashlib
import os
import struct
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from heldar.errors import MediaError

_WINDOW = 8192
_MAX_META_BOX = 16 << 20  # a moov/moof larger than this is not one of ours
_NON_SYNC = 0x0001_0000  # sample_is_non_sync_sample in sample flags
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_HEADER = struct.Struct(">I4s")
_TWO_U32 = struct.Struct(">II")


@dataclass(frozen=True, slots=True)
class Track:
    """One trak of the init section, with the trex defaults its fragments may rely on."""

    track_id: int
    handler: str
    timescale: int
    default_duration: int
    default_flags: int


# The two per-fragment records are NamedTuples, not frozen dataclasses: just as immutable and
# named, and five times cheaper to build (a 2 h playlist parses 7,200 of each, cold).


class TrackRun(NamedTuple):
    """One traf of a fragment: a track's samples, in that track's timescale."""

    track_id: int
    decode_time: int
    """tfdt (-1 when the traf has none)."""
    duration: int
    samples: int
    keyframe: bool
    tfdt_at: int
    """Offset of the tfdt box from the start of the fragment (-1 when the traf has none)."""
    tfdt_version: int


class Fragment(NamedTuple):
    """A complete moof + mdat: byte range, and the main track's timing."""

    offset: int
    end: int
    decode_time: int
    """Main-track decode time in its timescale (tfdt, or reconstructed when a traf has none)."""
    duration: int
    """Main-track duration in its timescale."""
    start_s: float
    """Decode time of the main track's first sample, from the file's first fragment."""
    duration_s: float
    keyframe: bool
    runs: tuple[TrackRun, ...]


@dataclass(frozen=True, slots=True)
class Fmp4Index:
    """Where a file's init section and fragments are, and how long they play."""

    size: int
    init_size: int
    """The init section is bytes [0, init_size)."""
    tracks: tuple[Track, ...]
    main_track_id: int
    """The track that times fragments: the first video track, else the first track."""
    fragments: tuple[Fragment, ...]
    codec_key: bytes
    """Digest of the trak and mvex boxes: equal keys mean fragments can share one init section."""
    init_digest: bytes
    """Digest of the init bytes: equal digests mean the init sections are byte-identical."""
    truncated: bool
    """True when trailing bytes (a torn fragment) were ignored."""

    @property
    def duration_s(self) -> float:
        if not self.fragments:
            return 0.0
        last = self.fragments[-1]
        return last.start_s + last.duration_s - self.fragments[0].start_s

    @property
    def main_timescale(self) -> int:
        return next(t.timescale for t in self.tracks if t.track_id == self.main_track_id)

    def track(self, track_id: int) -> Track | None:
        return next((t for t in self.tracks if t.track_id == track_id), None)

    def main_run(self, fragment: Fragment) -> TrackRun:
        """The main track's run of `fragment` (every indexed fragment has one)."""
        return next(r for r in fragment.runs if r.track_id == self.main_track_id)


def _bad(path: Path | str, why: str) -> MediaError:
    return MediaError(f"{Path(path).name}: {why}", code="bad_segment")


def _boxes(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """Child boxes of data[start:end] as (type, body offset, box end)."""
    found = []
    pos = start
    while pos + 8 <= end:
        size, kind = _HEADER.unpack_from(data, pos)
        body = pos + 8
        if size == 1:
            if pos + 16 > end:
                break
            size = _U64.unpack_from(data, pos + 8)[0]
            body = pos + 16
        elif size == 0:
            size = end - pos
        if size < body - pos or pos + size > end:
            raise ValueError(f"box {kind!r} overruns its parent")
        found.append((kind, body, pos + size))
        pos += size
    return found


def _child(data: bytes, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    for found, body, box_end in _boxes(data, start, end):
        if found == kind:
            return body, box_end
    return None


@functools.lru_cache(maxsize=64)
def _parse_init(
    init: bytes, moov_at: int, header_size: int
) -> tuple[tuple[Track, ...], bytes, bytes]:
    """(tracks, codec key, init digest). Memoized: the files of one ffmpeg run share their
    init section byte for byte, so a run's moov is parsed once, not once per file."""
    tracks, codec_key = _parse_moov(init[moov_at:], header_size)
    return tracks, codec_key, hashlib.blake2b(init, digest_size=16).digest()


def _parse_moov(moov: bytes, header_size: int) -> tuple[tuple[Track, ...], bytes]:
    trex: dict[int, tuple[int, int]] = {}
    traks: list[tuple[int, str, int]] = []
    key = hashlib.blake2b(digest_size=16)
    for kind, body, end in _boxes(moov, header_size, len(moov)):
        if kind == b"mvex":
            key.update(moov[body:end])
            for sub, sbody, _ in _boxes(moov, body, end):
                if sub == b"trex":
                    track_id, _sdi, duration, _size, flags = struct.unpack_from(
                        ">5I", moov, sbody + 4
                    )
                    trex[track_id] = (duration, flags)
        elif kind == b"trak":
            key.update(moov[body:end])
            traks.append(_parse_trak(moov, body, end))
    if not traks:
        raise ValueError("moov without tracks")
    tracks = tuple(
        Track(tid, handler, scale, *trex.get(tid, (0, 0))) for tid, handler, scale in traks
    )
    return tracks, key.digest()


def _parse_trak(moov: bytes, start: int, end: int) -> tuple[int, str, int]:
    tkhd = _child(moov, start, end, b"tkhd")
    mdia = _child(moov, start, end, b"mdia")
    if tkhd is None or mdia is None:
        raise ValueError("trak without tkhd or mdia")
    version = moov[tkhd[0]]
    track_id = _U32.unpack_from(moov, tkhd[0] + (20 if version == 1 else 12))[0]
    mdhd = _child(moov, mdia[0], mdia[1], b"mdhd")
    hdlr = _child(moov, mdia[0], mdia[1], b"hdlr")
    if mdhd is None or hdlr is None:
        raise ValueError("mdia without mdhd or hdlr")
    version = moov[mdhd[0]]
    timescale = _U32.unpack_from(moov, mdhd[0] + (20 if version == 1 else 12))[0]
    if timescale == 0:
        raise ValueError("mdhd timescale is 0")
    handler = moov[hdlr[0] + 8 : hdlr[0] + 12].decode("latin-1")
    return track_id, handler, timescale


def _parse_moof(
    data: bytes, moof_at: int, start: int, end: int, tracks: dict[int, Track]
) -> tuple[TrackRun, ...]:
    """The trafs of the moof at `moof_at` whose children are data[start:end]."""
    runs = []
    pos = start
    while pos + 8 <= end:
        size, kind = _HEADER.unpack_from(data, pos)
        if size < 8 or pos + size > end:
            raise ValueError(f"box {kind!r} overruns its moof")
        if kind == b"traf":
            runs.append(_parse_traf(data, pos + 8, pos + size, tracks, moof_at))
        pos += size
    return tuple(runs)


def _parse_traf(
    data: bytes, start: int, end: int, tracks: dict[int, Track], moof_at: int
) -> TrackRun:
    track: Track | None = None
    default_duration = default_flags = 0
    decode_time = tfdt_at = -1
    tfdt_version = duration = samples = 0
    keyframe: bool | None = None
    pos = start
    while pos + 8 <= end:
        size, kind = _HEADER.unpack_from(data, pos)
        if size < 8 or pos + size > end:
            raise ValueError(f"box {kind!r} overruns its traf")
        body = pos + 8
        if kind == b"tfhd":  # ISO 14496-12: the first box of a traf
            flags, track_id = _TWO_U32.unpack_from(data, body)
            track = tracks.get(track_id)
            if track is None:
                raise ValueError(f"traf for unknown track {track_id}")
            default_duration, default_flags = track.default_duration, track.default_flags
            at = body + 8 + (8 if flags & 0x01 else 0) + (4 if flags & 0x02 else 0)
            if flags & 0x08:
                default_duration = _U32.unpack_from(data, at)[0]
                at += 4
            if flags & 0x10:  # default_sample_size
                at += 4
            if flags & 0x20:
                default_flags = _U32.unpack_from(data, at)[0]
        elif track is None:
            raise ValueError("traf does not start with tfhd")
        elif kind == b"tfdt":
            tfdt_version = data[body]
            unpack = _U64 if tfdt_version == 1 else _U32
            decode_time = unpack.unpack_from(data, body + 4)[0]
            tfdt_at = pos - moof_at
        elif kind == b"trun":
            run_duration, count, first_flags = _parse_trun(data, body, default_duration)
            duration += run_duration
            samples += count
            if keyframe is None and count:
                keyframe = not ((default_flags if first_flags is None else first_flags) & _NON_SYNC)
        pos += size
    if track is None:
        raise ValueError("traf without tfhd")
    return TrackRun(
        track.track_id, decode_time, duration, samples, bool(keyframe), tfdt_at, tfdt_version
    )


def _parse_trun(moof: bytes, body: int, default_duration: int) -> tuple[int, int, int | None]:
    """(total duration, sample count, first sample's flags or None for the default)."""
    flags, count = _TWO_U32.unpack_from(moof, body)
    pos = body + 8 + (4 if flags & 0x001 else 0)  # data_offset
    first_flags: int | None = None
    if flags & 0x004:
        first_flags = _U32.unpack_from(moof, pos)[0]
        pos += 4
    if not count:
        return 0, 0, first_flags
    stride = bin(flags & 0xF00).count("1")  # per-sample duration, size, flags, cts: 4 bytes each
    if first_flags is None and flags & 0x400:
        first_flags = _U32.unpack_from(moof, pos + 4 * bin(flags & 0x300).count("1"))[0]
    if flags & 0x100:  # per-sample durations (a camera's jittery clock): the first field
        values = struct.unpack_from(f">{count * stride}I", moof, pos)
        return sum(values[0::stride]), count, first_flags
    if pos + 4 * stride * count > len(moof):
        raise ValueError("trun overruns its moof")
    return default_duration * count, count, first_flags


def read_index(path: Path | str, *, size: int | None = None) -> Fmp4Index:
    """Index one fMP4 file (its first `size` bytes when given, e.g. from a `stat` just done).

    Raises FileNotFoundError, or MediaError when the file is not a fragmented MP4.
    """
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        try:
            return _index(fd, os.fstat(fd).st_size if size is None else size)
        except (ValueError, struct.error, UnicodeDecodeError) as exc:
            raise _bad(path, f"malformed box: {exc}") from exc
        except _NotFmp4 as exc:
            raise _bad(path, str(exc)) from exc
    finally:
        os.close(fd)


class _NotFmp4(Exception):
    pass


def _index(fd: int, size: int) -> Fmp4Index:
    """Walk the top-level boxes. Hot path of a cold playlist (one call per file): box headers
    are read through an 8 KiB window (one pread covers ftyp, moov, a moof and an mdat header)
    and parsed in place."""
    tracks: tuple[Track, ...] = ()
    by_id: dict[int, Track] = {}
    main: Track | None = None
    codec_key = init_digest = b""
    init_size = 0
    fragments: list[Fragment] = []
    moof: tuple[int, tuple[TrackRun, ...]] | None = None
    origin = -1
    next_decode = 0
    truncated = False
    buf, base = b"", 0
    pos = 0
    while pos < size:
        at = pos - base
        if at < 0 or at + 16 > len(buf):
            buf, base, at = os.pread(fd, _WINDOW, pos), pos, 0
        if len(buf) - at < 8:
            truncated = True
            break
        box_size, kind = _HEADER.unpack_from(buf, at)
        header_size = 8
        if box_size == 1:
            if len(buf) - at < 16:
                truncated = True
                break
            box_size, header_size = _U64.unpack_from(buf, at + 8)[0], 16
        if box_size < 8 or pos + box_size > size:  # 0 ("up to the end"): a writer that died
            truncated = True
            break
        if kind == b"moof" or kind == b"moov":
            if box_size > _MAX_META_BOX:
                raise _NotFmp4(f"{kind.decode()} too large")
            if at + box_size > len(buf):
                buf, base, at = os.pread(fd, max(box_size, _WINDOW), pos), pos, 0
                if len(buf) < box_size:
                    truncated = True
                    break
            if kind == b"moov":
                init_size = pos + box_size
                init = buf[at - pos : at + box_size] if at >= pos else os.pread(fd, init_size, 0)
                tracks, codec_key, init_digest = _parse_init(init, pos, header_size)
                by_id = {t.track_id: t for t in tracks}
                main = next((t for t in tracks if t.handler == "vide"), tracks[0])
            elif main is None:
                raise _NotFmp4("moof before moov (not an fMP4 written with empty_moov)")
            else:
                moof = (pos, _parse_moof(buf, at, at + header_size, at + box_size, by_id))
        elif kind == b"mdat" and moof is not None and main is not None:
            offset, runs = moof
            moof = None
            run = next((r for r in runs if r.track_id == main.track_id), None)
            if run is not None and run.samples:  # else nothing to time it by: left out
                decode = run.decode_time if run.decode_time >= 0 else next_decode
                if origin < 0:
                    origin = decode
                next_decode = decode + run.duration
                fragments.append(
                    Fragment(
                        offset,
                        pos + box_size,
                        decode,
                        run.duration,
                        (decode - origin) / main.timescale,
                        run.duration / main.timescale,
                        run.keyframe,
                        runs,
                    )
                )
        pos += box_size
    if main is None:
        raise _NotFmp4("no moov box")
    return Fmp4Index(
        size=size,
        init_size=init_size,
        tracks=tracks,
        main_track_id=main.track_id,
        fragments=tuple(fragments),
        codec_key=codec_key,
        init_digest=init_digest,
        truncated=truncated or moof is not None,
    )


class Fmp4Cache:
    """Indexes by path, reused while the file's (size, mtime_ns) are unchanged; LRU-bounded.

    A file still being written changes size, so it is re-read; closed segments never are.
    Thread-safe: playlists are built in worker threads.
    """

    def __init__(self, max_entries: int = 20_000) -> None:
        self._max = max_entries
        self._entries: OrderedDict[Path, tuple[int, int, Fmp4Index]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def max_entries(self) -> int:
        return self._max

    def index(self, path: Path) -> Fmp4Index:
        st = os.stat(path)
        with self._lock:
            entry = self._entries.get(path)
            if entry is not None and entry[0] == st.st_size and entry[1] == st.st_mtime_ns:
                self._entries.move_to_end(path)
                return entry[2]
        index = read_index(path, size=st.st_size)
        with self._lock:
            self._entries[path] = (st.st_size, st.st_mtime_ns, index)
            self._entries.move_to_end(path)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return index

    def forget(self, path: Path) -> None:
        with self._lock:
            self._entries.pop(path, None)
