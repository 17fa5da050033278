"""SECURITY.md class 1 over HTTP: every dangerous stream URL is a 422 that creates nothing."""

from __future__ import annotations

import httpx
import pytest

BAD_URLS = [
    ("file:///etc/passwd", "invalid_url_scheme"),
    ("concat:/etc/passwd|/etc/shadow", "invalid_url_scheme"),
    ("subfile:,start,0,end,0,:/etc/passwd", "invalid_url_scheme"),
    ("pipe:0", "invalid_url_scheme"),
    ("tee:rtsp://a/b", "invalid_url_scheme"),
    ("-f lavfi -i testsrc", "invalid_url_characters"),
    ("-i", "invalid_url_characters"),
    ("rtsp://10.0.0.1/a\r\nX-Injected: 1", "invalid_url_characters"),
    ("rtsp://10.0.0.1/a\nb", "invalid_url_characters"),
    ("rtsp://10.0.0.1/a b", "invalid_url_characters"),
    ("rtsp://10.0.0.1/a\x00b", "invalid_url_characters"),
    ("rtsp://10.0.0.1/a\tb", "invalid_url_characters"),
    ("rtsp://10.0.0.1/caméra", "invalid_url_characters"),
    ("rtsp://10.0.0.1:0/a", "invalid_url_port"),
    ("rtsp://10.0.0.1:65536/a", "invalid_url_port"),
    ("rtsp://10.0.0.1:abc/a", "invalid_url_port"),
    ("rtsp://10.0.0.1:/a", "invalid_url_port"),
    ("gopher://10.0.0.1/a", "invalid_url_scheme"),
    ("ftp://10.0.0.1/a", "invalid_url_scheme"),
    ("data:text/plain,hello", "invalid_url_scheme"),
    ("rtsp:///nohost", "invalid_host"),
    ("rtsp://bad_host!/a", "invalid_host"),
    ("10.0.0.1/a", "invalid_url_scheme"),
    ("rtsp://10.0.0.1/a\\..\\b", "invalid_url_characters"),
    ("rtsp://10.0.0.1/a#frag", "invalid_stream_url"),
]


@pytest.mark.parametrize(("url", "code"), BAD_URLS)
async def test_bad_stream_url_is_422_and_creates_nothing(
    client: httpx.AsyncClient, url: str, code: str
) -> None:
    for field in ("main_stream_url", "sub_stream_url"):
        body = {
            "name": "x",
            "vendor": "generic",
            "main_stream_url": "rtsp://10.0.0.1/ok",
            field: url,
        }
        response = await client.post("/api/v1/cameras", json=body)
        assert response.status_code == 422, response.text
        problem = response.json()
        assert problem["error"] == code, problem
        assert field in problem["detail"]
    assert (await client.get("/api/v1/cameras")).json() == []


@pytest.mark.parametrize(
    "url",
    [
        "rtsp://10.0.0.1/live",
        "rtsps://cam.example.com:322/stream?token=abc",
        "http://10.0.0.1:8080/video.mjpg",
        "https://cam.example.com/hls/index.m3u8",
        "rtsp://[fe80::1]:554/a",
        "RTSP://Cam.Example.COM/a",
    ],
)
async def test_good_stream_urls_are_accepted(client: httpx.AsyncClient, url: str) -> None:
    response = await client.post("/api/v1/cameras", json={"name": "ok", "main_stream_url": url})
    assert response.status_code == 201, response.text
    assert response.json()["main_stream_url"].lower() == url.lower()
