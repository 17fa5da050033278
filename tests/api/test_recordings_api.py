"""Segments, timeline, gaps and recorded media over HTTP: shapes, bounds, Range, traversal."""

from __future__ import annotations

import os
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from heldar.app import Kernel
from tests.api.conftest import AddFootage
from tests.conftest import ClientAs
from tests.support.recordings import T0, Run

WINDOW = {
    "from": (T0 - timedelta(minutes=5)).isoformat(),
    "to": (T0 + timedelta(minutes=5)).isoformat(),
}


@pytest.fixture
async def footage(add_footage: AddFootage) -> tuple[Run, Run]:
    first, second = await add_footage(3, (20, 2))
    return first, second


async def test_segments_timeline_and_gaps(
    client: httpx.AsyncClient, footage: tuple[Run, Run]
) -> None:
    first, _second = footage
    segments = (await client.get("/api/v1/cameras/cam/segments", params=WINDOW)).json()
    assert len(segments) == 5
    assert set(segments[0]) == {
        "id",
        "camera_id",
        "start_time",
        "end_time",
        "duration_s",
        "codec",
        "width",
        "height",
        "size_bytes",
        "locked",
        "incident_id",
        "url",
    }
    assert segments[0]["url"] == f"/media/recordings/cam/{first.segments[0].path.name}"
    limited = (
        await client.get("/api/v1/cameras/cam/segments", params={**WINDOW, "limit": 2})
    ).json()
    assert len(limited) == 2
    timeline = (await client.get("/api/v1/cameras/cam/timeline", params=WINDOW)).json()
    assert timeline["camera_id"] == "cam"
    assert timeline["from"].startswith("2026-11-25T11:55")
    assert len(timeline["ranges"]) == 2
    assert timeline["segment_count"] == 5
    assert abs(timeline["recorded_seconds"] - 10) < 1
    gaps = (await client.get("/api/v1/cameras/cam/gaps", params=WINDOW)).json()
    assert gaps["gap_count"] == 1
    assert abs(gaps["total_gap_seconds"] - 20) < 1
    assert set(gaps["gaps"][0]) == {"from", "to", "seconds"}


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2026-11-25T12:00:00Z", "to": "2026-11-25T11:00:00Z"},
        {"from": "2026-11-25T12:00:00Z", "to": "2026-11-25T12:00:00Z"},
        {"from": "2026-11-25T12:00:00", "to": "2026-11-25T13:00:00Z"},
        {"from": "2020-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
        {"from": "1990-01-01T00:00:00Z", "to": "1990-01-02T00:00:00Z"},
        {"from": "yesterday"},
        {"limit": 0},
        {"limit": 5001},
    ],
)
async def test_bad_ranges_are_422(
    client: httpx.AsyncClient, footage: tuple[Run, Run], params: dict[str, object]
) -> None:
    for what in ("segments", "timeline", "gaps"):
        if "limit" in params and what != "segments":
            continue
        response = await client.get(f"/api/v1/cameras/cam/{what}", params=params)
        assert response.status_code == 422, (what, params, response.text)


async def test_media_file_with_range(client: httpx.AsyncClient, footage: tuple[Run, Run]) -> None:
    first, _ = footage
    path = first.segments[0].path
    url = f"/media/recordings/cam/{path.name}"
    whole = await client.get(url)
    assert whole.status_code == 200
    assert whole.headers["content-type"] == "video/mp4"
    assert whole.content == path.read_bytes()
    part = await client.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.content == path.read_bytes()[100:200]


async def test_media_needs_auth_and_scope(
    anon_client: httpx.AsyncClient, client_as: ClientAs, footage: tuple[Run, Run]
) -> None:
    first, _ = footage
    url = f"/media/recordings/cam/{first.segments[0].path.name}"
    assert (await anon_client.get(url)).status_code == 401
    viewer = await client_as("viewer")
    assert (await viewer.get(url)).status_code == 200
    scoped = await client_as("viewer", camera_ids=["other"])
    hidden = await scoped.get(url)
    assert hidden.status_code == 404
    assert hidden.json()["error"] == "not_found"


@pytest.mark.parametrize(
    "path",
    [
        "/media/recordings/cam/..%2F..%2Fheldar.db",
        "/media/recordings/cam/%2e%2e%2f%2e%2e%2fheldar.db",
        "/media/recordings/..%2Fcam/20261125_120000.mp4",
        "/media/recordings/cam/..%5C..%5Cheldar.db",
        "/media/recordings/cam/%2Fetc%2Fpasswd",
        "/media/recordings/cam/20261125_120000.mp4%00.txt",
        "/media/recordings/cam/20261125_120000.MP4",
        "/media/recordings/CAM/20261125_120000.mp4",
        "/media/recordings/cam/20261125_999999.mp4",
        "/media/recordings/cam/20300101_000000.mp4",
    ],
)
async def test_traversal_and_bad_names_all_fail_the_same_way(
    client: httpx.AsyncClient, footage: tuple[Run, Run], path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 404, response.text
    assert response.json() == {"error": "not_found", "detail": "no such recording"}


async def test_symlink_out_of_the_root_is_not_served(
    app: FastAPI, client: httpx.AsyncClient, footage: tuple[Run, Run]
) -> None:
    kernel: Kernel = app.state.kernel
    link = kernel.settings.data_dir / "recordings" / "cam" / "20300101_000000.mp4"
    os.symlink(kernel.settings.data_dir / "heldar.db", link)
    response = await client.get(f"/media/recordings/cam/{link.name}")
    assert response.status_code == 404
