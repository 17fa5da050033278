"""Debian Chromium (driven by Playwright, never a downloaded browser) plays the live WebSocket
through Media Source Extensions: time advances, the size matches the camera, latency is low."""

from __future__ import annotations

import shutil
import statistics
from pathlib import Path

import pytest

from tests.live.conftest import LiveSite

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# What the player and the <video> element say, for the failure message when playback never starts.
STATE = """() => { const v = document.getElementById('v');
  return {live: {...window.live, latencies: window.live.latencies.length},
          error: v.error && v.error.message, readyState: v.readyState, time: v.currentTime}; }"""
PAGE = Path(__file__).with_name("player.html").read_text()

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed"),
]


async def test_chromium_plays_the_websocket_stream(site: LiveSite) -> None:
    playwright_api = pytest.importorskip("playwright.async_api")
    view = (await site.http.get("/api/v1/cameras/cam/liveview")).json()
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--autoplay-policy=no-user-gesture-required",
                "--no-sandbox",
                "--no-proxy-server",
            ],
        )
        try:
            page = await browser.new_page()
            requests: list[str] = []
            page.on("request", lambda request: requests.append(request.url))
            await page.set_content(PAGE)
            ws = site.base.replace("http://", "ws://") + view["ws_url"]
            await page.evaluate("url => window.startLive(url)", ws)
            try:
                await page.wait_for_function(
                    "document.getElementById('v').currentTime > 0.5", timeout=20_000
                )
            except playwright_api.Error:
                pytest.fail(f"the video did not play: {await page.evaluate(STATE)}")
            first = await page.evaluate("document.getElementById('v').currentTime")
            await page.wait_for_function(
                f"document.getElementById('v').currentTime > {first} + 2", timeout=20_000
            )
            size = await page.evaluate(
                "[document.getElementById('v').videoWidth, document.getElementById('v').videoHeight]"
            )
            live = await page.evaluate("window.live")
        finally:
            await browser.close()
    assert size == [640, 360]
    assert live["error"] is None and live["ended"] is None
    latencies = live["latencies"][-30:]
    assert len(latencies) >= 20
    median = statistics.median(latencies)
    print(f"kernel-to-screen latency: median {median:.3f} s, max {max(latencies):.3f} s")
    assert median <= 0.5
    assert not any("s3cret" in url for url in requests)
