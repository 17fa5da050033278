"""Real pre-roll: an event camera buffers, a trigger promotes [t − pre_roll, t + post_roll]."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from heldar.recording.models import SegmentClosed
from heldar.recording.naming import segment_start
from heldar.recording.preroll import PreRollBuffer
from heldar.simcam.server import SimCamServer
from tests.recording.conftest import Stack
from tests.recording.media import duration_s
from tests.support.waiting import eventually

T0 = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)


def _segment(directory: Path, offset_s: int) -> SegmentClosed:
    start = T0 + timedelta(seconds=offset_s)
    path = directory / f"{start:%Y%m%d_%H%M%S}.mp4"
    path.write_bytes(b"x" * 10)
    return SegmentClosed("cam", path, "buffer", start, 2.0, 10)


def test_buffer_prunes_to_pre_roll_plus_two_segments(tmp_path: Path) -> None:
    buffer = PreRollBuffer(tmp_path / "buf", tmp_path / "rec", pre_roll_s=6)
    (tmp_path / "buf").mkdir()
    for offset in range(0, 40, 2):
        assert buffer.closed(_segment(tmp_path / "buf", offset), window_end=None) == []
    kept = sorted(p.name for p in (tmp_path / "buf").iterdir())
    # now = 40 s; keep everything that ended within the last 6 + 4 s
    assert kept == [
        f"{T0 + timedelta(seconds=s):%Y%m%d_%H%M%S}.mp4" for s in (28, 30, 32, 34, 36, 38)
    ]
    assert not (tmp_path / "rec").exists()


def test_trigger_promotes_pre_roll_and_the_window(tmp_path: Path) -> None:
    buf, rec = tmp_path / "buf", tmp_path / "rec"
    buf.mkdir()
    buffer = PreRollBuffer(buf, rec, pre_roll_s=6)
    for offset in range(0, 20, 2):
        buffer.closed(_segment(buf, offset), window_end=None)
    trigger_at = T0 + timedelta(seconds=20)
    promoted = buffer.promote(since=trigger_at - timedelta(seconds=6))
    assert [p.name for p in promoted] == [
        f"{T0 + timedelta(seconds=s):%Y%m%d_%H%M%S}.mp4" for s in (14, 16, 18)
    ]
    window_end = trigger_at + timedelta(seconds=5)
    for offset in (20, 22, 24, 26):
        buffer.closed(_segment(buf, offset), window_end=window_end)
    names = sorted(p.name for p in rec.iterdir())
    assert names[-1] == f"{T0 + timedelta(seconds=24):%Y%m%d_%H%M%S}.mp4"  # ends at 26 ≥ t + 5
    assert len(names) == 6
    assert all(not (buf / n).exists() for n in names)


def test_promotion_never_overwrites(tmp_path: Path) -> None:
    buf, rec = tmp_path / "buf", tmp_path / "rec"
    buf.mkdir()
    rec.mkdir()
    buffer = PreRollBuffer(buf, rec, pre_roll_s=6)
    segment = _segment(buf, 0)
    (rec / segment.path.name).write_bytes(b"evidence")
    buffer.closed(segment, window_end=None)
    assert buffer.promote(since=T0 - timedelta(seconds=10)) == []
    assert (rec / segment.path.name).read_bytes() == b"evidence"
    assert segment.path.exists()


def test_recover_drops_stale_files_and_keeps_fresh_ones(tmp_path: Path) -> None:
    buf = tmp_path / "buf"
    buf.mkdir()
    old = _segment(buf, 0).path
    fresh = _segment(buf, 30).path
    (buf / "notes.txt").write_text("not a segment")
    buffer = PreRollBuffer(buf, tmp_path / "rec", pre_roll_s=6)
    assert buffer.recover(T0 + timedelta(seconds=34)) == 1
    assert not old.exists()
    assert fresh.exists()
    assert len(buffer) == 1


def _coverage(paths: list[Path]) -> list[tuple[datetime, datetime]]:
    ranges: list[tuple[datetime, datetime]] = []
    for path in sorted(paths):
        start = segment_start(path.name)
        assert start is not None
        end = start + timedelta(seconds=duration_s(path))
        if ranges and start - ranges[-1][1] <= timedelta(seconds=1):  # names have 1 s resolution
            ranges[-1] = (ranges[-1][0], max(ranges[-1][1], end))
        else:
            ranges.append((start, end))
    return ranges


@pytest.mark.slow
async def test_event_camera_keeps_pre_and_post_roll_around_a_trigger(
    stack: Stack, simcam: SimCamServer
) -> None:
    common = {"record_mode": "event", "pre_roll_seconds": 6, "post_roll_seconds": 5}
    await stack.add("ev", simcam.url(1), **common)
    await stack.add("quiet", simcam.url(2), **common)
    await eventually(
        lambda: stack.recorder.status("ev").segments_written >= 6, timeout=25, what="buffering"
    )
    assert stack.segments("ev") == []  # nothing recorded before a trigger
    result = await stack.recorder.trigger("ev", reason="test")
    assert result.triggered is True
    t = datetime.now(UTC)
    assert result.window_end is not None
    assert result.window_end - t <= timedelta(seconds=5)
    again = await stack.recorder.trigger("ev", reason="test")  # idempotent, never shortens
    assert again.window_end is not None
    assert again.window_end >= result.window_end
    need_from = t - timedelta(seconds=6 - 2)
    need_to = t + timedelta(seconds=5)

    def covered() -> bool:
        ranges = _coverage(stack.segments("ev"))
        return any(a <= need_from and b >= need_to for a, b in ranges)

    # The segment holding t + 5 s is promoted when it closes, one keyframe after it ends.
    try:
        await eventually(covered, timeout=20, interval=0.5, what="pre- and post-roll promoted")
    except AssertionError:
        names = [p.name for p in stack.segments("ev")]
        buffered = [p.name for p in stack.segments("ev", "buffer")]
        raise AssertionError(
            f"t={t:%H:%M:%S.%f} ranges={_coverage(stack.segments('ev'))} "
            f"promoted={names} buffer={buffered}"
        ) from None
    # After the window: back to buffering, nothing more is promoted.
    for _ in range(2):
        count = len(stack.segments("ev"))
        before = stack.recorder.status("ev").segments_written
        await eventually(
            lambda b=before: stack.recorder.status("ev").segments_written >= b + 2,  # type: ignore[misc]
            timeout=10,
        )
    assert len(stack.segments("ev")) == count
    # The untriggered camera kept nothing beyond its bounded buffer.
    assert stack.segments("quiet") == []
    assert len(stack.segments("quiet", "buffer")) <= (6 + 4) // 2 + 2
    noop = await stack.recorder.trigger("quiet")
    assert noop.triggered is True
