"""Reading what playback produced, the way players do: PyAV for files and ffmpeg's HLS demuxer,
and a small RFC 8216 client that fetches byte ranges over HTTP like an MSE player (hls.js)."""

from __future__ import annotations

import io
import re
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin

import av


@dataclass
class Decoded:
    frames: int = 0
    sizes: set[tuple[int, int]] = field(default_factory=set)
    times: list[float] = field(default_factory=list)
    codec: str = ""


def decode_file(source: str | Path | io.BytesIO, **open_args: object) -> Decoded:
    """Every video frame of a file (or stream), with its presentation time."""
    result = Decoded()
    with av.open(source if isinstance(source, io.BytesIO) else str(source), **open_args) as c:  # type: ignore[call-overload]
        stream = c.streams.video[0]
        result.codec = stream.codec_context.name
        for frame in c.decode(stream):
            result.frames += 1
            result.sizes.add((frame.width, frame.height))
            result.times.append(float(frame.pts * stream.time_base))
    return result


def decode_hls_with_ffmpeg(url: str) -> tuple[int, int, float]:
    """Read a playlist with ffmpeg's own HLS demuxer: (packets, decoded frames, duration).

    ffmpeg's mov demuxer flags samples whose timestamps go back (each file after an
    EXT-X-DISCONTINUITY restarts at 0) as "overlapping, discard after decoding"; a player that
    honours discontinuities keeps them, so the flag is dropped here before decoding.
    """
    packets = frames = 0
    with av.open(url, options={"protocol_whitelist": "http,tcp"}) as container:
        stream = container.streams.video[0]
        decoder = stream.codec_context
        duration = container.duration / 1_000_000 if container.duration else 0.0
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            packets += 1
            clean = av.Packet(bytes(packet))
            clean.pts, clean.dts, clean.time_base = packet.pts, packet.dts, packet.time_base
            frames += len(decoder.decode(clean))
        frames += len(decoder.decode(None))
    return packets, frames, duration


@dataclass(frozen=True)
class MediaSegment:
    uri: str
    offset: int
    length: int
    duration_s: float
    init: tuple[str, int, int]  # uri, offset, length
    sequence: int  # discontinuity sequence number


def parse_playlist(text: str) -> list[MediaSegment]:
    segments: list[MediaSegment] = []
    init: tuple[str, int, int] | None = None
    sequence = 0
    duration = 0.0
    byterange: tuple[int, int] | None = None
    for line in text.splitlines():
        if line.startswith("#EXT-X-MAP:"):
            match = re.fullmatch(r'#EXT-X-MAP:URI="([^"]+)",BYTERANGE="(\d+)@(\d+)"', line)
            assert match, line
            init = (match.group(1), int(match.group(3)), int(match.group(2)))
        elif line == "#EXT-X-DISCONTINUITY":
            sequence += 1
        elif line.startswith("#EXTINF:"):
            duration = float(line[len("#EXTINF:") :].rstrip(","))
        elif line.startswith("#EXT-X-BYTERANGE:"):
            length, offset = line[len("#EXT-X-BYTERANGE:") :].split("@")
            byterange = (int(offset), int(length))
        elif line and not line.startswith("#"):
            assert init is not None and byterange is not None, "segment without map or range"
            segments.append(MediaSegment(line, *byterange, duration, init, sequence))
            byterange = None
    return segments


def fetch_range(url: str, offset: int, length: int) -> bytes:
    request = urllib.request.Request(
        url, headers={"Range": f"bytes={offset}-{offset + length - 1}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 206, response.status
        data = response.read()
    assert len(data) == length
    return data


def play_like_mse(playlist_url: str) -> list[Decoded]:
    """Fetch the playlist and every range over HTTP; decode each discontinuity sequence as its
    own stream (init section + its media segments), the way an MSE player re-bases timestamps."""
    with urllib.request.urlopen(playlist_url, timeout=10) as response:
        text = response.read().decode()
    sequences: dict[int, io.BytesIO] = {}
    current_init: dict[int, tuple[str, int, int]] = {}
    for segment in parse_playlist(text):
        buffer = sequences.get(segment.sequence)
        if buffer is None or current_init[segment.sequence] != segment.init:
            buffer = sequences.setdefault(segment.sequence, io.BytesIO())
            uri, offset, length = segment.init
            buffer.write(fetch_range(urljoin(playlist_url, uri), offset, length))
            current_init[segment.sequence] = segment.init
        buffer.write(
            fetch_range(urljoin(playlist_url, segment.uri), segment.offset, segment.length)
        )
    results = []
    for number in sorted(sequences):
        buffer = sequences[number]
        buffer.seek(0)
        results.append(decode_file(buffer, format="mp4"))
    return results


def top_level_boxes(path: Path) -> list[str]:
    """Types of a file's top-level boxes, in order (`+faststart` puts moov before mdat)."""
    data = path.read_bytes()
    kinds, pos = [], 0
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        kinds.append(data[pos + 4 : pos + 8].decode("latin-1"))
        if size == 1:
            size = int.from_bytes(data[pos + 8 : pos + 16], "big")
        if size < 8:
            break
        pos += size
    return kinds
