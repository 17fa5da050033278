"""The one place where errors become HTTP problems: `{"error": code, "detail": …}`.

Validation errors are rebuilt from pydantic's without the offending `input` values, because the
input may be a password. Unexpected exceptions are logged with their traceback and answered with a
bare 500 that reveals nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from heldar.errors import HeldarError

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}


def problem(
    status: int, code: str, detail: Any, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail}, status_code=status, headers=headers)


def _safe_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    safe = []
    for err in exc.errors():
        loc = [str(part) for part in err.get("loc", ())]
        safe.append({"loc": loc, "msg": str(err.get("msg", "")), "type": str(err.get("type", ""))})
    return safe


async def _heldar_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HeldarError)
    if exc.status >= 500:
        log.warning("%s: %s", exc.code, exc.detail)
    return problem(exc.status, exc.code, exc.detail, exc.headers() or None)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return problem(422, "validation_error", _safe_errors(exc))


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    return problem(exc.status_code, code, exc.detail, dict(exc.headers or {}))


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error", exc_info=exc)
    return problem(500, "internal_error", "internal error; see the kernel log")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(HeldarError, _heldar_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
