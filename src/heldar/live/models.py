"""Live-view API shapes: the reference-compatible liveview answer and the broker's status."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from heldar.cameras.vendors import StreamProfile


class LiveView(BaseModel):
    """Where to watch a camera live: URLs relative to the API origin, each carrying `token`."""

    name: str
    hls_url: str = Field(description="fMP4 HLS playlist (~1 s parts; use hls.js)")
    ws_url: str = Field(description="WebSocket: a JSON `init` message, then fMP4 for MSE")
    webrtc_url: str | None = Field(
        description="WHEP base: POST an SDP offer to `{webrtc_url}/whep?token=…`; "
        "null unless WebRTC is enabled"
    )
    token: str = Field(description="short-lived live token, renewed by use and by asking again")
    expires_at: datetime


class PullStatus(BaseModel):
    camera_id: str
    profile: StreamProfile
    state: str = Field(description="connecting, running, retrying or stopped")
    pid: int | None
    codec: str | None
    width: int | None
    height: int | None
    viewers: int
    hls_active: bool
    bytes_in: int
    bytes_per_s: float
    dropped_viewers: int
    restarts: int
    transcoding: bool


class LiveStatus(BaseModel):
    pulls: list[PullStatus]
    viewers: int
    dropped_viewers: int
    bytes_per_s: float
    webrtc_sessions: int = Field(description="open WebRTC (WHEP) sessions, connecting or connected")
