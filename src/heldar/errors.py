"""The exception tree of the kernel; `heldar.api.errors` maps it to HTTP problems.

HeldarError                      code, status, detail — never carries a secret
├── ConfigurationError           bad settings or environment (start-up refuses)          500
├── Unauthorized                 no, invalid or expired credential (WWW-Authenticate)     401
├── Forbidden                    authenticated, but lacks the capability / CSRF proof     403
├── NotFound                     object missing *or* out of the caller's scope           404
├── Conflict                     duplicate id, state that forbids the change             409
├── InvalidInput                 well-formed JSON with a bad value                        422
│   └── InvalidStreamUrl         SECURITY.md class 1: scheme, characters, port, host       422
├── PayloadTooLarge              body over the configured limit                           413
├── UnsupportedMediaType         a JSON endpoint was sent something else                  415
├── TooManyRequests              throttled (login failures, overload); Retry-After        429
├── StoreBusy                    the store is locked by another writer; Retry-After       503
└── MediaError                   ffmpeg / PyAV failed on something we own                 502

`HeldarError.headers()` names the HTTP headers an error needs (Retry-After, WWW-Authenticate).
"""

from __future__ import annotations

from typing import ClassVar


class HeldarError(Exception):
    """Base of every error the kernel raises on purpose."""

    status: ClassVar[int] = 500
    default_code: ClassVar[str] = "internal_error"

    def __init__(self, detail: str, *, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code or self.default_code

    def headers(self) -> dict[str, str]:
        """HTTP headers the answer to this error must carry."""
        return {}


class ConfigurationError(HeldarError):
    default_code = "configuration_error"


class Unauthorized(HeldarError):
    status = 401
    default_code = "unauthorized"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class Forbidden(HeldarError):
    status = 403
    default_code = "forbidden"


class NotFound(HeldarError):
    status = 404
    default_code = "not_found"


class Conflict(HeldarError):
    status = 409
    default_code = "conflict"


class InvalidInput(HeldarError):
    status = 422
    default_code = "invalid_input"


class InvalidStreamUrl(InvalidInput):
    default_code = "invalid_stream_url"


class PayloadTooLarge(HeldarError):
    status = 413
    default_code = "payload_too_large"


class UnsupportedMediaType(HeldarError):
    status = 415
    default_code = "unsupported_media_type"


class TooManyRequests(HeldarError):
    status = 429
    default_code = "too_many_requests"

    def __init__(self, detail: str, *, retry_after_s: int, code: str | None = None) -> None:
        super().__init__(detail, code=code)
        self.retry_after_s = max(1, int(retry_after_s))

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


class StoreBusy(HeldarError):
    status = 503
    default_code = "store_busy"
    retry_after_s: ClassVar[int] = 2

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


class MediaError(HeldarError):
    status = 502
    default_code = "media_error"
