"""CSRF defence for cookie-authenticated requests (SECURITY.md class 7).

A mutation authenticated by the session cookie must carry a custom header (`X-Requested-With`,
which a cross-site form or image cannot send without a CORS preflight we never grant) and come
from our own origin (`Origin`, else `Referer`, matching the request's host or a trusted origin).
Requests authenticated by a header (Bearer, X-API-Key) are not exposed to CSRF and skip this.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from urllib.parse import urlsplit

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "x-requested-with"


def csrf_problem(
    *,
    method: str,
    headers: Mapping[str, str],
    trusted_origins: Collection[str] = (),
) -> str | None:
    """Why a cookie-authenticated request must be refused, or None when it may pass."""
    if method.upper() in SAFE_METHODS:
        return None
    if not headers.get(CSRF_HEADER, "").strip():
        return "cookie-authenticated changes need the X-Requested-With header"
    host = headers.get("host", "").strip().lower()
    origin = headers.get("origin", "").strip()
    if not origin:
        referer = urlsplit(headers.get("referer", "").strip())
        origin = f"{referer.scheme}://{referer.netloc}" if referer.netloc else ""
    if not origin:
        return "cookie-authenticated changes need an Origin header"
    if origin.rstrip("/") in {o.rstrip("/") for o in trusted_origins}:
        return None
    parsed = urlsplit(origin)
    if parsed.scheme not in ("http", "https") or not host or parsed.netloc.lower() != host:
        return "cross-origin request refused"
    return None
