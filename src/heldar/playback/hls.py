"""HLS VOD playlists (RFC 8216, version 7) that point into the recorded fMP4 files themselves.

Nothing is remuxed or copied: each file's init section is an `EXT-X-MAP` byte range, its
fragments are `EXT-X-BYTERANGE` media segments, and an `EXT-X-DISCONTINUITY` separates files
(every file's timestamps restart at 0). Building a playlist reads only box headers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from heldar.errors import MediaError, NotFound
from heldar.playback.coverage import Span, spans_for
from heldar.playback.fmp4 import Fmp4Cache, Fmp4Index, Fragment, read_index
from heldar.playback.models import Playlist, SegmentRef

MAX_MEDIA_SEGMENT_S = 6.0
"""Fragments of one file are grouped into media segments of about this length (Apple's
recommendation); a 2 s recording file is one media segment, a 60 s file about ten."""

UriFor = Callable[[Path], str]


class _MediaSegment(NamedTuple):
    offset: int
    end: int
    duration_s: float


def build_playlist(
    segments: Sequence[SegmentRef],
    uri_for: UriFor,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    cache: Fmp4Cache | None = None,
    max_media_segment_s: float = MAX_MEDIA_SEGMENT_S,
) -> Playlist:
    """An HLS VOD playlist over `segments`, cut at fragment boundaries to [start, end).

    `uri_for` maps a recorded file to the URI the player fetches it by (a route the server
    owns, never user input). Files that vanished or cannot be parsed are left out and listed in
    `skipped`. Raises NotFound when nothing playable remains. Blocking: call it in a thread.
    """
    files: list[tuple[SegmentRef, Fmp4Index]] = []
    skipped: list[Path] = []
    for segment in segments:
        try:
            index = read_index(segment.path) if cache is None else cache.index(segment.path)
        except (FileNotFoundError, MediaError):
            skipped.append(segment.path)
            continue
        files.append((segment, index))
    spans = spans_for(files, start, end)
    if not spans:
        raise NotFound("no recorded footage in the requested range", code="no_footage")

    body: list[str] = []
    media_segments = discontinuities = 0
    total_s = longest = 0.0
    current_map = b""
    previous: Span | None = None
    for span in spans:
        uri = _checked_uri(uri_for(span.segment.path))
        continuous = previous is not None and _continues(previous, span)
        if previous is not None and not continuous:
            body.append("#EXT-X-DISCONTINUITY")
            discontinuities += 1
        if span.index.init_digest != current_map and not continuous:
            # byte-identical init sections (every file of one ffmpeg run but its first) share
            # one map, so a player fetches and applies it once per run, not once per file
            current_map = span.index.init_digest
            body.append(f'#EXT-X-MAP:URI="{uri}",BYTERANGE="{span.index.init_size}@0"')
        body.append(f"#EXT-X-PROGRAM-DATE-TIME:{_program_date_time(span.start)}")
        for media in _media_segments(span.fragments, max_media_segment_s):
            body.append(f"#EXTINF:{media.duration_s:.3f},")
            body.append(f"#EXT-X-BYTERANGE:{media.end - media.offset}@{media.offset}")
            body.append(uri)
            media_segments += 1
            total_s += media.duration_s
            longest = max(longest, media.duration_s)
        previous = span
    head = [
        "#EXTM3U",
        "#EXT-X-VERSION:7",
        f"#EXT-X-TARGETDURATION:{max(1, int(longest + 0.5))}",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXT-X-INDEPENDENT-SEGMENTS",
    ]
    return Playlist(
        text="\n".join([*head, *body, "#EXT-X-ENDLIST", ""]),
        start=spans[0].start,
        end=spans[-1].end,
        duration_s=total_s,
        file_count=len(spans),
        media_segment_count=media_segments,
        discontinuity_count=discontinuities,
        skipped=tuple(skipped),
    )


def _continues(previous: Span, span: Span) -> bool:
    """True when `span` carries on `previous`'s timestamps with the same codec parameters.

    Files written with `-reset_timestamps 1` restart at 0, so every file boundary is a
    discontinuity; files of one run written without it continue, and need none.
    """
    if previous.index.codec_key != span.index.codec_key:
        return False
    last = previous.fragments[-1]
    return span.fragments[0].decode_time == last.decode_time + last.duration


def _media_segments(fragments: Sequence[Fragment], max_s: float) -> list[_MediaSegment]:
    """Consecutive fragments grouped up to `max_s`; each group starts with a keyframe."""
    total = sum(f.duration_s for f in fragments)
    if total <= max_s + 1e-6:  # a short recording file is one media segment
        return [_MediaSegment(fragments[0].offset, fragments[-1].end, total)]
    groups: list[_MediaSegment] = []
    for fragment in fragments:
        last = groups[-1] if groups else None
        if last is not None and (
            not fragment.keyframe or last.duration_s + fragment.duration_s <= max_s + 1e-6
        ):
            groups[-1] = _MediaSegment(
                last.offset, fragment.end, last.duration_s + fragment.duration_s
            )
        else:
            groups.append(_MediaSegment(fragment.offset, fragment.end, fragment.duration_s))
    return groups


def _program_date_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _checked_uri(uri: str) -> str:
    """A URI goes into a quoted attribute on its own line: ASCII, no quote, no control char."""
    if not uri or '"' in uri or not uri.isascii() or not uri.isprintable():
        raise ValueError(f"unusable playlist URI: {uri!r}")
    return uri
