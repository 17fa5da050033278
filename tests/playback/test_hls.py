"""HLS playlists over the recorded files: structure, trimming, and real playback over HTTP."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from heldar.errors import NotFound
from heldar.playback.fmp4 import Fmp4Cache, read_index
from heldar.playback.hls import build_playlist
from heldar.playback.models import SegmentRef
from tests.playback.conftest import FPS, T0, Library, Run, Served, copy_run
from tests.playback.media import (
    decode_file,
    decode_hls_with_ffmpeg,
    parse_playlist,
    play_like_mse,
)


def _uri(path: Path) -> str:
    return f"/media/recordings/cam/{path.name}"


def _tags(text: str, tag: str) -> list[str]:
    return [line[len(tag) + 1 :] for line in text.splitlines() if line.startswith(tag + ":")]


def test_playlist_points_into_the_recorded_files(library: Library) -> None:
    segments = [*library.small.segments, *library.later.segments]
    playlist = build_playlist(segments, _uri)
    text = playlist.text
    lines = text.splitlines()

    assert lines[:2] == ["#EXTM3U", "#EXT-X-VERSION:7"]
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in lines and lines[-1] == "#EXT-X-ENDLIST"
    assert _tags(text, "#EXT-X-TARGETDURATION") == ["2"]
    assert _tags(text, "#EXTINF") == ["2.000,"] * 9
    assert lines.count("#EXT-X-DISCONTINUITY") == playlist.discontinuity_count == 8
    assert _tags(text, "#EXT-X-PROGRAM-DATE-TIME") == [
        s.start.isoformat(timespec="milliseconds").replace("+00:00", "Z") for s in segments
    ]
    by_name = {s.path.name: s.path for s in segments}
    for media, segment in zip(parse_playlist(text), segments, strict=True):
        index = read_index(segment.path)
        assert media.uri == _uri(segment.path)
        # the media range is every fragment of the file; its map is byte-identical to its own
        assert (media.offset, media.offset + media.length) == (
            index.init_size,
            index.fragments[-1].end,
        )
        map_uri, map_offset, map_length = media.init
        map_bytes = by_name[Path(map_uri).name].read_bytes()[map_offset : map_offset + map_length]
        assert map_bytes == segment.path.read_bytes()[: index.init_size]
    # one map per run of identical init sections, not one per file
    assert 2 <= len(_tags(text, "#EXT-X-MAP")) < len(segments)
    assert playlist.duration_s == 18.0
    assert (playlist.start, playlist.end) == (T0, library.later.end)
    assert (playlist.file_count, playlist.media_segment_count) == (9, 9)


def test_a_window_is_cut_at_fragment_boundaries(library: Library) -> None:
    playlist = build_playlist(
        library.small.segments,
        _uri,
        start=T0 + timedelta(seconds=3.5),
        end=T0 + timedelta(seconds=6.2),
    )
    # keyframe fragments: [3,4) of file 1, all of file 2, [6,7) of file 3
    assert playlist.start == T0 + timedelta(seconds=3)
    assert playlist.end == T0 + timedelta(seconds=7)
    assert playlist.duration_s == 4.0
    assert _tags(playlist.text, "#EXTINF") == ["1.000,", "2.000,", "1.000,"]


def test_fragments_are_grouped_up_to_the_media_segment_length(library: Library) -> None:
    segment = library.small.segments[0]
    playlist = build_playlist([segment], _uri, max_media_segment_s=1.0)
    index = read_index(segment.path)
    media = parse_playlist(playlist.text)
    assert [(m.offset, m.offset + m.length) for m in media] == [
        (f.offset, f.end) for f in index.fragments
    ]
    assert _tags(playlist.text, "#EXT-X-TARGETDURATION") == ["1"]


@pytest.mark.parametrize("bad", ['/media/a"b.mp4', "/media/a\nb.mp4", "", "/media/\x00"])
def test_a_uri_that_could_break_the_playlist_is_refused(library: Library, bad: str) -> None:
    with pytest.raises(ValueError):
        build_playlist(library.small.segments[:1], lambda _path: bad)


def test_vanished_or_unreadable_files_are_skipped(library: Library, tmp_path: Path) -> None:
    run = copy_run(library.small, tmp_path)
    run.segments[1].path.unlink()
    run.segments[2].path.write_bytes(b"garbage" * 100)

    playlist = build_playlist(run.segments, _uri, cache=Fmp4Cache())

    assert playlist.skipped == (run.segments[1].path, run.segments[2].path)
    assert playlist.file_count == 4
    for segment in run.segments:
        segment.path.unlink(missing_ok=True)
    with pytest.raises(NotFound):
        build_playlist(run.segments, _uri)


def _publish(served: Served, runs: list[Run]) -> list[SegmentRef]:
    """Copy recordings under the server root, where `_uri` points."""
    media = served.root / "media" / "recordings" / "cam"
    media.mkdir(parents=True)
    segments = []
    for run in runs:
        segments += copy_run(run, media).segments
    return segments


def _serve_playlist(served: Served, segments: list[SegmentRef]) -> str:
    playlist = build_playlist(segments, _uri)
    (served.root / "session.m3u8").write_text(playlist.text)
    return f"{served.url}/session.m3u8"


def test_ffmpeg_plays_the_playlist_over_http_end_to_end(
    library: Library, http_root: Served
) -> None:
    runs = [library.small, library.later]
    url = _serve_playlist(http_root, _publish(http_root, runs))

    packets, frames, duration = decode_hls_with_ffmpeg(url)

    recorded = sum(run.frames for run in runs)
    assert packets == frames == recorded
    assert duration == pytest.approx(recorded / FPS, abs=0.1)
    assert http_root.handler.ranges_served >= 2 * len(runs)  # byte ranges, not whole files


def test_an_mse_style_player_plays_across_a_change_of_resolution(
    library: Library, http_root: Served
) -> None:
    runs = [library.small, library.later, library.large]
    url = _serve_playlist(http_root, _publish(http_root, runs))

    sequences = play_like_mse(url)

    files = [(run.width, run.height) for run in runs for _ in run.segments]
    assert [seq.sizes for seq in sequences] == [{size} for size in files]
    assert [seq.frames for seq in sequences] == [2 * FPS] * len(files)


def test_a_recording_with_continuous_timestamps_needs_no_discontinuity(
    library: Library, http_root: Served, tmp_path: Path
) -> None:
    media = http_root.root / "media" / "recordings" / "cam"
    media.mkdir(parents=True)
    for segment in library.continuous.segments:
        shutil.copyfile(segment.path, media / segment.path.name)
    segments = [
        SegmentRef(media / s.path.name, s.start, s.duration_s) for s in library.continuous.segments
    ]
    url = _serve_playlist(http_root, segments)
    text = (http_root.root / "session.m3u8").read_text()
    assert "#EXT-X-DISCONTINUITY" not in text
    assert len(_tags(text, "#EXT-X-MAP")) == 1

    # ffmpeg's HLS demuxer needs no help when timestamps continue across files
    decoded = decode_file(url, options={"protocol_whitelist": "http,tcp"})

    assert decoded.frames == library.continuous.frames
    assert decoded.times == sorted(decoded.times)
    assert decoded.times[-1] - decoded.times[0] == pytest.approx(8.0 - 1 / FPS, abs=1e-3)
