"""`PlaybackService`: the kernel side of playback and export — clip jobs (bounded, expiring),
HLS playback sessions (in memory, with a TTL, protecting their segments from retention) and
snapshots — on top of the media core (`clips`, `hls`, `snapshots`) and the recordings index."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import secrets
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from pydantic import BaseModel, Field

from heldar.clock import Clock
from heldar.errors import InvalidInput, MediaError, NotFound, TooManyRequests
from heldar.playback.clips import export_clip, remove_partial_exports
from heldar.playback.fmp4 import Fmp4Cache
from heldar.playback.hls import build_playlist
from heldar.playback.models import SegmentRef
from heldar.playback.snapshots import take_snapshot
from heldar.recording.indexer import Indexed
from heldar.recording.models import SegmentRow
from heldar.store import segments as sql
from heldar.store.engine import Store

log = logging.getLogger(__name__)

MAX_CLIP_SPAN = timedelta(seconds=3600)
MAX_SESSION_SPAN = timedelta(hours=24)
CLIP_TTL = timedelta(hours=48)
SESSION_TTL = timedelta(minutes=60)
MAX_SESSIONS = 256
EXPIRY_SWEEP_S = 300.0
MAX_SEGMENTS_PER_JOB = 50_000
WARM_UP_SEGMENTS = 20_000


class GapOut(BaseModel):
    from_: datetime = Field(serialization_alias="from")
    to: datetime


class ClipOut(BaseModel):
    """Reference contract of `POST /cameras/{id}/clip`."""

    id: str
    camera_id: str
    filename: str
    url: str
    from_: datetime = Field(serialization_alias="from")
    to: datetime
    requested_seconds: float
    covered_seconds: float
    gaps: list[GapOut]
    size_bytes: int
    segment_count: int


class SessionOut(BaseModel):
    id: str
    camera_id: str
    playlist_url: str
    from_: datetime = Field(serialization_alias="from")
    to: datetime
    duration_s: float
    segment_count: int
    expires_at: datetime


@dataclass(frozen=True)
class _Session:
    id: str
    camera_id: str
    playlist: str
    segment_ids: frozenset[int]
    expires_at: datetime


def _ref(data_dir: Path, row: SegmentRow) -> SegmentRef:
    return SegmentRef(data_dir / row.path, row.start_time, row.duration_s)


class PlaybackService:
    name = "playback-expiry"

    def __init__(
        self,
        store: Store,
        clock: Clock,
        data_dir: Path,
        *,
        ffmpeg: str,
        job_concurrency: int,
        hold: Callable[[Iterable[int]], AbstractContextManager[None]] | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._data_dir = data_dir
        self._clips = data_dir / "clips"
        self._ffmpeg = ffmpeg
        self._jobs = asyncio.Semaphore(job_concurrency)
        self._sessions: dict[str, _Session] = {}
        self._hold = hold or (lambda _ids: contextlib.nullcontext())
        self.cache = Fmp4Cache()

    async def warm_up(self, limit: int = WARM_UP_SEGMENTS) -> int:
        """Read the box index of the newest segments in the background after a start, so the
        first playback session after a restart is as fast as the ones after it."""
        async with self._store.read() as conn:
            paths = await sql.recent_paths(conn, min(limit, self.cache.max_entries))
        warmed = await asyncio.to_thread(self._warm, [self._data_dir / p for p in paths])
        log.info("playback cache warmed with %d recent segments", warmed)
        return warmed

    def _warm(self, paths: list[Path]) -> int:
        warmed = 0
        for path in paths:
            try:
                self.cache.index(path)
            except (OSError, ValueError):
                continue  # gone, or torn: the playlist builder decides what to do with it
            warmed += 1
        return warmed

    async def segment_indexed(self, indexed: Indexed) -> None:
        """`Indexer.subscribe` listener: read a closed segment's box index now, while it is in
        the page cache, so the first playlist over it needs no disk reads."""
        await asyncio.to_thread(self.cache.index, indexed.path)

    # -- service: expiry -------------------------------------------------------------------------

    async def run(self) -> None:
        removed = remove_partial_exports(self._clips)
        if removed:
            log.warning("removed %d half-written clip exports", len(removed))
        await self.warm_up()
        while True:
            self.expire()
            await self._clock.sleep(EXPIRY_SWEEP_S)

    def expire(self) -> None:
        now = self._clock.now()
        for sid, session in list(self._sessions.items()):
            if session.expires_at <= now:
                del self._sessions[sid]
        horizon = (now - CLIP_TTL).timestamp()
        for clip in self._clips.glob("*/*.mp4"):
            try:
                if clip.stat().st_mtime < horizon:
                    clip.unlink()
            except FileNotFoundError:
                continue

    def protected_segment_ids(self) -> set[int]:
        """Segments a live playback session reads: retention must keep them."""
        now = self._clock.now()
        ids: set[int] = set()
        for session in self._sessions.values():
            if session.expires_at > now:
                ids |= session.segment_ids
        return ids

    # -- jobs ------------------------------------------------------------------------------------

    async def _rows(self, camera_id: str, start: datetime, end: datetime) -> list[SegmentRow]:
        async with self._store.read() as conn:
            rows = await sql.list_segments(conn, camera_id, start, end, MAX_SEGMENTS_PER_JOB)
        if not rows:
            raise NotFound("no recorded footage in the requested range", code="no_footage")
        return rows

    async def clip(self, camera_id: str, start: datetime, end: datetime) -> ClipOut:
        if end - start > MAX_CLIP_SPAN:
            raise InvalidInput("a clip may span at most 3600 s", code="invalid_range")
        if self._jobs.locked():
            raise TooManyRequests(
                "too many exports running; retry shortly", retry_after_s=5, code="busy"
            )
        async with self._jobs:
            rows = await self._rows(camera_id, start, end)
            clip_id = secrets.token_hex(8)
            directory = self._clips / camera_id
            directory.mkdir(parents=True, exist_ok=True)
            filename = f"{camera_id}_{start:%Y%m%dT%H%M%SZ}_{clip_id}.mp4"
            with self._hold(r.id for r in rows):  # retention keeps them while we read them
                result = await export_clip(
                    [_ref(self._data_dir, r) for r in rows],
                    start,
                    end,
                    directory / filename,
                    ffmpeg=self._ffmpeg,
                    cache=self.cache,
                    gap_threshold_s=3.0,
                )
        return ClipOut(
            id=clip_id,
            camera_id=camera_id,
            filename=filename,
            url=f"/media/clips/{camera_id}/{filename}",
            from_=start,
            to=end,
            requested_seconds=(end - start).total_seconds(),
            covered_seconds=round(result.covered_seconds, 3),
            gaps=[GapOut(from_=g.start, to=g.end) for g in result.gaps],
            size_bytes=result.size_bytes,
            segment_count=result.segment_count,
        )

    async def open_session(self, camera_id: str, start: datetime, end: datetime) -> SessionOut:
        if end - start > MAX_SESSION_SPAN:
            raise InvalidInput("a playback session may span at most 24 h", code="invalid_range")
        if len(self._sessions) >= MAX_SESSIONS:
            self.expire()
            if len(self._sessions) >= MAX_SESSIONS:
                raise TooManyRequests("too many playback sessions", retry_after_s=60, code="busy")
        rows = await self._rows(camera_id, start, end)
        by_path = {self._data_dir / r.path: r for r in rows}
        playlist = await asyncio.to_thread(
            build_playlist,
            [_ref(self._data_dir, r) for r in rows],
            lambda path: f"/media/recordings/{camera_id}/{path.name}",
            start=start,
            end=end,
            cache=self.cache,
        )
        used = frozenset(r.id for p, r in by_path.items() if p not in set(playlist.skipped))
        sid = secrets.token_urlsafe(16)
        expires = self._clock.now() + SESSION_TTL
        self._sessions[sid] = _Session(sid, camera_id, playlist.text, used, expires)
        return SessionOut(
            id=sid,
            camera_id=camera_id,
            playlist_url=f"/media/playback/{sid}.m3u8",
            from_=playlist.start,
            to=playlist.end,
            duration_s=round(playlist.duration_s, 3),
            segment_count=playlist.file_count,
            expires_at=expires,
        )

    def session(self, sid: str) -> tuple[str, str]:
        """(camera_id, playlist text) of a live session, else NotFound."""
        session = self._sessions.get(sid)
        if session is None or session.expires_at <= self._clock.now():
            raise NotFound("no such playback session", code="session_not_found")
        return session.camera_id, session.playlist

    def close_session(self, sid: str) -> str:
        camera_id, _ = self.session(sid)
        del self._sessions[sid]
        return camera_id

    async def snapshot(self, camera_id: str, at: datetime | None) -> bytes:
        """JPEG of the frame nearest `at` from recordings; without `at`, the newest frame."""
        return (await self.still(camera_id, at)).jpeg

    async def still(self, camera_id: str, at: datetime | None) -> Still:
        """Like `snapshot`, with when the chosen frame was recorded and its size."""
        now = self._clock.now()
        start, end = (
            (now - timedelta(days=366), now) if at is None else (at, at + timedelta(milliseconds=1))
        )
        async with self._store.read() as conn:
            if at is None:
                rows = await sql.newest_segments(conn, camera_id, 2)
            else:
                rows = await sql.list_segments(conn, camera_id, start, end, 1)
        if not rows:
            raise NotFound("no recorded frame at that time", code="no_footage")
        for row in rows:
            offset = math.inf if at is None else (at - row.start_time).total_seconds()
            try:
                shot = await asyncio.to_thread(take_snapshot, self._data_dir / row.path, offset)
            except MediaError:
                continue  # a newest file with no complete fragment yet: take the one before
            frame_at = row.start_time + timedelta(seconds=shot.offset_s)
            return Still(shot.jpeg, frame_at, shot.width, shot.height)
        raise NotFound("no decodable frame at that time", code="no_footage")


@dataclass(frozen=True)
class Still:
    """A JPEG from recordings and the wall-clock time of the frame it shows."""

    jpeg: bytes
    frame_at: datetime
    width: int
    height: int
