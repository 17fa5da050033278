"""Clip export with the real ffmpeg: coverage, gaps, discontinuities, torn files, temp names."""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
from datetime import timedelta
from pathlib import Path

import av
import pytest

from heldar.errors import InvalidInput, MediaError, NotFound
from heldar.ffmpeg.binary import find_ffmpeg
from heldar.playback.clips import PARTIAL_SUFFIX, export_clip, remove_partial_exports
from heldar.playback.fmp4 import read_index
from heldar.playback.models import Gap
from tests.playback.conftest import FPS, T0, Library, copy_run, record_run
from tests.playback.media import decode_file, top_level_boxes
from tests.support.waiting import eventually

FFMPEG = find_ffmpeg()


async def test_a_clip_covers_the_window_from_the_keyframe_before_it(
    library: Library, tmp_path: Path
) -> None:
    out = tmp_path / "clip.mp4"
    result = await export_clip(
        library.small.segments,
        T0 + timedelta(seconds=3.5),
        T0 + timedelta(seconds=9.2),
        out,
        ffmpeg=FFMPEG,
    )

    # GOPs of 1 s: from the keyframe at 3 s to the end of the GOP holding 9.2 s
    assert (result.start, result.end) == (T0 + timedelta(seconds=3), T0 + timedelta(seconds=10))
    assert result.covered_seconds == 7.0
    assert (result.segment_count, result.parts, result.gaps) == (4, 1, ())
    assert result.size_bytes == out.stat().st_size > 0
    assert sorted(os.listdir(tmp_path)) == ["clip.mp4"]
    decoded = decode_file(out)
    assert decoded.codec == "h264"
    assert decoded.frames == 7 * FPS
    steps = {round(b - a, 6) for a, b in itertools.pairwise(decoded.times)}
    assert steps == {round(1 / FPS, 6)}  # one continuous timeline across the four files
    boxes = top_level_boxes(out)
    assert boxes.index("moov") < boxes.index("mdat")  # +faststart
    with av.open(str(out)) as container:
        assert next(container.decode(video=0)).key_frame


async def test_a_clip_across_a_gap_reports_it(library: Library, tmp_path: Path) -> None:
    small, later = library.small, library.later
    result = await export_clip(
        [*small.segments, *later.segments],
        T0 + timedelta(seconds=8),
        later.segments[0].start + timedelta(seconds=4),
        tmp_path / "clip.mp4",
        ffmpeg=FFMPEG,
    )

    assert result.gaps == (Gap(small.end, later.segments[0].start),)
    assert result.gaps[0].seconds == 30.0
    assert result.covered_seconds == 8.0  # the recorded seconds, the hole squeezed out
    assert decode_file(result.path).frames == 8 * FPS


async def test_a_clip_across_a_change_of_codec_parameters(library: Library, tmp_path: Path) -> None:
    later, large = library.later, library.large
    result = await export_clip(
        [*later.segments, *large.segments],
        later.segments[0].start,
        large.end,
        tmp_path / "clip.mp4",
        ffmpeg=FFMPEG,
    )

    assert result.parts == 2
    assert result.gaps == ()  # 2 s apart is not a gap
    decoded = decode_file(result.path)
    assert decoded.sizes == {(320, 180), (640, 360)}
    assert decoded.frames == later.frames + large.frames
    assert decoded.times == sorted(decoded.times)
    assert sorted(os.listdir(tmp_path)) == ["clip.mp4"]  # part files are gone


async def test_a_torn_last_segment_is_exported_up_to_its_last_whole_fragment(
    library: Library, tmp_path: Path
) -> None:
    run = copy_run(library.small, tmp_path / "rec")
    last = run.segments[-1].path
    cut = read_index(last).fragments[-1].end - 500
    last.write_bytes(last.read_bytes()[:cut])

    result = await export_clip(run.segments, T0, run.end, tmp_path / "clip.mp4", ffmpeg=FFMPEG)

    assert result.covered_seconds == 11.0
    assert decode_file(result.path).frames == 11 * FPS


async def test_b_frames_and_audio_are_copied(tmp_path: Path) -> None:
    run = record_run(tmp_path / "rec", start=T0, count=3, bframes=2, audio=True)

    result = await export_clip(run.segments, T0, run.end, tmp_path / "clip.mp4", ffmpeg=FFMPEG)

    with av.open(str(result.path)) as container:
        assert container.streams.audio[0].codec_context.name == "aac"
        audio_s = float(container.streams.audio[0].duration * container.streams.audio[0].time_base)
    assert audio_s == pytest.approx(6.0, abs=0.1)
    assert decode_file(result.path).frames == run.frames


async def test_no_footage_or_an_empty_window_is_refused(library: Library, tmp_path: Path) -> None:
    segments = library.small.segments
    with pytest.raises(NotFound):
        await export_clip(
            segments,
            T0 - timedelta(hours=1),
            T0 - timedelta(minutes=1),
            tmp_path / "c.mp4",
            ffmpeg=FFMPEG,
        )
    with pytest.raises(InvalidInput):
        await export_clip(segments, T0, T0, tmp_path / "c.mp4", ffmpeg=FFMPEG)
    assert os.listdir(tmp_path) == []


async def test_a_failing_ffmpeg_leaves_nothing_behind(library: Library, tmp_path: Path) -> None:
    failing = shutil.which("false")
    assert failing
    with pytest.raises(MediaError):
        await export_clip(
            library.small.segments, T0, library.small.end, tmp_path / "c.mp4", ffmpeg=failing
        )
    assert os.listdir(tmp_path) == []


async def test_a_cancelled_export_leaves_no_file_and_no_process(
    library: Library, tmp_path: Path
) -> None:
    """The output exists only under a temporary name until ffmpeg is done; a cancellation
    (a kill of the kernel looks the same to the file system) never leaves a half clip."""
    clips = tmp_path / "clips"
    clips.mkdir()
    pid_file = tmp_path / "ffmpeg.pid"
    stuck = tmp_path / "stuck-ffmpeg"
    stuck.write_text(
        "#!/bin/sh\n"
        f"echo $$ > {pid_file}\n"
        'for last; do :; done\necho half-written > "$last"\n'
        "exec sleep 30\n"  # never reads stdin: the export blocks writing to it
    )
    stuck.chmod(0o755)
    out = clips / "clip.mp4"
    task = asyncio.create_task(
        export_clip(library.small.segments, T0, library.small.end, out, ffmpeg=str(stuck))
    )

    partial = await eventually(
        lambda: [p for p in clips.iterdir() if p.name.endswith(PARTIAL_SUFFIX)],
        timeout=10,
        what="the temporary output",
    )
    assert partial[0].name.startswith(".clip.mp4.")
    assert not out.exists()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert os.listdir(clips) == []
    pid = int(pid_file.read_text())
    assert not Path(f"/proc/{pid}").exists()  # killed and reaped


def test_leftovers_of_killed_exports_are_removed(tmp_path: Path) -> None:
    (tmp_path / f".clip.mp4.abc{PARTIAL_SUFFIX}").write_bytes(b"half")
    (tmp_path / f".clip.mp4.abc.p0{PARTIAL_SUFFIX}").write_bytes(b"part")
    (tmp_path / "done.mp4").write_bytes(b"whole")

    removed = remove_partial_exports(tmp_path)

    assert len(removed) == 2
    assert os.listdir(tmp_path) == ["done.mp4"]
