"""Stream URL rules as properties: masking never leaks, credentials round-trip, bad input fails."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from heldar.cameras.urls import mask_url, validate_host, validate_stream_url, with_credentials
from heldar.cameras.vendors import template_url
from heldar.errors import InvalidStreamUrl

secrets = st.text(min_size=1, max_size=40).filter(lambda s: s.strip() != "")
hosts = st.sampled_from(["10.0.0.1", "cam.local", "[fe80::1]", "example.com"])
paths = st.sampled_from(
    ["/live", "/Streaming/Channels/101", "/cam/realmonitor?channel=1&subtype=0"]
)


@given(username=secrets, password=secrets, host=hosts, path=paths)
def test_credentials_round_trip_through_validation(
    username: str, password: str, host: str, path: str
) -> None:
    base = f"rtsp://{host}:554{path}"
    spliced = with_credentials(base, username, password)
    parsed = validate_stream_url(spliced)
    assert parsed.username == username
    assert parsed.password == password
    assert parsed.url == validate_stream_url(base).url


@given(username=secrets, password=secrets, host=hosts, path=paths)
def test_masked_url_never_contains_the_secret(
    username: str, password: str, host: str, path: str
) -> None:
    spliced = with_credentials(f"rtsp://{host}:554{path}", username, password)
    masked = mask_url(spliced, has_credentials=True)
    assert urlsplit(masked).netloc.startswith("***@")
    userinfo_free = masked.split("@", 1)[1]
    assert userinfo_free == spliced.rsplit("@", 1)[1]
    if len(password) > 3 and password not in f"{host}{path}":
        assert password not in masked
        assert unquote(password) not in masked.split("@", 1)[0]


@given(st.text(max_size=60))
def test_validation_accepts_only_allowed_schemes(raw: str) -> None:
    try:
        parsed = validate_stream_url(raw)
    except InvalidStreamUrl:
        return
    assert urlsplit(parsed.url).scheme in {"rtsp", "rtsps", "http", "https"}
    assert all(0x21 <= ord(c) <= 0x7E for c in parsed.url)
    assert not parsed.url.startswith("-")


@pytest.mark.parametrize("host", ["10.0.0.1", "fe80::1", "cam-1.example.com", "CAM.local"])
def test_valid_hosts(host: str) -> None:
    assert validate_host(host)


@pytest.mark.parametrize("host", ["", "a b", "-x", "x_y", "a..b", "1.2.3.4.5", "cam.local/", "h:1"])
def test_invalid_hosts(host: str) -> None:
    with pytest.raises(InvalidStreamUrl):
        validate_host(host)


def test_ipv6_template_is_bracketed() -> None:
    assert (
        template_url("reolink", "fe80::1", 554, "sub") == "rtsp://[fe80::1]:554/h264Preview_01_sub"
    )
