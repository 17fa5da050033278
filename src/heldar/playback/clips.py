"""Clip export: one stream-copied MP4 over a time window, without probing every segment.

The window's fragments go to ONE ffmpeg on stdin as a single fMP4 stream (init section, then
every fragment with its tfdt shifted to continue the previous file); a change of codec
parameters splits it into parts joined by one concat ffmpeg. Temp name, fsync, rename.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import secrets
import signal
import struct
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

from heldar.errors import InvalidInput, MediaError, NotFound
from heldar.ffmpeg.process import FfmpegProcess
from heldar.playback.coverage import DEFAULT_GAP_THRESHOLD_S, Span, find_gaps, spans_for
from heldar.playback.fmp4 import Fmp4Cache, Fmp4Index, read_index
from heldar.playback.models import ClipResult, SegmentRef

log = logging.getLogger(__name__)

PARTIAL_SUFFIX = ".partial"
"""Every file an export writes before its final rename ends in this (and starts with a dot)."""

_U32_MAX = 0xFFFF_FFFF
_PIPE_SIZE = 1 << 20


async def export_clip(
    segments: Sequence[SegmentRef],
    start: datetime,
    end: datetime,
    out_path: Path,
    *,
    ffmpeg: str,
    cache: Fmp4Cache | None = None,
    gap_threshold_s: float = DEFAULT_GAP_THRESHOLD_S,
) -> ClipResult:
    """Export [start, end) of `segments` as one MP4 at `out_path` (stream copy, +faststart).

    The clip starts at the keyframe at or before `start` and ends with the fragment (GOP) that
    contains `end`. Raises InvalidInput for an empty window, NotFound when no recorded footage
    overlaps it, MediaError when ffmpeg fails. `out_path`'s directory must exist; nothing but
    `out_path` is left in it, whatever happens (cancellation included).
    """
    if end <= start:
        raise InvalidInput("the clip must end after it starts", code="invalid_range")
    spans = await asyncio.to_thread(_plan, segments, start, end, cache)
    if not spans:
        raise NotFound("no recorded footage in the requested range", code="no_footage")
    parts = _split_by_codec(spans)
    stem = f".{out_path.name}.{secrets.token_hex(6)}"
    tmp = out_path.with_name(stem + PARTIAL_SUFFIX)
    scratch = [tmp]
    try:
        metadata = ["-metadata", f"creation_time={_rfc3339(spans[0].start)}"]
        if len(parts) == 1:
            await _remux_stdin(ffmpeg, parts[0], [*metadata, *_OUTPUT, str(tmp)])
        else:
            inputs = [out_path.with_name(f"{stem}.p{n}{PARTIAL_SUFFIX}") for n in range(len(parts))]
            listing = out_path.with_name(f"{stem}.list{PARTIAL_SUFFIX}")
            scratch += [*inputs, listing]
            for part, path in zip(parts, inputs, strict=True):
                await asyncio.to_thread(_write_part, part, path)
            listing.write_text(_concat_list(inputs))
            argv = [
                *_HEAD,
                *("-f", "concat", "-safe", "0", "-protocol_whitelist", "file"),
                *("-i", str(listing)),
                *metadata,
                *_OUTPUT,
                str(tmp),
            ]
            await _run(ffmpeg, argv)
        await asyncio.to_thread(_fsync, tmp)
        tmp.replace(out_path)
    finally:
        for path in scratch:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
    used = [span.segment for span in spans]
    return ClipResult(
        path=out_path,
        start=spans[0].start,
        end=spans[-1].end,
        covered_seconds=sum(span.duration_s for span in spans),
        gaps=find_gaps(used, start, end, threshold_s=gap_threshold_s),
        size_bytes=out_path.stat().st_size,
        segment_count=len(spans),
        parts=len(parts),
    )


def remove_partial_exports(directory: Path) -> list[Path]:
    """Delete what exports killed mid-way left behind (start-up reconciliation)."""
    removed = []
    for path in directory.glob(f".*{PARTIAL_SUFFIX}"):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    return removed


_HEAD = ["-nostdin", "-hide_banner", "-loglevel", "error"]
_OUTPUT = ["-map", "0", "-c", "copy", "-movflags", "+faststart", "-f", "mp4"]


def _plan(
    segments: Sequence[SegmentRef], start: datetime, end: datetime, cache: Fmp4Cache | None
) -> list[Span]:
    files: list[tuple[SegmentRef, Fmp4Index]] = []
    for segment in segments:
        try:
            index = read_index(segment.path) if cache is None else cache.index(segment.path)
        except FileNotFoundError:
            continue  # deleted since the query: its time becomes a hole
        except MediaError as exc:
            log.warning("clip export skips %s: %s", segment.path, exc.detail)
            continue
        files.append((segment, index))
    return spans_for(files, start, end)


def _split_by_codec(spans: list[Span]) -> list[list[Span]]:
    parts: list[list[Span]] = []
    for span in spans:
        if parts and parts[-1][-1].index.codec_key == span.index.codec_key:
            parts[-1].append(span)
        else:
            parts.append([span])
    return parts


def _part_stream(part: Sequence[Span]) -> Iterator[bytes]:
    """One continuous fMP4 stream: the first file's init section, then every span's fragments
    with each track's tfdt shifted so that the span starts where the previous one ended."""
    first = part[0]
    yield _pread(first.segment.path, 0, first.index.init_size)
    out = 0  # output decode time of the next span, in main-track ticks
    main_scale = first.index.main_timescale
    for span in part:
        yield _shifted_fragments(span, out, main_scale)
        out += sum(f.duration for f in span.fragments)


def _shifted_fragments(span: Span, out: int, main_scale: int) -> bytes:
    fragments = span.fragments
    base = fragments[0].offset
    data = bytearray(_pread(span.segment.path, base, fragments[-1].end - base))
    delta = out - fragments[0].decode_time  # main-track ticks
    for fragment in fragments:
        for run in fragment.runs:
            if run.tfdt_at < 0:
                raise MediaError(
                    f"{span.segment.path.name}: fragment without tfdt", code="bad_segment"
                )
            track = span.index.track(run.track_id)
            scale = track.timescale if track else main_scale
            value = max(0, run.decode_time + (delta * scale + main_scale // 2) // main_scale)
            at = fragment.offset - base + run.tfdt_at + 12  # box header 8, version+flags 4
            if run.tfdt_version == 1:
                struct.pack_into(">Q", data, at, value)
            elif value <= _U32_MAX:
                struct.pack_into(">I", data, at, value)
            else:
                raise MediaError("clip too long for 32-bit fragment times", code="clip_too_long")
    return bytes(data)


def _pread(path: Path, offset: int, length: int) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError as exc:  # retention won the race: the caller should lock first
        raise MediaError(f"{path.name} vanished during the export", code="bad_segment") from exc
    try:
        data = os.pread(fd, length, offset)
    finally:
        os.close(fd)
    if len(data) != length:
        raise MediaError(f"{path.name}: shorter than indexed", code="bad_segment")
    return data


def _write_part(part: Sequence[Span], path: Path) -> None:
    with path.open("xb") as out:
        for chunk in _part_stream(part):
            out.write(chunk)


def _concat_list(paths: Sequence[Path]) -> str:
    def quoted(path: Path) -> str:
        return "'" + str(path.resolve()).replace("'", "'\\''") + "'"

    return "ffconcat version 1.0\n" + "".join(f"file {quoted(p)}\n" for p in paths)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


async def _run(ffmpeg: str, argv: list[str]) -> None:
    process = await FfmpegProcess.spawn([ffmpeg, *argv])
    try:
        exit_ = await process.wait()
    finally:
        if process.returncode is None:
            await process.stop(grace_s=2.0, sig=signal.SIGKILL)
    _check(exit_.returncode, exit_.stderr_tail)


async def _remux_stdin(ffmpeg: str, part: Sequence[Span], output: list[str]) -> None:
    """ffmpeg reads the part's fMP4 stream on stdin: no file is opened, nothing is probed."""
    argv = [*_HEAD, "-f", "mp4", "-protocol_whitelist", "pipe", "-i", "pipe:0", *output]
    process = await FfmpegProcess.spawn([ffmpeg, *argv], feed_stdin=True)
    try:
        stdin = process.stdin
        assert stdin is not None
        _widen_pipe(stdin)
        try:
            stream = _part_stream(part)
            while chunk := await asyncio.to_thread(next, stream, b""):
                stdin.write(chunk)
                await stdin.drain()
            stdin.close()
            await stdin.wait_closed()
        except (BrokenPipeError, ConnectionResetError):
            pass  # ffmpeg stopped reading: its exit status and stderr say why
        exit_ = await process.wait()
    finally:
        if process.returncode is None:
            await process.stop(grace_s=2.0, sig=signal.SIGKILL)
    _check(exit_.returncode, exit_.stderr_tail)


def _widen_pipe(writer: asyncio.StreamWriter) -> None:
    """1 MiB instead of 64 KiB of pipe: far fewer wake-ups per fragment (Linux only)."""
    pipe = writer.transport.get_extra_info("pipe")
    setsize = getattr(fcntl, "F_SETPIPE_SZ", None)
    if pipe is not None and setsize is not None:
        # ValueError: the child already exited and the pipe is closed (its status says why)
        with contextlib.suppress(OSError, ValueError):
            fcntl.fcntl(pipe.fileno(), setsize, _PIPE_SIZE)


def _check(returncode: int, stderr_tail: str) -> None:
    if returncode != 0:
        log.warning("clip export: ffmpeg exited with %d: %s", returncode, stderr_tail)
        raise MediaError("ffmpeg could not export the clip", code="clip_failed")
