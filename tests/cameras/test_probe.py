"""How a failed stream probe is named: FFmpeg's own words decide, never the URL it quotes."""

from __future__ import annotations

import av.error
import pytest

from heldar.cameras.probe import classify


@pytest.mark.parametrize("port", [40312, 40155, 8554])
def test_a_404_is_unreachable_whatever_digits_the_port_has(port: int) -> None:
    url = f"rtsp://127.0.0.1:{port}/cam9"
    error = av.error.HTTPNotFoundError(-1482175736, "Server returned 404 Not Found", url)
    assert str(port) in str(error)  # FFmpeg's message quotes the URL
    assert classify(error) == "unreachable"


def test_refusals_are_auth_failed() -> None:
    url = "rtsp://127.0.0.1:8554/cam1"
    unauthorized = av.error.HTTPUnauthorizedError(-1, "Server returned 401 Unauthorized", url)
    assert classify(unauthorized) == "auth_failed"
    other = av.error.HTTPClientError(-1, "Server returned 403 Forbidden (access denied)", url)
    assert classify(other) == "auth_failed"
    assert classify(OSError("Server returned 4XX Client Error, but not one of 40{0,1,3,4}")) == (
        "unreachable"
    )
