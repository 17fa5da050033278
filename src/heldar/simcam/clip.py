"""The test clip the simulated camera loops: generated once with ffmpeg, then held in memory.

`ensure_clip` renders an H.264 MP4 (testsrc2 with a running clock, 1 s GOP, no B-frames) into a
cache directory under a name that encodes its parameters; `load_clip` demuxes it with PyAV into
access units with 90 kHz durations, ready for the RTP packetizer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from heldar.errors import MediaError
from heldar.simcam.packetizer import (
    NAL_PPS,
    NAL_SPS,
    RTP_CLOCK_RATE,
    AvcConfig,
    nal_type,
    parse_avcc_extradata,
    split_avcc,
)

logger = logging.getLogger(__name__)

FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"),
    Path("/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf"),
    Path("/usr/share/fonts/truetype/freefont/FreeSans.ttf"),
    Path("/usr/share/fonts/TTF/DejaVuSans.ttf"),
)
GENERATE_TIMEOUT_S = 300.0
_STDERR_TAIL = 2000


@dataclass(frozen=True, slots=True)
class AccessUnit:
    """One coded picture: its NAL units, its duration in 90 kHz ticks, and whether it is an IDR."""

    nals: tuple[bytes, ...]
    duration: int
    keyframe: bool


@dataclass(frozen=True, slots=True)
class ClipMedia:
    """A demuxed clip, ready to loop: parameter sets plus access units in decode order."""

    config: AvcConfig
    units: tuple[AccessUnit, ...]
    width: int
    height: int
    fps: Fraction

    @property
    def duration(self) -> int:
        """Length of one loop in 90 kHz ticks."""
        return sum(unit.duration for unit in self.units)


def clip_width(height: int) -> int:
    """The 16:9 width for `height`, rounded to an even number (360→640, 720→1280, 1080→1920)."""
    return round(height * 16 / 9 / 2) * 2


def clip_name(height: int, fps: int, seconds: int) -> str:
    return f"simcam-{clip_width(height)}x{height}-{fps}fps-{seconds}s-v2.mp4"


def _cached(target: Path) -> bool:
    target.parent.mkdir(parents=True, exist_ok=True)
    return target.is_file()


def _find_font(fonts: Sequence[Path]) -> Path | None:
    return next((font for font in fonts if font.is_file()), None)


def _ffmpeg_args(out: Path, *, height: int, fps: int, seconds: int, font: Path | None) -> list[str]:
    source = f"testsrc2=size={clip_width(height)}x{height}:rate={fps}"
    args = ["-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-y"]
    args += ["-f", "lavfi", "-i", source, "-t", str(seconds)]
    if font is not None:
        size = max(12, height // 12)
        args += [
            "-vf",
            f"drawtext=fontfile={font}:text='%{{pts\\:hms}}':x=w-tw-16:y=h-th-16:fontsize={size}"
            ":fontcolor=white:box=1:boxcolor=black@0.6:boxborderw=6",
        ]
    args += ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-profile:v", "main", "-bf", "0"]
    args += ["-g", str(fps), "-keyint_min", str(fps), "-sc_threshold", "0"]
    args += ["-tune", "zerolatency", "-an", "-movflags", "+faststart", "-f", "mp4", str(out)]
    return args


async def _run_ffmpeg(ffmpeg: str, args: list[str]) -> None:
    proc = await asyncio.create_subprocess_exec(
        ffmpeg,
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    try:
        async with asyncio.timeout(GENERATE_TIMEOUT_S):
            _, stderr = await proc.communicate()
    except TimeoutError as exc:
        raise MediaError(f"ffmpeg took over {GENERATE_TIMEOUT_S:.0f} s to render the clip") from exc
    finally:
        if proc.returncode is None:
            # Straight to SIGKILL: a half-rendered clip has nothing to finalize and is deleted.
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
    if proc.returncode != 0:
        tail = stderr.decode("utf-8", "replace")[-_STDERR_TAIL:].strip()
        raise MediaError(f"ffmpeg exited with {proc.returncode} rendering the clip: {tail}")


async def ensure_clip(
    cache_dir: Path,
    *,
    ffmpeg: str,
    height: int = 720,
    fps: int = 15,
    seconds: int = 10,
    fonts: Sequence[Path] = FONT_CANDIDATES,
) -> Path:
    """Return the cached clip for these parameters, rendering it first if it is missing.

    The clock is drawn with the first of `fonts` that exists; without one, or if drawtext fails,
    the clip is rendered without a clock.
    """
    if height < 16 or height > 2160 or height % 2:
        raise ValueError("height must be an even number of pixels between 16 and 2160")
    if not 1 <= fps <= 120 or not 1 <= seconds <= 3600:
        raise ValueError("fps must be 1..120 and seconds 1..3600")
    target = cache_dir / clip_name(height, fps, seconds)
    if await asyncio.to_thread(_cached, target):
        return target
    partial = cache_dir / f".{target.stem}.{secrets.token_hex(4)}.partial.mp4"
    font = await asyncio.to_thread(_find_font, fonts)
    try:
        if font is None:
            logger.warning("no font found for the clip clock; rendering without drawtext")
        try:
            await _run_ffmpeg(
                ffmpeg, _ffmpeg_args(partial, height=height, fps=fps, seconds=seconds, font=font)
            )
        except MediaError as exc:
            if font is None:
                raise
            logger.warning("drawtext failed (%s); rendering the clip without a clock", exc.detail)
            await _run_ffmpeg(
                ffmpeg, _ffmpeg_args(partial, height=height, fps=fps, seconds=seconds, font=None)
            )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    logger.info("rendered simcam clip %s", target)
    return target


def load_clip(path: Path) -> ClipMedia:
    """Demux an H.264 MP4 into memory (blocking: call it through `asyncio.to_thread`).

    Like most IP cameras, the parameter sets are repeated in-band before every IDR so that a
    client can start decoding at any keyframe.
    """
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            if stream.codec_context.name != "h264" or not stream.codec_context.extradata:
                raise MediaError(f"{path.name}: not an H.264 stream with avcC extradata")
            config = parse_avcc_extradata(bytes(stream.codec_context.extradata))
            time_base = stream.time_base or Fraction(1, RTP_CLOCK_RATE)
            fps = Fraction(stream.average_rate or 15)
            default_ticks = round(RTP_CLOCK_RATE / fps)
            units = []
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                nals = split_avcc(bytes(packet), config.nal_length_size)
                nals = [n for n in nals if nal_type(n) not in (NAL_SPS, NAL_PPS)]
                if packet.is_keyframe:
                    nals = [*config.sps, *config.pps, *nals]
                ticks = (
                    round(packet.duration * time_base * RTP_CLOCK_RATE) if packet.duration else 0
                )
                units.append(AccessUnit(tuple(nals), ticks or default_ticks, packet.is_keyframe))
            width, height = stream.codec_context.width, stream.codec_context.height
    except (av.FFmpegError, ValueError) as exc:
        raise MediaError(f"cannot demux {path.name}: {exc}") from exc
    if not any(unit.keyframe for unit in units):
        raise MediaError(f"{path.name}: no keyframe in the clip")
    return ClipMedia(config=config, units=tuple(units), width=width, height=height, fps=fps)
