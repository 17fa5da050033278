"""Clips, HLS playback sessions and snapshots over HTTP, on real recorded files."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import av
import httpx
import pytest
from fastapi import FastAPI

from heldar.app import Kernel
from heldar.playback.fmp4 import Fmp4Cache
from tests.api.conftest import AddFootage
from tests.support.recordings import T0, Run


def _iso(offset_s: float) -> str:
    return (T0 + timedelta(seconds=offset_s)).isoformat()


@pytest.fixture
async def footage(add_footage: AddFootage) -> tuple[Run, Run]:
    first, second = await add_footage(4, (10, 2))
    return first, second


async def test_clip_export_reports_coverage_and_gaps(
    app: FastAPI, client: httpx.AsyncClient, footage: tuple[Run, Run]
) -> None:
    response = await client.post("/api/v1/cameras/cam/clip", json={"from": _iso(1), "to": _iso(21)})
    assert response.status_code == 200, response.text
    clip = response.json()
    assert clip["requested_seconds"] == 20
    assert 9 <= clip["covered_seconds"] <= 13  # 8 s before the gap + 4 s after, ± a GOP
    assert len(clip["gaps"]) == 1
    assert set(clip["gaps"][0]) == {"from", "to"}
    assert clip["segment_count"] == 6
    media = await client.get(clip["url"])
    assert media.status_code == 200
    assert clip["filename"] in media.headers["content-disposition"]
    kernel: Kernel = app.state.kernel
    path = kernel.settings.data_dir / "clips" / "cam" / clip["filename"]
    with av.open(str(path)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert 9 * 15 <= frames <= 13 * 15
    assert list((kernel.settings.data_dir / "clips" / "cam").glob("*.partial*")) == []


async def test_clip_bounds(client: httpx.AsyncClient, footage: tuple[Run, Run]) -> None:
    too_long = await client.post(
        "/api/v1/cameras/cam/clip", json={"from": _iso(0), "to": _iso(3601)}
    )
    assert too_long.status_code == 422
    nothing = await client.post(
        "/api/v1/cameras/cam/clip", json={"from": _iso(-600), "to": _iso(-500)}
    )
    assert nothing.status_code == 404
    assert nothing.json()["error"] == "no_footage"
    extra = await client.post(
        "/api/v1/cameras/cam/clip", json={"from": _iso(0), "to": _iso(5), "codec": "-f lavfi"}
    )
    assert extra.status_code == 422


async def test_concurrent_exports_beyond_the_limit_get_429(
    app: FastAPI, client: httpx.AsyncClient, footage: tuple[Run, Run]
) -> None:
    kernel: Kernel = app.state.kernel
    limit = kernel.settings.media_job_concurrency
    body = {"from": _iso(0), "to": _iso(6)}
    answers = await asyncio.gather(
        *(client.post("/api/v1/cameras/cam/clip", json=body) for _ in range(limit + 2))
    )
    codes = sorted(a.status_code for a in answers)
    assert codes.count(200) >= 1
    assert 429 in codes
    busy = next(a for a in answers if a.status_code == 429)
    assert int(busy.headers["retry-after"]) >= 1


async def test_playback_session_lifecycle(
    client: httpx.AsyncClient, footage: tuple[Run, Run]
) -> None:
    opened = await client.post(
        "/api/v1/cameras/cam/playback/sessions", json={"from": _iso(0), "to": _iso(30)}
    )
    assert opened.status_code == 201, opened.text
    session = opened.json()
    assert session["segment_count"] == 6
    assert 11 <= session["duration_s"] <= 13
    playlist = await client.get(session["playlist_url"])
    assert playlist.status_code == 200
    assert playlist.headers["content-type"].startswith("application/vnd.apple.mpegurl")
    assert playlist.text.startswith("#EXTM3U")
    assert "/media/recordings/cam/" in playlist.text
    assert "#EXT-X-ENDLIST" in playlist.text
    closed = await client.delete(f"/api/v1/playback/sessions/{session['id']}")
    assert closed.status_code == 204
    assert (await client.get(session["playlist_url"])).status_code == 404


async def test_snapshots(client: httpx.AsyncClient, footage: tuple[Run, Run]) -> None:
    at = await client.get("/api/v1/cameras/cam/snapshot", params={"at": _iso(3.5)})
    assert at.status_code == 200, at.text
    assert at.headers["content-type"] == "image/jpeg"
    assert at.content[:2] == b"\xff\xd8"
    newest = await client.get("/api/v1/cameras/cam/snapshot")
    assert newest.status_code == 200
    assert newest.content[:2] == b"\xff\xd8"
    in_gap = await client.get("/api/v1/cameras/cam/snapshot", params={"at": _iso(12)})
    assert in_gap.status_code == 404
    naive = await client.get("/api/v1/cameras/cam/snapshot", params={"at": "2026-11-25T12:00:03"})
    assert naive.status_code == 422


@pytest.mark.parametrize(
    "path",
    [
        "/media/clips/cam/..%2F..%2Fheldar.db",
        "/media/clips/cam/x.mp4",
        "/media/playback/..%2Fheldar.db",
        "/media/playback/short.m3u8",
    ],
)
async def test_media_names_are_checked(client: httpx.AsyncClient, path: str) -> None:
    assert (await client.get(path)).status_code == 404


async def test_playback_cache_is_warm_from_indexing_and_after_a_restart(
    app: FastAPI, footage: tuple[Run, Run]
) -> None:
    kernel: Kernel = app.state.kernel
    files = [s.path for run in footage for s in run.segments]
    # every segment the indexer took in was read into the playlist cache as it was indexed
    assert len(kernel.playback.cache) == len(files)
    kernel.playback.cache = Fmp4Cache()  # as after a restart
    assert await kernel.playback.warm_up() == len(files)
    assert len(kernel.playback.cache) == len(files)
    files[0].unlink()  # a vanished file is skipped, not fatal
    kernel.playback.cache = Fmp4Cache()
    assert await kernel.playback.warm_up() == len(files) - 1
