"""Which ffmpeg binary Heldar runs.

Order (DESIGN.md §2): an explicit setting (`HELDAR_FFMPEG_BIN`), else `ffmpeg` on PATH, else the
static binary shipped inside the `imageio-ffmpeg` wheel, so `pip install heldar` alone is enough.
"""

from __future__ import annotations

import functools
import os
import shutil
from pathlib import Path

from heldar.errors import ConfigurationError


@functools.cache
def _bundled() -> str | None:
    try:
        import imageio_ffmpeg
    except ImportError:  # pragma: no cover - it is a hard dependency
        return None
    try:
        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except RuntimeError:
        return None


def find_ffmpeg(explicit: str | Path | None = None) -> str:
    """Return the path of the ffmpeg binary to run, or raise `ConfigurationError`."""
    if explicit:
        path = Path(explicit)
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
        found = shutil.which(str(explicit))
        if found:
            return found
        raise ConfigurationError(f"HELDAR_FFMPEG_BIN={explicit} is not an executable file")
    on_path = shutil.which("ffmpeg")
    if on_path:
        return on_path
    bundled = _bundled()
    if bundled:
        return bundled
    raise ConfigurationError(
        "no ffmpeg found: install ffmpeg, set HELDAR_FFMPEG_BIN, or reinstall imageio-ffmpeg"
    )
