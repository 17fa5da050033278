"""Playback session: time to build (and serialize) the HLS playlist over 2 hours of 2 s segments.

The script writes 3,600 real fMP4 segments (a few distinct ones, encoded with ffmpeg's segment
muxer and the recorder's flags, copied under consecutive UTC names), then measures in one run:
  figure:    `build_playlist` over all of them, cold (a fresh `Fmp4Cache`, every file parsed) and
             warm (the kernel's long-lived cache: one stat per file), plus encoding the text;
  baseline1: a bare `os.stat()` of every file (the least any freshness check can cost);
  baseline2: `av.open()` of every file with PyAV (what a probe-per-file playlist would cost).
Target: under 200 ms. Printed for both paths: warm is a running kernel (the indexer warms the
cache as segments close), cold is the first session after a restart.

    .venv/bin/python bench/playback_session.py [--files 3600] [--size 320x180] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import av
from recorded_segments import write_recordings

from heldar.playback.fmp4 import Fmp4Cache
from heldar.playback.hls import build_playlist

TARGET_MS = 200.0


def timed(action: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        action()
        samples.append((time.perf_counter() - began) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=3600)
    parser.add_argument("--distinct", type=int, default=30, help="segments actually encoded")
    parser.add_argument("--size", default="320x180")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="heldar-bench-") as tmp:
        segments = write_recordings(Path(tmp), args.files, args.distinct, args.size)
        total_mb = sum(s.path.stat().st_size for s in segments) / 2**20
        print(f"{len(segments)} segments of 2 s ({args.size}, {total_mb:.0f} MiB)", end=", ")
        print(f"cores: {os.cpu_count()}")

        def uri(path: Path) -> str:
            return f"/media/recordings/cam/{path.name}"

        def cold() -> object:
            return build_playlist(segments, uri, cache=Fmp4Cache()).text.encode()

        shared = Fmp4Cache()
        build_playlist(segments, uri, cache=shared)

        def warm() -> object:
            return build_playlist(segments, uri, cache=shared).text.encode()

        def stat_all() -> object:
            return [os.stat(s.path) for s in segments]

        def pyav_all() -> object:
            for s in segments:
                with av.open(str(s.path)) as container:
                    _ = container.streams.video[0].codec_context.width
            return None

        cold()  # page cache warm for everyone
        playlist = build_playlist(segments, uri)
        cold_ms = statistics.median(timed(cold, args.repeat))
        warm_ms = statistics.median(timed(warm, args.repeat))
        stat_ms = statistics.median(timed(stat_all, args.repeat))
        pyav_ms = statistics.median(timed(pyav_all, 1))

    print(
        f"playlist: {playlist.media_segment_count} media segments, "
        f"{playlist.duration_s / 3600:.2f} h, {len(playlist.text) / 1024:.0f} KiB of text"
    )
    print(f"medians of {args.repeat} runs (PyAV: 1 run)")
    print(f"figure    build_playlist cold (every file parsed): {cold_ms:8.1f} ms")
    print(f"figure    build_playlist warm (Fmp4Cache, a stat per file): {warm_ms:8.1f} ms")
    print(f"baseline1 os.stat() of every file: {stat_ms:8.1f} ms")
    print(f"baseline2 PyAV av.open() of every file: {pyav_ms:8.1f} ms")
    print(f"ratio cold / stat: {cold_ms / stat_ms:.1f}x   warm / stat: {warm_ms / stat_ms:.1f}x")
    print(f"ratio PyAV-open / cold build: {pyav_ms / cold_ms:.0f}x faster than probing every file")
    for label, ms in (("warm", warm_ms), ("cold", cold_ms)):
        verdict = "PASS" if ms < TARGET_MS else "FAIL"
        print(f"{verdict}: {label} playlist over {len(segments)} segments in {ms:.0f} ms", end=" ")
        print(f"(target < {TARGET_MS:.0f} ms)")


if __name__ == "__main__":
    main()
