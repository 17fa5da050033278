"""heldar-worker: the SDK for Heldar AI workers.

Subclass `Analyzer`, return a `Result` from `analyze(frame)`, and hand the class to a `Runner`:
it leases tasks, long-polls frames, posts detections with their frame tickets and releases its
lease on the way out. `HeldarClient` is the typed HTTP contract underneath.
"""

from heldar_worker._version import __version__
from heldar_worker.analyzer import Analyzer, AnalyzerUnavailable, Result
from heldar_worker.client import HeldarClient
from heldar_worker.errors import (
    AuthError,
    ContractError,
    HeldarError,
    RateLimited,
    Rejected,
    ServerError,
    TransportError,
)
from heldar_worker.frames import DecodedFrame, DecoderUnavailable, FrameDecodeError
from heldar_worker.models import (
    AiTask,
    Detection,
    DetectionRecord,
    Discovery,
    Frame,
    IngestRequest,
    IngestResponse,
    Lease,
    WorkerEvent,
)
from heldar_worker.runner import Runner, RunnerStats, frame_id

__all__ = [
    "AiTask",
    "Analyzer",
    "AnalyzerUnavailable",
    "AuthError",
    "ContractError",
    "DecodedFrame",
    "DecoderUnavailable",
    "Detection",
    "DetectionRecord",
    "Discovery",
    "Frame",
    "FrameDecodeError",
    "HeldarClient",
    "HeldarError",
    "IngestRequest",
    "IngestResponse",
    "Lease",
    "RateLimited",
    "Rejected",
    "Result",
    "Runner",
    "RunnerStats",
    "ServerError",
    "TransportError",
    "WorkerEvent",
    "__version__",
    "frame_id",
]
