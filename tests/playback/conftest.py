"""Real recordings for playback tests: fMP4 segments written by ffmpeg's segment muxer with the
recorder's flags, and a Range-capable HTTP server on 127.0.0.1 to play playlists through."""

from __future__ import annotations

import http.server
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from heldar.playback.models import SegmentRef
from tests.support.recordings import (  # noqa: F401 - re-exported for the playback tests
    FPS,
    SEGMENT_S,
    T0,
    Run,
    record_run,
)


@dataclass(frozen=True)
class Library:
    """Session-wide recordings (read-only: copy before changing a file)."""

    small: Run  # 6 segments, 320x180, starts at T0
    later: Run  # same parameters, a new ffmpeg run after a 30 s gap
    large: Run  # 3 segments, 640x360: a discontinuity of codec parameters
    continuous: Run  # 4 segments written without -reset_timestamps


@pytest.fixture(scope="session")
def library(tmp_path_factory: pytest.TempPathFactory) -> Library:
    root = tmp_path_factory.mktemp("recordings")
    small = record_run(root / "cam", start=T0, count=6)
    later = record_run(root / "cam", start=small.end + timedelta(seconds=30), count=3)
    large = record_run(
        root / "cam", start=later.end + timedelta(seconds=2), count=3, size="640x360"
    )
    continuous = record_run(root / "cont", start=T0, count=4, reset_timestamps=False)
    return Library(small, later, large, continuous)


def copy_run(run: Run, directory: Path) -> Run:
    directory.mkdir(parents=True, exist_ok=True)
    segments = []
    for segment in run.segments:
        target = directory / segment.path.name
        shutil.copyfile(segment.path, target)
        segments.append(SegmentRef(target, segment.start, segment.duration_s))
    return Run(segments, run.width, run.height)


class _RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with single `Range: bytes=a-b` support (HLS byte ranges need it)."""

    ranges_served = 0

    def log_message(self, format: str, *args: object) -> None:
        pass

    def send_head(self):  # type: ignore[no-untyped-def]
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        path = Path(self.translate_path(self.path))
        if match is None or not path.is_file():
            return super().send_head()
        size = path.stat().st_size
        first = int(match.group(1))
        last = min(int(match.group(2)) if match.group(2) else size - 1, size - 1)
        if first > last:
            self.send_error(416)
            return None
        handle = path.open("rb")
        handle.seek(first)
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        self.send_header("Content-Length", str(last - first + 1))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        type(self).ranges_served += 1
        return _Limited(handle, last - first + 1)


class _Limited:
    """A file object that ends after `remaining` bytes (copyfile reads until EOF)."""

    def __init__(self, handle, remaining: int) -> None:  # type: ignore[no-untyped-def]
        self._handle = handle
        self._remaining = remaining

    def read(self, size: int = -1) -> bytes:
        size = self._remaining if size < 0 else min(size, self._remaining)
        data = self._handle.read(size)
        self._remaining -= len(data)
        return data

    def close(self) -> None:
        self._handle.close()


@dataclass
class Served:
    root: Path
    url: str
    handler: type[_RangeHandler]


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[Served]:
    """A real HTTP server on 127.0.0.1 serving `root` (with Range requests)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = type("Handler", (_RangeHandler,), {"ranges_served": 0})

    def factory(*args, **kwargs):  # type: ignore[no-untyped-def]
        return handler(*args, directory=str(root), **kwargs)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), factory)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield Served(root, f"http://127.0.0.1:{server.server_address[1]}", handler)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
