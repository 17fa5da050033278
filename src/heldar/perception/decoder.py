"""The decoder child: `python -m heldar.perception.decoder`, one per sampled stream.

Reads the stream URL from stdin (never argv or the environment, so `ps` never shows credentials),
opens it with PyAV, decodes at the asked rate — keyframes only when they suffice — and writes one
record per frame (scaled JPEG + header, `heldar.perception.records`) to stdout. Messages go to
stderr, redacted; the exit status says why it ended. It dies with its parent (PR_SET_PDEATHSIG)
and on a broken stdout pipe. Protocol and decisions: docs/design/sampler.md.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import signal
import sys
import time
from collections.abc import Sequence
from typing import Any, Literal

import av
import numpy as np
import simplejpeg

from heldar.cameras.urls import mask_url, validate_stream_url
from heldar.errors import InvalidStreamUrl
from heldar.ffmpeg.args import protocol_whitelist
from heldar.logs import redact
from heldar.perception import records as rec
from heldar.perception.pacing import GopMeter, RateGate, keyframes_only_next, output_size

Mode = Literal["auto", "keyframes", "all"]
OPEN_TIMEOUT_S = 15.0
READ_TIMEOUT_S = 15.0
SOCKET_TIMEOUT_US = 15_000_000
MAX_CORRUPT_PACKETS = 100  # consecutive undecodable packets before giving up
PR_SET_PDEATHSIG = 1


class DecoderExit(Exception):
    """Ends the child with `code` after writing `message` (already safe) to stderr."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class Decoder:
    """Decodes one opened container and writes records to `out_fd`."""

    def __init__(
        self, container: Any, *, fps: float, width: int, quality: int, mode: Mode, out_fd: int
    ) -> None:
        self._container = container
        self._width = width
        self._quality = quality
        self._mode = mode
        self._out_fd = out_fd
        self._fps = fps
        self._gate = RateGate(fps)
        self._gop = GopMeter()
        self._keyframes_only = keyframes_only_next(mode, fps, None, None)

    def run(self) -> int:
        """Decode until the stream ends (returns) or fails (raises `av.FFmpegError`)."""
        if not self._container.streams.video:
            raise DecoderExit(rec.EXIT_BAD_STREAM, "bad_stream: the stream has no video")
        stream = self._container.streams.video[0]
        context = stream.codec_context
        context.thread_type = "SLICE"  # frame threads would hold keyframes back for seconds
        self._apply_mode(context)
        time_base = stream.time_base
        corrupt = 0
        for packet in self._container.demux(stream):
            if packet.size == 0:
                continue
            keyframe = bool(packet.is_keyframe)
            if keyframe:
                pts = packet.pts
                self._gop.observe(float(pts * time_base) if pts is not None and time_base else None)
                self._choose_mode(context)
            if self._keyframes_only and (not keyframe or not self._gate.due(time.monotonic())):
                continue  # never handed to the decoder: this is where the saving is
            try:
                frames = context.decode(packet)
            except av.error.InvalidDataError:
                corrupt += 1
                if corrupt > MAX_CORRUPT_PACKETS:
                    raise DecoderExit(
                        rec.EXIT_BAD_STREAM, "bad_stream: too many undecodable packets"
                    ) from None
                continue
            corrupt = 0
            for frame in frames:
                if self._gate.offer(time.monotonic()):
                    self._emit(frame)
        return rec.EXIT_STREAM_ENDED

    def _choose_mode(self, context: Any) -> None:
        wanted = keyframes_only_next(
            self._mode, self._fps, self._gop.interval, self._keyframes_only
        )
        if wanted != self._keyframes_only:
            self._keyframes_only = wanted
            self._apply_mode(context)
            gop = self._gop.interval or 0.0
            mode = "keyframes only" if wanted else "all frames"
            print(f"decoding {mode} (keyframe interval {gop:.2f} s)", file=sys.stderr, flush=True)

    def _apply_mode(self, context: Any) -> None:
        # Switched only at a keyframe packet, so the reference frames are always there.
        context.skip_frame = "NONKEY" if self._keyframes_only else "DEFAULT"

    def _emit(self, frame: Any) -> None:
        width, height = output_size(frame.width, frame.height, self._width)
        scaled = frame.reformat(
            width=width, height=height, format="yuv420p", dst_color_range="JPEG", threads=1
        )
        planes = [
            np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, : plane.width]
            for plane in scaled.planes
        ]
        jpeg = simplejpeg.encode_jpeg_yuv_planes(*planes, quality=self._quality)
        record = rec.FrameRecord(
            captured_at=time.time(),
            pts=float(frame.time) if frame.time is not None else None,
            width=width,
            height=height,
            keyframe=bool(frame.key_frame),
            keyframes_only=self._keyframes_only,
            gop_s=self._gop.interval,
            jpeg=bytes(jpeg),
        )
        write_all(self._out_fd, record.encode())


def write_all(fd: int, data: bytes) -> None:
    """Write all of `data` to a (blocking) pipe; raises BrokenPipeError when the reader is gone."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def die_with_parent(parent_pid: int | None) -> None:
    """SIGTERM this process when its parent dies; exit now if the parent is already gone."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if parent_pid is not None and os.getppid() != parent_pid:
        raise DecoderExit(rec.EXIT_STOPPED, "parent is gone")


def open_stream(url: str) -> Any:
    """Open `url` with PyAV: TCP for RTSP, a protocol whitelist, bounded open and read times."""
    # Half a second of probing is enough: the decoder reads sizes from the frames themselves.
    options = {"protocol_whitelist": protocol_whitelist(url), "analyzeduration": "500000"}
    if url.lower().startswith(("rtsp://", "rtsps://")):
        options |= {"rtsp_transport": "tcp", "timeout": str(SOCKET_TIMEOUT_US)}
    else:
        options["rw_timeout"] = str(SOCKET_TIMEOUT_US)
    return av.open(url, options=options, timeout=(OPEN_TIMEOUT_S, READ_TIMEOUT_S))


def classify(exc: Exception) -> int:
    """The exit status for a PyAV error."""
    if isinstance(exc, av.error.HTTPUnauthorizedError | av.error.HTTPForbiddenError):
        return rec.EXIT_AUTH_FAILED
    if isinstance(exc, av.error.HTTPClientError | av.error.DecoderNotFoundError):
        return rec.EXIT_BAD_STREAM
    if isinstance(exc, av.error.EOFError):
        return rec.EXIT_STREAM_ENDED
    return rec.EXIT_UNREACHABLE


def safe_message(exc: BaseException, url: str) -> str:
    """`exc` as text with the URL masked and any other credential redacted."""
    return redact(str(exc).replace(url, mask_url(url, has_credentials="@" in url)))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m heldar.perception.decoder",
        description="Decode one stream (URL on stdin) into JPEG frame records on stdout.",
    )
    parser.add_argument("--label", default="", help="camera:profile, shown in ps (no secrets)")
    parser.add_argument("--fps", type=float, required=True, help="frames per second to deliver")
    parser.add_argument("--width", type=int, required=True, help="output width (never upscaled)")
    parser.add_argument("--quality", type=int, default=85, choices=range(1, 101), metavar="Q")
    parser.add_argument("--mode", choices=("auto", "keyframes", "all"), default="auto")
    parser.add_argument("--parent-pid", type=int, default=None, help="exit if this is not ours")
    return parser


def check_args(args: argparse.Namespace) -> None:
    if not 0.01 <= args.fps <= 120 or not 2 <= args.width <= 16384:
        raise DecoderExit(rec.EXIT_USAGE, "usage: fps must be 0.01..120, width 2..16384")


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:
        return rec.EXIT_USAGE if exc.code else rec.EXIT_STOPPED
    url = ""
    try:
        check_args(args)
        die_with_parent(args.parent_pid)
        url = sys.stdin.readline().strip()
        sys.stdin.close()
        try:
            validate_stream_url(url, field="url")
        except InvalidStreamUrl as exc:
            raise DecoderExit(rec.EXIT_USAGE, f"usage: {exc.detail}") from None
        try:
            container = open_stream(url)
        except av.FFmpegError as exc:
            code = classify(exc)
            if code == rec.EXIT_STREAM_ENDED:
                code = rec.EXIT_UNREACHABLE
            raise DecoderExit(code, f"cannot open: {safe_message(exc, url)}") from None
        with container:
            decoder = Decoder(
                container,
                fps=args.fps,
                width=args.width,
                quality=args.quality,
                mode=args.mode,
                out_fd=sys.stdout.fileno(),
            )
            try:
                code = decoder.run()
            except av.FFmpegError as exc:
                raise DecoderExit(classify(exc), safe_message(exc, url)) from None
        print("the stream ended", file=sys.stderr, flush=True)
        return code
    except DecoderExit as exc:
        print(redact(str(exc)), file=sys.stderr, flush=True)
        return exc.code
    except (BrokenPipeError, KeyboardInterrupt):
        return rec.EXIT_STOPPED


if __name__ == "__main__":
    code = main()
    # Skip interpreter teardown: flushing a stdout whose reader is gone would only add noise.
    sys.stderr.flush()
    os._exit(code)
