"""ASGI middleware: body limit (before parsing), JSON-only bodies, security headers.

Pure ASGI (not BaseHTTPMiddleware) so streaming bodies are counted as they arrive and a large
upload is refused with 413 without ever being buffered, and a form or text body sent to a JSON
endpoint is refused with 415 before anything reads it (it is also what a CSRF form post looks like).
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# One policy for every answer, the dashboard's included: scripts and styles only from our own
# files (no inline script, no eval), video from our own URLs or MSE blobs, fetch/EventSource/
# WebSocket only to our own origin (CSP3 'self' covers same-origin ws/wss), no framing, no plugins.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' blob: data:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "worker-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
]
_NO_STORE = (b"cache-control", b"no-store")


class BodyLimitMiddleware:
    """Answers 413 `payload_too_large` when a body exceeds its limit (declared or streamed):
    `max_bytes`, or the larger limit `per_path` gives an exact path (detection ingest)."""

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, per_path: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.default_max_bytes = max_bytes
        self.per_path = per_path or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.per_path.get(scope.get("path", ""), self.default_max_bytes)
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _reject(send, 400, "bad_request", "invalid Content-Length")
                    return
                if declared > max_bytes:
                    await _reject(send, 413, "payload_too_large", _too_large(max_bytes))
                    return
        received = 0
        rejected = False

        async def limited_receive() -> Message:
            # Over the limit: answer 413 ourselves and tell the app the client went away.
            nonlocal received, rejected
            message = await receive()
            if message["type"] == "http.request" and not rejected:
                received += len(message.get("body", b""))
                if received > max_bytes:
                    rejected = True
                    await _reject(send, 413, "payload_too_large", _too_large(max_bytes))
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not rejected:
                await send(message)

        await self.app(scope, limited_receive, guarded_send)


def _too_large(max_bytes: int) -> str:
    return f"request body larger than {max_bytes} bytes"


JSON_PREFIXES = ("/api/",)
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def is_json_media_type(content_type: str) -> bool:
    """`application/json` or `application/<anything>+json`, parameters ignored."""
    media = content_type.split(";", 1)[0].strip().lower()
    maintype, _, subtype = media.partition("/")
    return maintype == "application" and (subtype == "json" or subtype.endswith("+json"))


class JsonOnlyMiddleware:
    """Answers 415 `unsupported_media_type` when an API request carries a non-JSON body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in _BODY_METHODS
            and scope["path"].startswith(JSON_PREFIXES)
        ):
            headers = dict(scope.get("headers", []))
            length = headers.get(b"content-length", b"").strip()
            has_body = b"transfer-encoding" in headers or (length not in (b"", b"0"))
            content_type = headers.get(b"content-type", b"").decode("latin-1")
            if has_body and not is_json_media_type(content_type):
                await _reject(
                    send,
                    415,
                    "unsupported_media_type",
                    "this endpoint takes JSON: send Content-Type: application/json",
                )
                return
        await self.app(scope, receive, send)


class SecurityHeadersMiddleware:
    """nosniff, the CSP (frame-ancestors), and `Cache-Control: no-store` unless the route set its
    own (the dashboard's static files do)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
                if b"cache-control" not in present:
                    headers.append(_NO_STORE)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


async def _reject(send: Send, status: int, code: str, detail: str) -> None:
    body = json.dumps({"error": code, "detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
