"""The published OpenAPI document, with how to authenticate and what each operation needs.

Adds the three credential schemes (Bearer, X-API-Key, the session cookie) and, on every operation
that is not public, `security` plus `x-required-capabilities` read from the route's dependencies —
so the contract states the role table's consequences route by route.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from heldar.api.deps import SESSION_COOKIE, app_routes
from heldar.api.raw_body import component_schemas

SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "Session token or API key."},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    "sessionCookie": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE},
}

_CONVERTER = re.compile(r"\{(\w+):\w+\}")


def install_openapi(app: FastAPI) -> None:
    """Make `app.openapi()` describe authentication and per-operation capabilities."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, summary=app.summary, routes=app.routes
        )
        components = schema.setdefault("components", {})
        components["securitySchemes"] = SECURITY_SCHEMES
        for name, body in component_schemas().items():
            components.setdefault("schemas", {}).setdefault(name, body)
        paths = schema.get("paths", {})
        for route in app_routes(app):
            if route.public:
                continue
            for method in route.methods:
                path = _CONVERTER.sub(r"{\1}", route.path)  # OpenAPI paths drop `:path`
                operation = paths.get(path, {}).get(method.lower())
                if operation is None:
                    continue
                operation["security"] = [{name: []} for name in SECURITY_SCHEMES]
                operation["x-required-capabilities"] = sorted(c.value for c in route.capabilities)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
