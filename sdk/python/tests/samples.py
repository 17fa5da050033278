"""Sample data for the SDK tests: synthetic frames as JPEG, and a task as the kernel lists it."""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np


def encode_jpeg(image: np.ndarray) -> bytes:
    """JPEG bytes of a gray (H×W) or BGR (H×W×3) uint8 image, with whichever encoder is here."""
    try:
        simplejpeg = importlib.import_module("simplejpeg")
    except ImportError:
        cv2 = importlib.import_module("cv2")
        ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        assert ok
        return bytes(buffer)
    if image.ndim == 2:
        return bytes(simplejpeg.encode_jpeg(image[:, :, None], quality=90, colorspace="GRAY"))
    return bytes(simplejpeg.encode_jpeg(np.ascontiguousarray(image), quality=90, colorspace="BGR"))


def square_frame(x: int, y: int, size: int = 40, width: int = 320, height: int = 180) -> np.ndarray:
    """A gray frame with one bright square at (x, y)."""
    frame = np.full((height, width), 60, dtype=np.uint8)
    frame[y : y + size, x : x + size] = 200
    return frame


def task_json(task_id: str = "ai_1", camera_id: str = "cam-1", **overrides: Any) -> dict[str, Any]:
    """An AI task the way discovery and leases list it, for tests of the models and analyzers."""
    task = {
        "id": task_id,
        "camera_id": camera_id,
        "task_type": "motion",
        "enabled": True,
        "stream_profile": "sub",
        "fps": 5.0,
        "width": 320,
        "config": {},
        "created_at": "2026-06-13T08:15:00Z",
        "updated_at": "2026-06-13T08:15:00Z",
        "frame_url": f"/api/v1/cameras/{camera_id}/frame?profile=sub&task={task_id}",
    }
    task.update(overrides)
    return task
