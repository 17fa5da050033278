"""A short sliding window of fMP4 HLS parts cut at keyframes, and its playlist.

Each part starts with a keyframe and closes at the first keyframe after `target_s`, so every part
is independently decodable. ffmpeg's own hls muxer cannot do LL-HLS; expect ~2 s latency here.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from dataclasses import dataclass

from heldar.live.fmp4 import FragmentInfo

WINDOW_PARTS = 6


@dataclass(frozen=True)
class Part:
    seq: int
    duration_s: float
    data: bytes


class HlsWindow:
    def __init__(self, *, target_s: float = 1.0, window: int = WINDOW_PARTS) -> None:
        self._target_s = target_s
        self._parts: deque[Part] = deque(maxlen=window)
        self._open: list[bytes] = []
        self._open_start = 0
        self._next_seq = 0
        self._grew = asyncio.Event()

    @property
    def parts(self) -> list[Part]:
        return list(self._parts)

    def add(self, fragment: bytes, info: FragmentInfo, timescale: int) -> None:
        if info.keyframe and self._open:
            elapsed = (info.decode_time - self._open_start) / timescale
            if elapsed >= self._target_s:
                self._close(elapsed)
        if not self._open:
            if not info.keyframe:
                return
            self._open_start = info.decode_time
        self._open.append(fragment)

    def _close(self, duration_s: float) -> None:
        self._parts.append(Part(self._next_seq, duration_s, b"".join(self._open)))
        self._next_seq += 1
        self._open = []
        self._grew.set()
        self._grew = asyncio.Event()

    def reset(self) -> None:
        """Forget everything (a new init segment follows): sequence numbers keep counting."""
        self._parts.clear()
        self._open = []

    async def wait_parts(self, count: int, within_s: float) -> bool:
        """True once the window holds `count` parts; False after `within_s` seconds."""
        deadline = asyncio.get_running_loop().time() + within_s
        while len(self._parts) < count:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return False
            try:
                async with asyncio.timeout(left):
                    await self._grew.wait()
            except TimeoutError:
                return False
        return True

    def part(self, seq: int) -> Part | None:
        return next((p for p in self._parts if p.seq == seq), None)

    def playlist(self, query: str) -> str:
        """The media playlist; `query` (e.g. `?token=…`) is appended to every URI."""
        parts = list(self._parts)
        target = max((math.ceil(p.duration_s) for p in parts), default=1)
        lines = [
            "#EXTM3U",
            "#EXT-X-VERSION:7",
            f"#EXT-X-TARGETDURATION:{target}",
            f"#EXT-X-MEDIA-SEQUENCE:{parts[0].seq if parts else self._next_seq}",
            "#EXT-X-INDEPENDENT-SEGMENTS",
            f'#EXT-X-MAP:URI="init.mp4{query}"',
        ]
        for p in parts:
            lines += [f"#EXTINF:{p.duration_s:.3f},", f"{p.seq}.m4s{query}"]
        return "\n".join(lines) + "\n"
