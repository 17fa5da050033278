"""Snapshots from recorded segments: the nearest frame, encoded as JPEG in-process."""

from __future__ import annotations

import io
import math
from pathlib import Path

import av
import pytest

from heldar.errors import MediaError
from heldar.playback.fmp4 import read_index
from heldar.playback.snapshots import snapshot_jpeg, take_snapshot
from tests.playback.conftest import FPS, T0, Library, record_run


def _frames(path: Path) -> list[tuple[float, bytes]]:
    """(time from the first frame, luma plane) of every frame, decoded from the start."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [(float(f.pts * stream.time_base), _luma(f)) for f in container.decode(stream)]
    return [(t - frames[0][0], luma) for t, luma in frames]


def _luma_of_jpeg(jpeg: bytes) -> tuple[tuple[int, int], bytes]:
    with av.open(io.BytesIO(jpeg), format="mjpeg") as container:
        frame = next(container.decode(video=0))
        return (frame.width, frame.height), _luma(frame)


def _luma(frame: av.VideoFrame) -> bytes:
    """The Y plane without its line padding (both sources are YUV 4:2:0)."""
    plane = frame.planes[0]
    data = bytes(plane)
    return b"".join(
        data[row * plane.line_size : row * plane.line_size + frame.width]
        for row in range(frame.height)
    )


def _distance(a: bytes, b: bytes) -> int:
    return sum(abs(x - y) for x, y in zip(a[::97], b[::97], strict=True))


@pytest.mark.parametrize("offset", [0.0, 0.52, 1.0, 1.04, 1.5, 1.97])
def test_the_snapshot_is_the_frame_nearest_the_offset(library: Library, offset: float) -> None:
    path = library.small.segments[2].path
    frames = _frames(path)
    nearest = min(range(len(frames)), key=lambda i: abs(frames[i][0] - offset))

    shot = take_snapshot(path, offset)

    assert shot.offset_s == pytest.approx(frames[nearest][0], abs=1e-6)
    size, luma = _luma_of_jpeg(shot.jpeg)
    assert size == (shot.width, shot.height) == (320, 180)
    # the picture is that frame's, not a neighbour's (testsrc2 changes every frame)
    distances = [_distance(luma, other) for _, other in frames]
    assert min(range(len(frames)), key=distances.__getitem__) == nearest


def test_past_the_end_or_infinity_gives_the_last_frame(library: Library) -> None:
    path = library.small.segments[0].path
    last = _frames(path)[-1][0]
    assert take_snapshot(path, 30.0).offset_s == pytest.approx(last)
    assert take_snapshot(path, math.inf).offset_s == pytest.approx(last)


def test_quality_trades_size(library: Library) -> None:
    path = library.small.segments[0].path
    small, large = snapshot_jpeg(path, 1.0, quality=20), snapshot_jpeg(path, 1.0, quality=95)
    assert small[:2] == large[:2] == b"\xff\xd8" and small[-2:] == b"\xff\xd9"
    assert len(small) < len(large)


def test_a_torn_segment_still_gives_its_frames(library: Library, tmp_path: Path) -> None:
    source = library.small.segments[0].path
    torn = tmp_path / "torn.mp4"
    torn.write_bytes(source.read_bytes()[: read_index(source).fragments[-1].end - 300])

    shot = take_snapshot(torn, math.inf)

    # "the end" of a file still being written is the end of its last whole fragment (1 s)
    assert 1.0 - 1 / FPS - 1e-6 <= shot.offset_s <= 1.0 + 1e-6


def test_continuous_timestamps_are_measured_from_the_first_frame(library: Library) -> None:
    path = library.continuous.segments[2].path  # its first frame is at 4 s of the run
    assert take_snapshot(path, 0.55).offset_s == pytest.approx(8 / FPS)


def test_bad_requests_and_bad_files(library: Library, tmp_path: Path) -> None:
    path = library.small.segments[0].path
    with pytest.raises(ValueError):
        take_snapshot(path, -1.0)
    with pytest.raises(ValueError):
        take_snapshot(path, 1.0, quality=0)
    with pytest.raises(FileNotFoundError):
        take_snapshot(tmp_path / "missing.mp4", 1.0)
    (tmp_path / "junk.mp4").write_bytes(b"junk" * 100)
    with pytest.raises(MediaError):
        take_snapshot(tmp_path / "junk.mp4", 1.0)


def test_b_frames(tmp_path: Path) -> None:
    run = record_run(tmp_path, start=T0, count=1, bframes=2)
    path = run.segments[0].path
    frames = _frames(path)
    shot = take_snapshot(path, 0.7)
    nearest = min(frames, key=lambda f: abs(f[0] - 0.7))
    assert shot.offset_s == pytest.approx(nearest[0], abs=1e-6)
