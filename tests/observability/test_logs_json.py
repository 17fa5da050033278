"""HELDAR_LOG_FORMAT=json: one object a line, the camera as a field, every value redacted."""

from __future__ import annotations

import json
import logging

from heldar.logs import JsonFormatter, RedactingFilter, camera_context, register_secret


def _line(msg: str, *args: object, **extra: object) -> dict[str, object]:
    record = logging.LogRecord("heldar.test", logging.WARNING, __file__, 1, msg, args, None)
    for key, value in extra.items():
        setattr(record, key, value)
    assert RedactingFilter().filter(record)
    parsed: dict[str, object] = json.loads(JsonFormatter().format(record))
    return parsed


def test_the_camera_convention_becomes_a_field() -> None:
    line = _line("camera %s: cannot open %s", "gate", "rtsp://admin:pw123456@10.0.0.5/a")
    assert line["camera_id"] == "gate"
    assert line["msg"] == "camera gate: cannot open rtsp://***@10.0.0.5/a"
    assert line["level"] == "warning" and line["logger"] == "heldar.test"


def test_explicit_and_context_camera_ids() -> None:
    assert _line("event logged", camera_id="yard")["camera_id"] == "yard"
    with camera_context("door"):
        assert _line("sampler restarted")["camera_id"] == "door"
    assert "camera_id" not in _line("no camera here %s", "x")


def test_registered_secrets_are_masked_in_message_and_fields() -> None:
    register_secret("mqtt-pa55word!")
    line = _line(
        "broker said %s", "bad password mqtt-pa55word!", fields={"url": "mqtt://u:mqtt-pa55word!@h"}
    )
    assert "mqtt-pa55word!" not in json.dumps(line)
    assert line["url"] == "mqtt://***@h"
