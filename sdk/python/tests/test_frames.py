"""`DecodedFrame`: lazy, cached decoding with whichever JPEG decoder is installed."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from heldar_worker import AiTask, DecodedFrame, Frame, FrameDecodeError
from heldar_worker.frames import _CANDIDATES, JpegDecoder, jpeg_decoder
from samples import encode_jpeg, task_json

TASK = AiTask.model_validate(task_json())


def installed() -> list[JpegDecoder]:
    found = []
    for module_name, make in _CANDIDATES:
        try:
            found.append(make(importlib.import_module(module_name)))
        except ImportError:
            continue
    return found


def gradient() -> np.ndarray:
    image = np.zeros((64, 96, 3), dtype=np.uint8)
    image[:, :, 0] = np.linspace(0, 255, 96, dtype=np.uint8)[None, :]  # blue ramps left to right
    image[:, :, 2] = np.linspace(0, 255, 64, dtype=np.uint8)[:, None]  # red ramps top to bottom
    return image


@pytest.mark.parametrize("decoder", installed(), ids=lambda d: d.name)
def test_every_installed_decoder_gives_bgr_and_gray(decoder: JpegDecoder) -> None:
    source = gradient()
    frame = DecodedFrame(TASK, Frame(jpeg=encode_jpeg(source), seq=1), decoder)
    bgr = frame.bgr()
    assert bgr.shape == (64, 96, 3) and bgr.dtype == np.uint8
    assert np.abs(bgr.astype(int) - source.astype(int)).mean() < 6  # channel order kept
    assert frame.bgr() is bgr  # decoded once
    gray = DecodedFrame(TASK, Frame(jpeg=encode_jpeg(source), seq=1), decoder).gray()
    assert gray.shape == (64, 96)
    assert np.abs(gray.astype(int) - frame.gray().astype(int)).mean() < 3
    assert frame.size == (96, 64)


def test_a_decoder_is_found_here() -> None:
    assert jpeg_decoder().name in {"simplejpeg", "opencv", "pillow"}


def test_a_corrupt_frame_is_a_decode_error() -> None:
    frame = DecodedFrame(TASK, Frame(jpeg=b"\xff\xd8 definitely not a jpeg", seq=9))
    with pytest.raises(FrameDecodeError):
        frame.gray()


def test_nothing_is_decoded_until_asked() -> None:
    frame = DecodedFrame(TASK, Frame(jpeg=b"\xff\xd8 never decoded", seq=1))
    assert frame.jpeg.startswith(b"\xff\xd8")
    assert frame.seq == 1
    assert "never decoded" not in repr(frame)
