"""Clip export: `export_clip` against a plain ffmpeg concat of the same recorded segments.

The script writes 2 s fMP4 segments (a few distinct ones encoded with ffmpeg's segment muxer and
the recorder's flags, copied under consecutive UTC names), then for 1 and 10 minutes measures:
  figure:   `export_clip` (box index of every file, one ffmpeg fed the fragments on stdin,
            +faststart, fsync, rename), with a cold index cache;
  baseline: `ffmpeg -f concat -safe 0 -i list.txt -c copy out.mp4` of the same files, which
            opens and probes every segment.
Both run in the same process, alternating, after one warm-up each (page cache warm for both).
It prints the medians, the ratio (target: >= 2.5x at 10 minutes) and the packet counts of both
outputs (they must match).

    .venv/bin/python bench/clip_export.py [--size 1280x720] [--bitrate 2M] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import av
from recorded_segments import write_recordings

from heldar.ffmpeg.binary import find_ffmpeg
from heldar.playback.clips import export_clip
from heldar.playback.fmp4 import Fmp4Cache
from heldar.playback.models import SegmentRef

TARGET_RATIO = 2.5


def packets(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for p in container.demux(video=0) if p.size)


def run_ours(segments: list[SegmentRef], out: Path) -> float:
    out.unlink(missing_ok=True)
    began = time.perf_counter()
    asyncio.run(
        export_clip(
            segments,
            segments[0].start,
            segments[-1].end,
            out,
            ffmpeg=find_ffmpeg(),
            cache=Fmp4Cache(),
        )
    )
    return (time.perf_counter() - began) * 1000


def run_concat(segments: list[SegmentRef], out: Path, listing: Path) -> float:
    out.unlink(missing_ok=True)
    listing.write_text("".join(f"file '{s.path}'\n" for s in segments))
    began = time.perf_counter()
    subprocess.run(
        [
            find_ffmpeg(),
            *("-nostdin", "-hide_banner", "-loglevel", "error"),
            *("-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", str(out)),
        ],
        check=True,
    )
    return (time.perf_counter() - began) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--bitrate", default="2M")
    parser.add_argument("--distinct", type=int, default=30, help="segments actually encoded")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="heldar-bench-") as tmp:
        root = Path(tmp)
        segments = write_recordings(root / "rec", 300, args.distinct, args.size, args.bitrate)
        mib = segments[0].path.stat().st_size / 2**20
        print(
            f"segments of 2 s: {args.size} at {args.bitrate}b/s (~{mib:.2f} MiB each), "
            f"cores: {os.cpu_count()}"
        )
        results = []
        for minutes in (1, 10):
            chosen = segments[: minutes * 30]
            ours_out, base_out = root / "ours.mp4", root / "concat.mp4"
            run_ours(chosen, ours_out)  # warm-up: page cache, imports
            run_concat(chosen, base_out, root / "list.txt")
            ours, base = [], []
            for _ in range(args.repeat):
                ours.append(run_ours(chosen, ours_out))
                base.append(run_concat(chosen, base_out, root / "list.txt"))
            ours_ms, base_ms = statistics.median(ours), statistics.median(base)
            same = packets(ours_out) == packets(base_out)
            results.append((minutes, ours_ms, base_ms))
            print(
                f"{minutes:>2} min ({len(chosen)} files): figure export_clip {ours_ms:8.0f} ms   "
                f"baseline concat {base_ms:8.0f} ms   ratio {base_ms / ours_ms:4.1f}x   "
                f"packets {'match' if same else 'DIFFER'}"
            )
        per_file = (results[-1][2] - results[0][2]) / (300 - 30)
        print(f"baseline cost per extra segment: {per_file:.0f} ms (open + probe in ffmpeg)")
        minutes, ours_ms, base_ms = results[-1]
        verdict = "PASS" if base_ms / ours_ms >= TARGET_RATIO else "FAIL"
        print(
            f"{verdict}: 10 min export {base_ms / ours_ms:.1f}x faster than plain concat "
            f"(target >= {TARGET_RATIO}x)"
        )


if __name__ == "__main__":
    main()
