"""The dashboard's files at the root (issue 10): `/` is index.html, `/static/{path}` the rest.

Served from the package's `web/static` directory only: the path is checked against a strict
pattern, resolved, and must stay under that root (symlinks included); the content type comes from
a fixed table by extension, never from the file. Everything the page shows comes from /api/v1.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, JSONResponse, Response

router = APIRouter(tags=["web"], include_in_schema=False)

STATIC_ROOT = Path(str(resources.files("heldar.web").joinpath("static"))).resolve()
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
}
# Segments of letters, digits, dot, dash, underscore; no segment starting with a dot.
_SAFE_PATH = re.compile(
    r"^(?:[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}/){0,4}[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$"
)
# The page must pick up a new release at once; assets may be cached briefly and revalidated.
INDEX_CACHE = "no-cache"
ASSET_CACHE = "public, max-age=300, must-revalidate"


def static_file(path: str) -> Path | None:
    """The file under STATIC_ROOT that `path` names, or None (bad name, traversal, unknown type)."""
    if not _SAFE_PATH.fullmatch(path) or ".." in path:
        return None
    candidate = (STATIC_ROOT / path).resolve()
    if not candidate.is_relative_to(STATIC_ROOT) or not candidate.is_file():
        return None
    if candidate.suffix.lower() not in CONTENT_TYPES:
        return None
    return candidate


def _not_found() -> Response:
    return JSONResponse({"error": "not_found", "detail": "no such file"}, status_code=404)


@router.api_route("/", methods=["GET", "HEAD"])
async def index() -> Response:
    """The single page; routing happens client-side in the `#/` fragment."""
    return FileResponse(
        STATIC_ROOT / "index.html",
        media_type=CONTENT_TYPES[".html"],
        headers={"cache-control": INDEX_CACHE},
    )


@router.api_route("/static/{path:path}", methods=["GET", "HEAD"])
async def static(path: str) -> Response:
    """A dashboard asset: ES modules, CSS, icons and the vendored hls.js."""
    found = static_file(path)
    if found is None:
        return _not_found()
    return FileResponse(
        found,
        media_type=CONTENT_TYPES[found.suffix.lower()],
        headers={"cache-control": ASSET_CACHE},
    )
