"""One pull for many viewers; a viewer that stops reading is dropped; camera outage ends viewers."""

from __future__ import annotations

import asyncio

import pytest

from tests.live.conftest import LiveSite
from tests.live.support import WsViewer, stalled_viewer, ws_url
from tests.support.waiting import eventually, processes_with

VIEWERS = 20


async def _ws_path(site: LiveSite) -> str:
    view = await site.http.get("/api/v1/cameras/cam/liveview")
    assert view.status_code == 200, view.text
    path: str = view.json()["ws_url"]
    return path


async def _status(site: LiveSite) -> dict[str, object]:
    pulls = (await site.http.get("/api/v1/live")).json()["pulls"]
    assert len(pulls) <= 1
    return pulls[0] if pulls else {}


@pytest.mark.slow
async def test_twenty_viewers_share_one_pull_and_a_stalled_one_is_dropped(site: LiveSite) -> None:
    viewers = [WsViewer(ws_url(site.base, await _ws_path(site))) for _ in range(VIEWERS)]
    tasks = [asyncio.create_task(v.run()) for v in viewers]
    try:
        await asyncio.gather(*(v.wait_fragments(15) for v in viewers))
        assert len(processes_with(f":{site.camera.port}/cam")) == 1
        assert (await _status(site))["viewers"] == VIEWERS
        async with stalled_viewer(site.base, await _ws_path(site)):
            status = await eventually(
                lambda: _dropped(site), timeout=20, what="the stalled viewer to be dropped"
            )
            assert status["viewers"] == VIEWERS
            before = [len(v.fragments) for v in viewers]
            await asyncio.gather(
                *(v.wait_fragments(n + 15) for v, n in zip(viewers, before, strict=True))
            )
        assert all(v.end_message is None for v in viewers)
        assert len(processes_with(f":{site.camera.port}/cam")) == 1
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _dropped(site: LiveSite) -> dict[str, object] | None:
    status = await _status(site)
    return status if status.get("dropped_viewers") == 1 else None


async def test_camera_outage_ends_viewers_and_the_pull_retries(site: LiveSite) -> None:
    viewer = WsViewer(ws_url(site.base, await _ws_path(site)))
    task = asyncio.create_task(viewer.run())
    try:
        await viewer.wait_fragments(5)
        await site.camera.stop()
        async with asyncio.timeout(20):
            await task
        assert viewer.end_message is not None
        assert viewer.close_code == 1011
        assert "camera" in viewer.end_message["reason"]
        status = await _status(site)
        assert status == {} or status["restarts"] >= 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    await eventually(
        lambda: not processes_with(f":{site.camera.port}/cam"), timeout=10, what="no ffmpeg"
    )
