"""Redaction: no camera password reaches a log line, in a URL or as a registered secret."""

from __future__ import annotations

import json
import logging

import pytest

from heldar.logs import JsonFormatter, RedactingFilter, redact, register_secret


def test_url_userinfo_is_masked() -> None:
    text = "cannot open rtsp://admin:hunter22@10.0.0.1:554/a and http://u:p@h/x"
    assert redact(text) == "cannot open rtsp://***@10.0.0.1:554/a and http://***@h/x"


def test_userinfo_with_at_sign_is_fully_masked() -> None:
    assert redact("rtsp://user:p@ss@host/a") == "rtsp://***@host/a"


def test_registered_secret_is_masked_plain_and_encoded() -> None:
    register_secret("Zq9/x:y@z")
    assert redact("bad password Zq9/x:y@z here") == "bad password *** here"
    assert redact("url had Zq9%2Fx%3Ay%40z") == "url had ***"


def test_filter_redacts_message_args_and_json(caplog: pytest.LogCaptureFixture) -> None:
    record = logging.LogRecord(
        "t", logging.INFO, __file__, 1, "open %s failed", ("rtsp://a:topsecret1@h/x",), None
    )
    assert RedactingFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "open rtsp://***@h/x failed"
    assert "topsecret1" not in json.dumps(line)
