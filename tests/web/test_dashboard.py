"""The dashboard in Debian's Chromium against a real kernel and simulated cameras (issue 10)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import av
import httpx
import pytest

from tests.web.conftest import (
    ADMIN_PASSWORD,
    VIEWER_PASSWORD,
    XSS_NAME,
    WebKernel,
    login_page,
    wait_recorded,
)

pytestmark = pytest.mark.slow

TILE = "[data-testid=camera-tile]"


def tile(page: Any, camera_id: str) -> Any:
    return page.locator(f'{TILE}[data-camera-id="{camera_id}"]')


def test_static_files_are_served_safely(web_kernel: WebKernel) -> None:
    index = httpx.get(web_kernel.base + "/")
    assert index.status_code == 200
    assert index.headers["content-type"].startswith("text/html")
    csp = index.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp and "media-src 'self' blob:" in csp
    assert "<script>" not in index.text  # no inline script
    js = httpx.get(web_kernel.base + "/static/js/app.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    for bad in (
        "/static/../pyproject.toml",
        "/static/%2e%2e/%2e%2e/etc/passwd",
        "/static/.x",
        "/static/js/..%2fapp.js",
        "/static/js\\app.js",
        "/static//etc/passwd",
    ):
        assert httpx.get(web_kernel.base + bad).status_code == 404, bad


def test_login_wall_and_states(web_kernel: WebKernel, browser: Any) -> None:
    page = login_page(browser, web_kernel, "admin", ADMIN_PASSWORD)
    page.wait_for_selector(TILE)
    page.get_by_role("button", name="9 per page").click()
    assert page.locator(TILE).count() == 5
    for camera_id in ("cam1", "cam2", "cam3", "cam4"):
        page.wait_for_selector(
            f'{TILE}[data-camera-id="{camera_id}"][data-state="recording"]', timeout=45_000
        )
        assert tile(page, camera_id).locator("video").count() == 1
    # A picture in every tile: live video where live view exists, else the refreshing snapshot.
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid=camera-tile]')].slice(0, 4).every(t =>
             t.dataset.mode === 'live' ? t.querySelector('video').videoWidth > 0
                                       : t.querySelector('img').naturalWidth > 0)""",
        timeout=45_000,
    )
    page.screenshot(path=str(web_kernel.artifacts / "wall-1366x768.png"))
    page.set_viewport_size({"width": 1920, "height": 1080})
    page.screenshot(path=str(web_kernel.artifacts / "wall-1920x1080.png"))
    # Keyboard: focus a tile, arrow to the next, Enter opens it.
    page.locator(TILE).first.focus()
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.dataset.cameraId") == "cam2"
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-testid=camera-timeline]")
    assert page.url.endswith("#/camera/cam2")
    page.context.close()


def test_wall_plays_live_video(web_kernel: WebKernel, browser: Any) -> None:
    probe = web_kernel.admin.get("/api/v1/cameras/cam1/liveview")
    if probe.status_code in (404, 405):
        pytest.skip("live view (issue 9) not served by this kernel yet: tiles show snapshots")
    page = login_page(browser, web_kernel, "admin", ADMIN_PASSWORD)
    page.wait_for_selector(f'{TILE}[data-mode="live"]', timeout=30_000)
    script = """() => [...document.querySelectorAll('[data-testid=camera-tile] video')].slice(0, 4)
                 .map(v => [v.currentTime, v.videoWidth])"""
    ready = script.replace("() =>", "() => (", 1) + ").every(([t, w]) => t > 0 && w > 0)"
    page.wait_for_function(ready, timeout=45_000)
    before = page.evaluate(script)
    page.wait_for_timeout(3000)
    after = page.evaluate(script)
    assert all(a[0] > b[0] for a, b in zip(after, before, strict=True)), (before, after)
    page.context.close()


def test_hostile_name_renders_as_text(web_kernel: WebKernel, browser: Any) -> None:
    page = login_page(browser, web_kernel, "admin", ADMIN_PASSWORD)
    page.get_by_role("button", name="9 per page").click()
    name = tile(page, "spare").locator(".name")
    name.wait_for()
    assert name.text_content() == XSS_NAME
    assert page.locator("img[src='x']").count() == 0
    page.goto(web_kernel.base + "/#/camera/spare")
    page.wait_for_selector("h1")
    assert page.locator("h1").text_content() == XSS_NAME
    page.wait_for_timeout(500)
    assert page.dialogs == []  # type: ignore[attr-defined]
    page.context.close()


def test_viewer_sees_no_edit_controls(web_kernel: WebKernel, browser: Any) -> None:
    page = login_page(browser, web_kernel, "viewer", VIEWER_PASSWORD)
    page.wait_for_selector(TILE)
    assert page.get_by_role("link", name="Add camera").count() == 0
    page.goto(web_kernel.base + "/#/camera/cam1")
    page.wait_for_selector("[data-testid=camera-timeline]")
    for hook in ("recording-settings", "record-trigger", "evidence-lock", "clip-export"):
        assert page.get_by_test_id(hook).count() == 0, hook
    page.goto(web_kernel.base + "/#/zones/cam1")
    page.wait_for_selector("[data-testid=zone-editor]")
    assert page.get_by_test_id("zone-editor").get_attribute("data-editable") == "false"
    assert page.get_by_test_id("zone-form").count() == 0
    assert page.get_by_role("button", name="Delete").count() == 0
    # ...and the admin does see them.
    admin = login_page(browser, web_kernel, "admin", ADMIN_PASSWORD)
    admin.goto(web_kernel.base + "/#/camera/cam1")
    admin.wait_for_selector("[data-testid=recording-settings]")
    assert admin.get_by_test_id("record-trigger").count() == 1
    page.context.close()
    admin.context.close()


def test_export_clip_downloads_playable_file(
    web_kernel: WebKernel, browser: Any, tmp_path: Path
) -> None:
    wait_recorded(web_kernel, "cam2", 30)
    page = login_page(browser, web_kernel, "admin", ADMIN_PASSWORD)
    page.goto(web_kernel.base + "/#/camera/cam2")
    page.get_by_test_id("clip-export").wait_for()
    end = datetime.now().replace(microsecond=0) - timedelta(
        seconds=5
    )  # local time, like the inputs
    page.get_by_test_id("clip-from").fill(
        (end - timedelta(seconds=20)).strftime("%Y-%m-%dT%H:%M:%S")
    )
    page.get_by_test_id("clip-to").fill(end.strftime("%Y-%m-%dT%H:%M:%S"))
    page.get_by_test_id("clip-export").click()
    link = page.get_by_test_id("clip-download")
    link.wait_for(timeout=60_000)
    with page.expect_download() as info:
        link.click()
    target = tmp_path / "clip.mp4"
    info.value.save_as(target)
    with av.open(str(target)) as container:
        stream = container.streams.video[0]
        duration = float(container.duration or 0) / 1_000_000
        frames = sum(1 for _ in container.decode(stream))
    assert 17 <= duration <= 23, duration
    assert frames > 100
    page.context.close()


def test_zone_drawn_saved_and_reloaded(web_kernel: WebKernel, browser: Any) -> None:
    page = login_page(browser, web_kernel, "admin", ADMIN_PASSWORD)
    page.goto(web_kernel.base + "/#/zones/cam3")
    editor = page.get_by_test_id("zone-editor")
    editor.wait_for()
    overlay = editor.locator("svg.overlay")
    box = overlay.bounding_box()
    points = [(0.2, 0.3), (0.7, 0.25), (0.8, 0.8), (0.25, 0.75)]
    for x, y in points:
        overlay.click(position={"x": box["width"] * x, "y": box["height"] * y})
    assert editor.get_attribute("data-draft-points") == "4"
    page.get_by_test_id("zone-name").fill("Door <b>")
    page.get_by_test_id("zone-save").click()
    page.get_by_test_id("zone-item").first.wait_for()
    saved = web_kernel.api("GET", "/cameras/cam3/zones")
    assert len(saved) == 1 and saved[0]["name"] == "Door <b>"
    polygon = saved[0]["polygon"]
    for (x, y), (sx, sy) in zip(points, polygon, strict=True):
        assert abs(x - sx) < 0.01 and abs(y - sy) < 0.01
    page.screenshot(path=str(web_kernel.artifacts / "zones-editor.png"))
    page.reload()
    item = page.get_by_test_id("zone-item").first
    item.wait_for()
    assert item.locator("strong").text_content() == "Door <b>"
    assert item.get_by_test_id("zone-coords").text_content().replace(" ", "") == str(
        polygon
    ).replace(" ", "")
    assert page.locator("svg.overlay polygon.zone").count() == 1
    page.context.close()


def test_tile_turns_offline_when_camera_stops(web_kernel: WebKernel, browser: Any) -> None:
    page = login_page(browser, web_kernel, "admin", ADMIN_PASSWORD)
    page.get_by_role("button", name="9 per page").click()
    spare = tile(page, "spare")
    page.wait_for_selector(
        f'{TILE}[data-camera-id="spare"][data-state="recording"]', timeout=45_000
    )
    web_kernel.spare.terminate()
    web_kernel.spare.wait(timeout=15)
    stopped = time.monotonic()
    page.wait_for_function(
        """() => { const t = document.querySelector('[data-testid=camera-tile][data-camera-id=spare]');
                   return t && ['offline', 'error'].includes(t.dataset.state); }""",
        timeout=15_000,
    )
    assert time.monotonic() - stopped <= 15
    assert spare.locator("[data-testid=state-badge]").text_content() in ("offline", "error")
    page.context.close()


def test_events_page_streams_new_events(web_kernel: WebKernel, browser: Any) -> None:
    page = login_page(browser, web_kernel, "admin", ADMIN_PASSWORD)
    page.goto(web_kernel.base + "/#/events")
    page.wait_for_selector("[data-testid=events-status]:has-text('live')", timeout=15_000)
    web_kernel.api(
        "POST",
        "/ai/events",
        json={
            "camera_id": "cam1",
            "task_type": "door",
            "detections": [],
            "event": {"event_type": "door_open", "severity": "warning", "payload": {"n": "<b>x"}},
        },
    )
    row = page.locator("[data-testid=events-table] tr", has_text="door_open")
    row.wait_for(timeout=10_000)
    assert "<b>x" in (row.text_content() or "")
    page.get_by_label("Severity").select_option("critical")
    page.wait_for_selector("[data-testid=events-status]:has-text('live')")
    assert page.locator("[data-testid=events-table] tr", has_text="door_open").count() == 0
    page.context.close()


def test_other_pages_render_and_fit_the_screen(web_kernel: WebKernel, browser: Any) -> None:
    page = login_page(browser, web_kernel, "admin", ADMIN_PASSWORD)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    for hash_, text in (("#/ai", "Samplers"), ("#/system", "Storage"), ("#/add-camera", "Vendor"),
                        ("#/camera/cam1", "Export clip"), ("#/wall", "Camera 1")):  # fmt: skip
        page.goto(web_kernel.base + "/" + hash_)
        page.get_by_text(text).first.wait_for()
        assert page.locator("main [role=alert]").count() == 0, hash_
        overflow = page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, (hash_, overflow)
    assert page.get_by_role("link", name="Add camera").count() == 1
    assert errors == []
    page.get_by_test_id("user-menu").click()
    page.get_by_test_id("sign-out").click()
    page.get_by_test_id("login-username").wait_for()
    page.reload()
    page.get_by_test_id("login-username").wait_for()  # the session really ended
    page.context.close()


def test_admin_edits_schedules_and_adds_users(web_kernel: WebKernel, browser: Any) -> None:
    page = login_page(browser, web_kernel, "admin", ADMIN_PASSWORD)
    page.goto(web_kernel.base + "/#/camera/cam4")
    page.get_by_test_id("schedule-start").fill("07:30")
    page.get_by_test_id("schedule-end").fill("19:00")
    page.get_by_test_id("schedule-add").click()
    page.get_by_test_id("schedule-item").first.wait_for()
    [schedule] = web_kernel.api("GET", "/cameras/cam4/schedules")
    assert (schedule["days"], schedule["time_start"], schedule["time_end"]) == (
        [0, 1, 2, 3, 4],
        "07:30",
        "19:00",
    )
    page.get_by_role("button", name="Delete schedule 07:30–19:00").click()
    page.get_by_test_id("schedule-item").wait_for(state="detached")
    assert web_kernel.api("GET", "/cameras/cam4/schedules") == []
    page.goto(web_kernel.base + "/#/system")
    form = page.get_by_role("form", name="Add user")
    form.get_by_label("User name").fill("guard1")
    form.get_by_label("Password").fill("guard-Passw0rd-1")
    form.get_by_label("Role").select_option("guard")
    form.get_by_role("button", name="Add user").click()
    page.get_by_role("cell", name="guard1").first.wait_for()
    users = {u["username"]: u["role"] for u in web_kernel.api("GET", "/users")}
    assert users["guard1"] == "guard"
    page.context.close()


def test_timeline_click_plays_recording_across_segments(
    web_kernel: WebKernel, browser: Any
) -> None:
    wait_recorded(web_kernel, "cam1", 40)
    page = login_page(browser, web_kernel, "admin", ADMIN_PASSWORD)
    page.goto(web_kernel.base + "/#/camera/cam1")
    bar = page.get_by_test_id("camera-timeline")
    bar.wait_for()
    page.get_by_label("Timeline zoom").select_option(label="5 min")
    page.get_by_role("button", name="Now").click()
    page.wait_for_timeout(500)
    start = datetime.fromisoformat(bar.get_attribute("data-from"))
    end = datetime.fromisoformat(bar.get_attribute("data-to"))
    target = datetime.now(UTC) - timedelta(seconds=30)
    box = bar.bounding_box()
    share = (target - start) / (end - start)
    bar.click(position={"x": box["width"] * share, "y": box["height"] / 2})
    video = page.get_by_test_id("camera-video")
    page.wait_for_function(
        "() => { const v = document.querySelector('[data-testid=camera-video]');"
        " return v.dataset.playingAt && v.currentTime > 0 && !v.paused; }",
        timeout=30_000,
    )
    first = datetime.fromisoformat(video.get_attribute("data-playing-at"))
    t0 = page.evaluate("document.querySelector('[data-testid=camera-video]').currentTime")
    # Clicked position maps to the target within a pixel's worth of time; allow ±2 s overall.
    clicked = start + (end - start) * (round(box["width"] * share) / box["width"])
    assert abs((first - clicked).total_seconds()) <= 2.5, (first, clicked)
    page.screenshot(path=str(web_kernel.artifacts / "camera-page.png"))
    # Keeps playing across at least two segment boundaries (2 s segments).
    page.wait_for_function(
        f"() => document.querySelector('[data-testid=camera-video]').currentTime > {t0} + 5",
        timeout=20_000,
    )
    later = datetime.fromisoformat(video.get_attribute("data-playing-at"))
    assert (later - first).total_seconds() >= 4.5
    # The timeline works from the keyboard: arrows move the cursor, + zooms in.
    now_value = int(bar.get_attribute("aria-valuenow"))
    bar.focus()
    page.keyboard.press("ArrowLeft")
    assert int(bar.get_attribute("aria-valuenow")) < now_value
    page.keyboard.press("+")
    assert page.get_by_label("Timeline zoom").input_value() == "5"
    page.context.close()
