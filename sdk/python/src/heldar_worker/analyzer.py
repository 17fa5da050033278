"""The seam models plug into: subclass `Analyzer`, return a `Result` per frame.

The runner makes one analyzer instance per leased task, so per-camera state (the previous frame, a
tracker) lives on `self` with no cross-camera bleed. `setup`, `analyze` and `close` run in a worker
thread, one call at a time per instance; a slow model never delays lease renewal.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from heldar_worker.frames import DecodedFrame
from heldar_worker.models import AiTask, Detection, WorkerEvent


class AnalyzerUnavailable(RuntimeError):
    """The analyzer cannot run here (a missing optional dependency); the message says what to do."""


class Result(BaseModel):
    """What an analyzer found in one frame: detections and, optionally, one event."""

    model_config = ConfigDict(frozen=True)

    detections: list[Detection] = Field(default_factory=list)
    event: WorkerEvent | None = None

    @property
    def empty(self) -> bool:
        return not self.detections and self.event is None


class Analyzer(ABC):
    """Base class of every analyzer.

    `task_type` is the AI task type the runner leases for this analyzer (a task's `task_type` is
    free-form; the kernel only routes by it).
    """

    task_type: ClassVar[str]
    name: ClassVar[str] = "analyzer"

    def setup(self, task: AiTask) -> None:  # noqa: B027 - optional hook, empty by design
        """Called once before the first frame of `task` (read `task.config` here)."""

    @abstractmethod
    def analyze(self, frame: DecodedFrame) -> Result:
        """Look at one frame; raise to skip it (the runner logs and carries on)."""

    def close(self) -> None:  # noqa: B027 - optional hook, empty by design
        """Called once when the task is dropped or the runner stops."""
