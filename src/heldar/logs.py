"""Structured logging with credential redaction.

`redact()` is the one function that makes text safe to leave the process: it masks the userinfo of
every URL (`rtsp://user:pass@host` → `rtsp://***@host`) and any registered secret. A logging filter
applies it to every record, so a careless log call cannot leak a camera password. Records carry the
camera they are about as `camera_id` (given with `extra=`, set by `camera_context()`, or read from
the code base's `"camera %s: …"` convention); `HELDAR_LOG_FORMAT=json` writes it as a field.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

# scheme://userinfo@ — userinfo is anything up to the last '@' before the host part ends.
_URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/\s@]*@)+")
_MIN_SECRET_LEN = 4
_secrets: set[str] = set()
_secrets_lock = threading.Lock()
_camera: contextvars.ContextVar[str | None] = contextvars.ContextVar("heldar_camera", default=None)
_CAMERA_PREFIXES = ("camera %s", "camera %r")


@contextlib.contextmanager
def camera_context(camera_id: str) -> Iterator[None]:
    """Records logged inside (and in tasks created inside) carry `camera_id`."""
    token = _camera.set(camera_id)
    try:
        yield
    finally:
        _camera.reset(token)


def _camera_of(record: logging.LogRecord) -> str | None:
    given = getattr(record, "camera_id", None)
    if isinstance(given, str):
        return given
    current = _camera.get()
    if current is not None:
        return current
    args = record.args
    if (
        isinstance(record.msg, str)
        and record.msg.startswith(_CAMERA_PREFIXES)
        and isinstance(args, tuple)
        and args
        and isinstance(args[0], str)
    ):
        return args[0]
    return None


def register_secret(secret: str | None) -> None:
    """Remember a secret so `redact()` masks it wherever it appears (also percent-encoded)."""
    if not secret or len(secret) < _MIN_SECRET_LEN:
        return
    from urllib.parse import quote

    with _secrets_lock:
        _secrets.add(secret)
        _secrets.add(quote(secret, safe=""))


def redact(text: str) -> str:
    """Mask URL credentials and registered secrets in `text`."""
    text = _URL_USERINFO.sub(r"\g<scheme>***@", text)
    with _secrets_lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "***")
    return text


class RedactingFilter(logging.Filter):
    """Renders each record's message once and redacts it (args included)."""

    def filter(self, record: logging.LogRecord) -> bool:
        camera_id = _camera_of(record)
        record.camera_id = redact(camera_id) if camera_id is not None else None
        message = record.getMessage()
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, camera_id (when the record is about a
    camera), plus `extra={"fields": {...}}`. Every value is redacted."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        camera_id = getattr(record, "camera_id", None)
        if isinstance(camera_id, str):
            payload["camera_id"] = redact(camera_id)
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            payload.update({str(k): redact(str(v)) for k, v in fields.items() if k not in payload})
        if record.exc_text:
            payload["exc"] = redact(record.exc_text)
        return json.dumps(payload, ensure_ascii=False)


def configure_logging(level: str = "info", fmt: str = "text") -> None:
    """Install the redacting handler on the root logger (idempotent)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_heldar", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._heldar = True  # type: ignore[attr-defined]
    handler.addFilter(RedactingFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        )
    root.addHandler(handler)
    root.setLevel(level.upper())
    # uvicorn's own loggers propagate to ours, so they are redacted too.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
