"""The pre-roll buffer of one event camera: prune what nobody asked for, promote what a trigger
covers. See docs/design/recording.md §Pre-roll for the procedure and its crash behaviour."""

from __future__ import annotations

import logging
import os
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from heldar.recording.models import BUFFER_SEGMENT_SECONDS, SegmentClosed
from heldar.recording.naming import segment_start

log = logging.getLogger(__name__)

START_MARGIN = timedelta(seconds=1)


@dataclass(frozen=True)
class Buffered:
    path: Path
    start: datetime
    end: datetime


class PreRollBuffer:
    """Closed buffer segments of one camera, oldest first."""

    def __init__(self, buffer_dir: Path, recordings_dir: Path, pre_roll_s: int) -> None:
        self.buffer_dir = buffer_dir
        self.recordings_dir = recordings_dir
        self.pre_roll = timedelta(seconds=pre_roll_s)
        self._keep = self.pre_roll + timedelta(seconds=2 * BUFFER_SEGMENT_SECONDS)
        self._segments: deque[Buffered] = deque()

    def recover(self, now: datetime) -> int:
        """After a (re)start: keep what is still useful, delete what is too old; count deleted."""
        self._segments.clear()
        found = []
        for path in self.buffer_dir.glob("*.mp4"):
            start = segment_start(path.name)
            if start is None:
                continue
            found.append(Buffered(path, start, start + timedelta(seconds=BUFFER_SEGMENT_SECONDS)))
        self._segments.extend(sorted(found, key=lambda b: b.start))
        return len(self.prune(now))

    def closed(self, segment: SegmentClosed, *, window_end: datetime | None) -> list[Path]:
        """A buffer segment closed. Promote it if a window covers it, else prune. Returns
        the paths that were promoted into recordings/."""
        self._segments.append(Buffered(segment.path, segment.start, segment.end))
        # Segment starts are known to ~1 s (names and ffmpeg's probe buffer): promote one that
        # begins within that margin after the window's end too, so t + post_roll is covered.
        if window_end is not None and segment.start < window_end + START_MARGIN:
            return self.promote(since=segment.start)
        self.prune(segment.end)
        return []

    def promote(self, *, since: datetime) -> list[Path]:
        """Move every buffered segment that ends after `since` into recordings/ (no overwrite)."""
        promoted: list[Path] = []
        remaining: deque[Buffered] = deque()
        self.recordings_dir.mkdir(parents=True, exist_ok=True)
        for item in self._segments:
            if item.end <= since:
                remaining.append(item)
                continue
            target = self.recordings_dir / item.path.name
            try:
                os.link(item.path, target)  # atomic and never overwrites
            except FileExistsError:
                log.error("cannot promote %s: %s already exists", item.path.name, target)  # noqa: TRY400
                remaining.append(item)
                continue
            except FileNotFoundError:
                continue  # pruned by someone else, or lost in a crash: nothing to move
            item.path.unlink(missing_ok=True)
            promoted.append(target)
        self._segments = remaining
        return promoted

    def prune(self, now: datetime) -> list[Path]:
        """Delete buffered segments that ended before `now − pre_roll − 2 segments`."""
        horizon = now - self._keep
        deleted: list[Path] = []
        while self._segments and self._segments[0].end < horizon:
            item = self._segments.popleft()
            item.path.unlink(missing_ok=True)
            deleted.append(item.path)
        return deleted

    def __len__(self) -> int:
        return len(self._segments)
