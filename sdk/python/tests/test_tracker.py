"""The IoU tracker's promises, as properties: stable ids, new ids, ids never reused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from heldar_worker.analyzers.boxes import Box, iou, nms
from heldar_worker.analyzers.tracker import IoUTracker

coords = st.floats(0.0, 0.7, allow_nan=False)
sizes = st.floats(0.05, 0.3, allow_nan=False)
boxes = st.tuples(coords, coords, sizes, sizes)


@given(
    box=boxes, moves=st.lists(st.tuples(st.floats(-0.1, 0.1), st.floats(-0.1, 0.1)), max_size=20)
)
def test_a_box_moving_a_little_keeps_its_id(box: Box, moves: list[tuple[float, float]]) -> None:
    tracker = IoUTracker(iou_threshold=0.3, prefix="t")
    (first,) = tracker.update([box])
    x, y, w, h = box
    for dx, dy in moves:
        # A step of at most a tenth of the box keeps IoU ≥ 0.68, well above the threshold.
        x, y = x + dx * w, y + dy * h
        assert tracker.update([(x, y, w, h)]) == [first]


@given(box=boxes)
def test_a_far_box_gets_a_new_id(box: Box) -> None:
    tracker = IoUTracker(prefix="t")
    (first,) = tracker.update([box])
    x, y, w, h = box
    far = (x + w + 0.01, y, w, h)  # does not overlap at all
    assert iou(box, far) == 0
    (second,) = tracker.update([far])
    assert second != first


@given(
    frames=st.lists(st.lists(boxes, max_size=5), max_size=30),
    max_missed=st.integers(0, 3),
)
def test_ids_are_never_reused(frames: list[list[Box]], max_missed: int) -> None:
    tracker = IoUTracker(max_missed=max_missed, prefix="t")
    last_seen: dict[str, int] = {}
    for index, frame in enumerate(frames):
        ids = tracker.update(frame)
        assert len(ids) == len(frame)
        assert len(set(ids)) == len(ids)  # one id per object within a frame
        for track_id in ids:
            if track_id in last_seen:
                # Only a track still alive (missed ≤ max_missed frames) may come back.
                assert index - last_seen[track_id] - 1 <= max_missed
            last_seen[track_id] = index
    issued = [int(track_id.split("-")[1]) for track_id in last_seen]
    assert sorted(issued) == list(range(1, len(issued) + 1))


def test_labels_keep_tracks_apart() -> None:
    tracker = IoUTracker(prefix="t")
    box = (0.1, 0.1, 0.2, 0.2)
    (person,) = tracker.update([box], ["person"])
    (car,) = tracker.update([box], ["car"])
    assert person != car


def test_two_trackers_do_not_share_ids() -> None:
    box = (0.1, 0.1, 0.2, 0.2)
    assert IoUTracker().update([box]) != IoUTracker().update([box])


def test_tracker_arguments_are_checked() -> None:
    with pytest.raises(ValueError):
        IoUTracker(iou_threshold=0)
    with pytest.raises(ValueError):
        IoUTracker().update([(0, 0, 1, 1)], ["a", "b"])


def test_nms_keeps_the_best_of_overlapping_boxes() -> None:
    found = [(10, 10, 50, 100), (12, 12, 50, 100), (200, 10, 50, 100)]
    assert nms(found, [0.5, 0.9, 0.4], 0.45) == [1, 2]
    assert nms([], [], 0.5) == []
