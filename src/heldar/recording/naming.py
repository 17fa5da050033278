"""Segment file names: `YYYYmmdd_HHMMSS.mp4` (UTC second the segment opened), optionally with a
`-<run>` suffix for runs started while the wall clock was behind existing names."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

_NAME = re.compile(r"^(\d{8}_\d{6})(?:-[0-9a-f]{1,16})?\.mp4$")


def segment_start(name: str) -> datetime | None:
    """The UTC start encoded in a segment file name, or None if it is not one of ours."""
    match = _NAME.match(name)
    if match is None:
        return None
    try:
        return datetime.strptime(match.group(1), "%Y%m%d_%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def newest_segment_start(directory: Path) -> datetime | None:
    """The newest start among the segment names in `directory` (None when empty or absent)."""
    newest: datetime | None = None
    try:
        entries = list(directory.iterdir())
    except FileNotFoundError:
        return None
    for entry in entries:
        start = segment_start(entry.name)
        if start is not None and (newest is None or start > newest):
            newest = start
    return newest
