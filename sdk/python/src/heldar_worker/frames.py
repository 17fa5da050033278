"""`DecodedFrame`, what an analyzer is handed, and the choice of JPEG decoder behind it.

The JPEG bytes are always there; pixels are decoded on first use and cached, so an analyzer that
forwards the JPEG elsewhere (a remote model) never pays for a decode. The decoder is the first one
installed of simplejpeg (`heldar-worker[jpeg]`), OpenCV (`heldar-worker[person]`) and Pillow; the
base install carries none, to stay light for workers that never touch pixels.
"""

from __future__ import annotations

import functools
import importlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from heldar_worker.models import AiTask, Frame

Image = NDArray[np.uint8]


class DecoderUnavailable(RuntimeError):
    """No JPEG decoder is installed."""


class FrameDecodeError(ValueError):
    """The bytes the kernel served do not decode as a JPEG."""


@dataclass(frozen=True)
class JpegDecoder:
    """Two decode functions: to BGR (H×W×3, OpenCV's order) and to grayscale (H×W), both uint8."""

    name: str
    bgr: Callable[[bytes], Image]
    gray: Callable[[bytes], Image]


def _simplejpeg(module: Any) -> JpegDecoder:
    def bgr(data: bytes) -> Image:
        return np.asarray(module.decode_jpeg(data, colorspace="BGR"), dtype=np.uint8)

    def gray(data: bytes) -> Image:
        return np.asarray(module.decode_jpeg(data, colorspace="GRAY"), dtype=np.uint8)[:, :, 0]

    return JpegDecoder("simplejpeg", bgr, gray)


def _opencv(module: Any) -> JpegDecoder:
    def decode(data: bytes, flag: int) -> Image:
        image = module.imdecode(np.frombuffer(data, dtype=np.uint8), flag)
        if image is None:
            raise FrameDecodeError("OpenCV could not decode the frame")
        return np.asarray(image, dtype=np.uint8)

    return JpegDecoder(
        "opencv",
        lambda data: decode(data, module.IMREAD_COLOR),
        lambda data: decode(data, module.IMREAD_GRAYSCALE),
    )


def _pillow(module: Any) -> JpegDecoder:
    def decode(data: bytes, mode: str) -> Image:
        with module.open(io.BytesIO(data)) as image:
            return np.asarray(image.convert(mode), dtype=np.uint8)

    return JpegDecoder(
        "pillow",
        lambda data: np.ascontiguousarray(decode(data, "RGB")[:, :, ::-1]),
        lambda data: decode(data, "L"),
    )


_CANDIDATES: tuple[tuple[str, Callable[[Any], JpegDecoder]], ...] = (
    ("simplejpeg", _simplejpeg),
    ("cv2", _opencv),
    ("PIL.Image", _pillow),
)


@functools.cache
def jpeg_decoder() -> JpegDecoder:
    """The first decoder installed, or `DecoderUnavailable` saying what to install."""
    for module_name, make in _CANDIDATES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        return make(module)
    raise DecoderUnavailable(
        "no JPEG decoder installed: pip install 'heldar-worker[jpeg]' (or [person], or Pillow)"
    )


class DecodedFrame:
    """One frame of one task, as an analyzer sees it. Pixels decode lazily, once."""

    def __init__(self, task: AiTask, frame: Frame, decoder: JpegDecoder | None = None) -> None:
        self.task = task
        self.frame = frame
        self._decoder = decoder
        self._bgr: Image | None = None
        self._gray: Image | None = None

    def __repr__(self) -> str:
        return f"DecodedFrame(task={self.task.id!r}, seq={self.frame.seq!r})"

    @property
    def jpeg(self) -> bytes:
        return self.frame.jpeg

    @property
    def seq(self) -> int | None:
        return self.frame.seq

    @property
    def captured_at(self) -> datetime | None:
        return self.frame.captured_at

    @property
    def config(self) -> dict[str, Any]:
        return self.task.config

    def bgr(self) -> Image:
        """H×W×3 uint8, blue-green-red (OpenCV's order)."""
        if self._bgr is None:
            self._bgr = self._decode(self._get_decoder().bgr)
        return self._bgr

    def gray(self) -> Image:
        """H×W uint8 luma."""
        if self._gray is None:
            if self._bgr is not None:
                self._gray = _luma(self._bgr)
            else:
                self._gray = self._decode(self._get_decoder().gray)
        return self._gray

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels (decodes if nothing has been decoded yet)."""
        image = self._bgr if self._bgr is not None else self.gray()
        return int(image.shape[1]), int(image.shape[0])

    def _get_decoder(self) -> JpegDecoder:
        if self._decoder is None:
            self._decoder = jpeg_decoder()
        return self._decoder

    def _decode(self, decode: Callable[[bytes], Image]) -> Image:
        try:
            return decode(self.frame.jpeg)
        except FrameDecodeError:
            raise
        except (ValueError, OSError, RuntimeError) as exc:
            raise FrameDecodeError(f"frame {self.frame.seq} does not decode: {exc}") from exc


def _luma(bgr: Image) -> Image:
    """ITU-R BT.601 luma of a BGR image, as the JPEG decoders compute it."""
    weights = np.array([0.114, 0.587, 0.299], dtype=np.float32)
    luma: Image = np.clip(bgr.astype(np.float32) @ weights + 0.5, 0, 255).astype(np.uint8)
    return luma
