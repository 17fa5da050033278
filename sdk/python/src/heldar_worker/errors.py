"""The exception tree of the worker SDK; `HeldarClient` maps every HTTP answer onto it.

HeldarError                  status (None when no answer came), code, detail
├── TransportError           the kernel could not be reached, or did not answer in time   retry
├── AuthError                401 / 403: the key is missing, revoked or lacks a capability  fatal
├── RateLimited              429 / 503 with Retry-After (`retry_after`, seconds)           retry
├── ServerError              any other 5xx                                                 retry
├── Rejected                 any other 4xx: the kernel refused this request as sent        drop
└── ContractError            an answer that does not fit the contract (bad JSON, a frame
                             that is not a JPEG, a frame_url on another host)              drop

`retryable` says which ones a caller may simply try again. No exception ever carries the API key:
messages are built from the status, the kernel's `{"error", "detail"}` body and the URL path.
"""

from __future__ import annotations

from typing import ClassVar


class HeldarError(Exception):
    """Base of every error the SDK raises on purpose."""

    retryable: ClassVar[bool] = False

    def __init__(self, detail: str, *, status: int | None = None, code: str = "error") -> None:
        super().__init__(f"{status} {code}: {detail}" if status is not None else detail)
        self.detail = detail
        self.status = status
        self.code = code


class TransportError(HeldarError):
    retryable = True


class AuthError(HeldarError):
    pass


class RateLimited(HeldarError):
    retryable = True

    def __init__(self, detail: str, *, status: int, code: str, retry_after: float) -> None:
        super().__init__(detail, status=status, code=code)
        self.retry_after = retry_after


class ServerError(HeldarError):
    retryable = True


class Rejected(HeldarError):
    pass


class ContractError(HeldarError):
    pass
