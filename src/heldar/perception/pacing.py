"""Which frames a decoder delivers: the rate gate, the keyframe-interval meter, the output size.

Pure logic used by the decoder child (`heldar.perception.decoder`), kept apart so it can be tested
without a stream. Times are seconds on any monotonic clock.
"""

from __future__ import annotations

from collections import deque

GATE_TOLERANCE = 0.25  # of an interval: a frame this early still counts as due
KEYFRAME_RATE_SLACK = 1.05  # keyframes-only when fps ≤ 1.05 × the keyframe rate
GOP_WINDOW = 4
MAX_GOP_S = 60.0
ASSUMED_GOP_S = 1.0  # what `auto` assumes until it has measured: most cameras do 1 s or less


class RateGate:
    """Lets through one frame per `1 / fps` seconds on average, never a burst after a gap."""

    def __init__(self, fps: float) -> None:
        if not fps > 0:
            raise ValueError("fps must be > 0")
        self.interval = 1.0 / fps
        self._tolerance = GATE_TOLERANCE * self.interval
        self._due: float | None = None

    def due(self, now: float) -> bool:
        return self._due is None or now >= self._due - self._tolerance

    def taken(self, now: float) -> None:
        """Record that a frame was delivered at `now`."""
        if self._due is None or now - self._due >= self.interval:
            self._due = now + self.interval  # first frame, or after a gap: start over
        else:
            self._due += self.interval

    def offer(self, now: float) -> bool:
        """`due(now)`, and if so `taken(now)`."""
        if not self.due(now):
            return False
        self.taken(now)
        return True


class GopMeter:
    """The keyframe interval of a stream: the largest of the last few gaps between keyframes."""

    def __init__(self, window: int = GOP_WINDOW) -> None:
        self._last: float | None = None
        self._gaps: deque[float] = deque(maxlen=window)

    def observe(self, t: float | None) -> None:
        """A keyframe at stream time `t` (None when the packet carries no timestamp)."""
        if t is None:
            return
        if self._last is not None:
            gap = t - self._last
            if 0 < gap <= MAX_GOP_S:
                self._gaps.append(gap)
            else:  # a timestamp discontinuity: measure afresh
                self._gaps.clear()
        self._last = t

    @property
    def interval(self) -> float | None:
        return max(self._gaps) if self._gaps else None


def keyframes_suffice(fps: float, gop_s: float | None) -> bool:
    """True when keyframes alone deliver `fps` (the keyframe interval is known and short enough)."""
    return gop_s is not None and fps * gop_s <= KEYFRAME_RATE_SLACK


def keyframes_only_next(mode: str, fps: float, gop_s: float | None, current: bool | None) -> bool:
    """Whether to decode keyframes only from the next keyframe on.

    `keyframes` and `all` are fixed; `auto` starts by assuming a 1 s GOP (`current` is None at
    start) and follows the measured interval once there is one."""
    if mode != "auto":
        return mode == "keyframes"
    if gop_s is None:
        return keyframes_suffice(fps, ASSUMED_GOP_S) if current is None else current
    return keyframes_suffice(fps, gop_s)


def output_size(src_width: int, src_height: int, width: int) -> tuple[int, int]:
    """The size to scale to: `width` (never above the source) with the source's aspect ratio,
    both even (4:2:0 chroma) and at least 2."""
    target = max(2, min(width, src_width) // 2 * 2)
    height = max(2, round(src_height * target / src_width / 2) * 2)
    return target, height
