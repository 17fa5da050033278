"""WebRTC (WHEP) live view through aiortc: opt-in (`HELDAR_LIVE_WEBRTC`), the `webrtc` extra.

`WebRtcSessions` answers WHEP offers and owns every session: one aiortc peer connection whose
single video track (`PassthroughTrack`) forwards the camera's shared pull — the H.264 samples of
its fMP4 fragments as Annex B packets, never decoded or re-encoded. A supervisor task per session
ends it on DELETE, a failed or closed connection, the end of the pull, a revoked token grant
(re-checked every `RECHECK_S`), or no connection within `CONNECT_S`. The broker imports this
module only when WebRTC is on, so the kernel runs without aiortc.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from fractions import Fraction

import av
from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpCodecCapability,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.exceptions import InternalError, InvalidAccessError, InvalidStateError, OperationError
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.sdp import SessionDescription
from av.frame import Frame
from av.stream import Stream

from heldar.errors import HeldarError, MediaError, NotFound
from heldar.live.fmp4 import AvcConfig, InitInfo, fragment_samples
from heldar.live.pull import Pull
from heldar.live.tokens import RECHECK_S, Grant, LiveTokens
from heldar.live.viewer import End, Viewer

log = logging.getLogger(__name__)

CONNECT_S = 30.0
"""A session whose peer never connects is ended after this long."""
NEGOTIATE_S = 10.0
"""Bound on applying the offer and gathering our (host-only) ICE candidates."""
MAX_MEDIA_SECTIONS = 8
_SDP_ERRORS = (ValueError, LookupError, AssertionError, TypeError, AttributeError, StopIteration)


class BadOffer(HeldarError):
    """The WHEP body is not an SDP offer we can answer."""

    status = 400
    default_code = "whep_offer_invalid"


class SessionsFull(HeldarError):
    status = 503
    default_code = "webrtc_sessions_full"

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "5"}


@dataclass(eq=False)
class WebRtcSession:
    session_id: str
    grant: Grant
    pull: Pull
    pc: RTCPeerConnection
    done: asyncio.Event = field(default_factory=asyncio.Event)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    viewer: Viewer | None = None
    reason: str = ""

    def end(self, reason: str) -> None:
        if not self.done.is_set():
            self.reason = reason
            self.done.set()

    def join(self) -> tuple[Viewer, int]:
        """The session's viewer of its pull (init + current GOP at once), and how many of the
        fragments it starts with are that backlog rather than live."""
        viewer = Viewer()
        backlog = len(self.pull.gop)
        self.pull.join(viewer)
        if self.pull.closed:
            viewer.end("live stream closed")
        self.viewer = viewer
        return viewer, backlog


class PassthroughTrack(MediaStreamTrack):
    """A video track that yields the pull's H.264 as `av.Packet`s: aiortc's H.264 encoder only
    packetizes those (RTP payloads straight from the camera's bitstream).

    The track joins the pull on its first `recv`, when the sender starts (after ICE and DTLS),
    so a slow handshake never fills a mailbox. The backlog GOP it starts with is stamped one
    tick apart, so the receiver shows it at once and plays live from the next frame instead of
    lagging a GOP behind; live frames keep the camera's spacing.
    """

    kind = "video"

    def __init__(self, session: WebRtcSession) -> None:
        super().__init__()
        self._session = session
        self._viewer: Viewer | None = None
        self._backlog = 0
        self._pending: deque[av.Packet[Stream]] = deque()
        self._config: AvcConfig | None = None
        self._time_base = Fraction(1, 90_000)
        self._last_real: int | None = None
        self._last_out = 0

    async def recv(self) -> Frame | av.Packet[Stream]:
        if self._viewer is None:
            self._viewer, self._backlog = self._session.join()
        while not self._pending:
            item = await self._viewer.next(within_s=RECHECK_S)
            if item is None:
                continue
            if isinstance(item, End):
                raise self._finish(item.reason)
            try:
                if item.kind == "init":
                    info = InitInfo.parse(item.data)
                    self._config = AvcConfig.parse(info.avcc)
                    self._time_base = Fraction(1, info.timescale)
                elif self._config is not None:
                    self._pending.extend(self._packets(item.data, self._config))
            except MediaError as exc:
                raise self._finish(f"live stream not forwardable: {exc}") from exc
        return self._pending.popleft()

    def _finish(self, reason: str) -> MediaStreamError:
        """End the session; the error to raise to the sender (which then stops sending)."""
        self._session.end(reason)
        self.stop()
        return MediaStreamError(reason)

    def _packets(self, fragment: bytes, config: AvcConfig) -> list[av.Packet[Stream]]:
        packets = []
        backlog = self._backlog > 0
        self._backlog -= 1
        for sample in fragment_samples(fragment):
            step = 1 if backlog or self._last_real is None else sample.decode_time - self._last_real
            self._last_real = sample.decode_time
            self._last_out += max(1, step)
            packet = av.Packet(config.annexb(sample.data))
            packet.pts = packet.dts = self._last_out
            packet.time_base = self._time_base
            packets.append(packet)
        return packets


def _h264_preferences() -> list[RTCRtpCodecCapability]:
    """H.264 (and its RTX) only: without preferences aiortc would answer VP8, and then it would
    have to decode and re-encode every frame."""
    codecs = RTCRtpSender.getCapabilities("video").codecs
    return [c for c in codecs if c.mimeType.lower() in ("video/h264", "video/rtx")]


def parse_offer(text: str) -> None:
    """Refuse anything but an SDP offer with a video section we could send H.264 on."""
    try:
        description = SessionDescription.parse(text)
    except _SDP_ERRORS as exc:
        raise BadOffer("the body is not a valid SDP offer") from exc
    if len(description.media) > MAX_MEDIA_SECTIONS:
        raise BadOffer("too many media sections in the offer")
    video = [m for m in description.media if m.kind == "video"]
    if not video:
        raise BadOffer("the offer has no video section")
    if not any(c.mimeType.lower() == "video/h264" for m in video for c in m.rtp.codecs):
        raise BadOffer("the offer does not accept H.264 video", code="whep_offer_no_h264")


class WebRtcSessions:
    def __init__(self, tokens: LiveTokens, *, max_sessions: int) -> None:
        self._tokens = tokens
        self._max = max_sessions
        self._sessions: dict[str, WebRtcSession] = {}
        self._group: asyncio.TaskGroup | None = None

    def __len__(self) -> int:
        return len(self._sessions)

    async def run(self) -> None:
        """Own every session's supervisor; ending this ends (and closes) every session."""
        try:
            async with asyncio.TaskGroup() as group:
                self._group = group
                await asyncio.Event().wait()  # until the broker stops
        finally:
            self._group = None

    def check_room(self) -> None:
        if self._group is None:
            raise SessionsFull("WebRTC live view is not running", code="live_unavailable")
        if len(self._sessions) >= self._max:
            raise SessionsFull(f"all {self._max} WebRTC live sessions are in use")

    def check_offer(self, offer: str) -> None:
        """Refuse a bad offer or a full house before a pull is started for it."""
        self.check_room()
        parse_offer(offer)

    async def answer(self, grant: Grant, pull: Pull, offer: str) -> tuple[str, str]:
        """Negotiate a session sending `pull` to the offerer: (session id, SDP answer). The
        answer carries every (host) candidate: we do not trickle."""
        self.check_offer(offer)
        assert self._group is not None
        session = WebRtcSession(
            session_id=secrets.token_urlsafe(24),
            grant=grant,
            pull=pull,
            pc=RTCPeerConnection(RTCConfiguration(iceServers=[])),  # no STUN/TURN: host only
        )
        self._sessions[session.session_id] = session
        pull.holds += 1
        try:
            pc = session.pc
            transceiver = pc.addTransceiver(PassthroughTrack(session), direction="sendonly")
            transceiver.setCodecPreferences(_h264_preferences())
            async with asyncio.timeout(NEGOTIATE_S):
                await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
                await pc.setLocalDescription(await pc.createAnswer())
            local = pc.localDescription
        except BaseException as exc:
            await self._abandon(session)
            if isinstance(exc, OperationError):
                raise BadOffer(
                    "no H.264 video in common with the offer", code="whep_offer_no_h264"
                ) from exc
            if isinstance(exc, (*_SDP_ERRORS, InvalidAccessError, InvalidStateError)):
                raise BadOffer("the SDP offer could not be applied") from exc
            if isinstance(exc, (TimeoutError, InternalError)):
                raise MediaError("WebRTC negotiation failed", code="webrtc_failed") from exc
            raise
        if local is None:  # aiortc always sets one after setLocalDescription
            await self._abandon(session)
            raise MediaError("WebRTC negotiation failed", code="webrtc_failed")

        @pc.on("connectionstatechange")
        def _state() -> None:
            if pc.connectionState in ("failed", "closed"):
                session.end(f"WebRTC connection {pc.connectionState}")

        self._group.create_task(
            self._supervise(session), name=f"webrtc-{grant.camera_id}-{session.session_id[:6]}"
        )
        return session.session_id, local.sdp

    async def _abandon(self, session: WebRtcSession) -> None:
        self._sessions.pop(session.session_id, None)
        session.pull.holds -= 1
        await session.pc.close()

    async def _supervise(self, session: WebRtcSession) -> None:
        deadline = time.monotonic() + CONNECT_S
        try:
            while not session.done.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(RECHECK_S):
                        await session.done.wait()
                if session.done.is_set():
                    break
                try:
                    await self._tokens.renew(session.grant)
                except HeldarError as exc:
                    session.end(str(exc))
                connected = session.pc.connectionState == "connected"
                if not connected and time.monotonic() > deadline:
                    session.end(f"no WebRTC connection within {CONNECT_S:.0f} s")
        finally:
            session.end(session.reason or "live view stopped")
            self._sessions.pop(session.session_id, None)
            session.pull.holds -= 1
            if session.viewer is not None:
                session.pull.leave(session.viewer)
                session.viewer.end(session.reason)
            try:
                await session.pc.close()
            finally:
                session.closed.set()
                log.info(
                    "WebRTC live session %s… of %s ended: %s",
                    session.session_id[:6],
                    session.grant.camera_id,
                    session.reason,
                )

    async def delete(self, camera_id: str, session_id: str) -> None:
        """End a session (WHEP DELETE) and return once its peer connection is closed."""
        session = self._sessions.get(session_id)
        if session is None or session.grant.camera_id != camera_id:
            raise NotFound("no such WebRTC session", code="webrtc_session_not_found")
        session.end("ended by the viewer")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5.0):
                await session.closed.wait()

    def end_camera(self, camera_id: str, reason: str) -> None:
        for session in list(self._sessions.values()):
            if session.grant.camera_id == camera_id:
                session.end(reason)
