"""Request-scoped accessors and authorization: the kernel's services, and who is calling.

Every route declares the capability it needs with `Depends(require(Capability.X))` (or one of the
`Annotated` aliases below, which also hand the handler the `Principal`). `require` authenticates
(Bearer, X-API-Key, or the `heldar_session` cookie), enforces CSRF on cookie-authenticated
mutations, checks the capability and audits every refusal. Only the routes in `PUBLIC_ROUTES`
declare none, and `undeclared_routes()` (run by `create_app` and by the route-matrix test) refuses
an app with any other route that does not: deny by default.
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from starlette.routing import WebSocketRoute

from heldar.api.forwarded import Network, client_address, parse_networks
from heldar.app import Kernel
from heldar.auth.audit import AuditLog
from heldar.auth.csrf import csrf_problem
from heldar.auth.models import AuditEvent, AuthMethod, Principal
from heldar.auth.rbac import Capability
from heldar.auth.service import AuthServices, unauthenticated_admin
from heldar.auth.tokens import TokenKind, token_kind
from heldar.cameras.registry import CameraRegistry
from heldar.errors import Forbidden, Unauthorized
from heldar.recording.manager import RecorderManager

SESSION_COOKIE = "heldar_session"
API_KEY_HEADER = "x-api-key"

# The only routes that answer without a credential; HEAD goes with GET.
PUBLIC_ROUTES: dict[str, frozenset[str]] = {
    "/healthz": frozenset({"GET", "HEAD"}),
    "/readyz": frozenset({"GET", "HEAD"}),
    "/api/v1/auth/login": frozenset({"POST"}),
    "/openapi.json": frozenset({"GET", "HEAD"}),
    "/docs": frozenset({"GET", "HEAD"}),
    "/docs/oauth2-redirect": frozenset({"GET", "HEAD"}),
    "/redoc": frozenset({"GET", "HEAD"}),
    # Live view: authorized by the short-lived live token (bound to camera and principal) that
    # `GET/POST /api/v1/cameras/{id}/liveview` issues under `video:live` — never a bare URL.
    "/live/{camera_id}/ws": frozenset({"*"}),
    "/live/{camera_id}/index.m3u8": frozenset({"GET", "HEAD"}),
    "/live/{camera_id}/{part}": frozenset({"GET", "HEAD"}),
    # WHEP (opt-in WebRTC): the offer carries the live token; the session URL it answers with
    # (`Location`) is unguessable and bound to that token's grant.
    "/live/{camera_id}/whep": frozenset({"POST"}),
    "/live/{camera_id}/whep/{session_id}": frozenset({"DELETE", "PATCH"}),
    # The dashboard's static files: public like any login page; every datum comes from /api/v1.
    "/": frozenset({"GET", "HEAD"}),
    "/static/{path:path}": frozenset({"GET", "HEAD"}),
}


# -- services -------------------------------------------------------------------------------------


def get_kernel(request: Request) -> Kernel:
    kernel: Kernel = request.app.state.kernel
    return kernel


def get_cameras(request: Request) -> CameraRegistry:
    return get_kernel(request).cameras


def get_audit(request: Request) -> AuditLog:
    return get_kernel(request).audit


def get_auth(request: Request) -> AuthServices:
    return get_kernel(request).auth


def get_recorder(request: Request) -> RecorderManager:
    return get_kernel(request).recorder


KernelDep = Annotated[Kernel, Depends(get_kernel)]
RecorderDep = Annotated[RecorderManager, Depends(get_recorder)]
CamerasDep = Annotated[CameraRegistry, Depends(get_cameras)]
AuditDep = Annotated[AuditLog, Depends(get_audit)]
AuthDep = Annotated[AuthServices, Depends(get_auth)]


# -- who is calling -------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return parse_networks(entries)


def client_addr(request: Request) -> str | None:
    """The client's address (X-Forwarded-For believed only from HELDAR_TRUSTED_PROXIES)."""
    peer = request.client.host if request.client else None
    trusted = _networks(tuple(get_kernel(request).settings.trusted_proxies))
    return client_address(peer, request.headers.get("x-forwarded-for"), trusted)


def presented_credential(request: Request) -> tuple[str, AuthMethod] | None:
    """The token a request presents and how: Authorization header, X-API-Key, then cookie."""
    authorization = request.headers.get("authorization")
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None
        method: AuthMethod = "api_key" if token_kind(token) is TokenKind.API_KEY else "bearer"
        return token, method
    key = request.headers.get(API_KEY_HEADER)
    if key is not None:
        return key.strip(), "api_key"
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        return cookie, "cookie"
    return None


async def authenticate(request: Request) -> Principal:
    """The request's principal (once per request), or `Unauthorized` — audited."""
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    kernel = get_kernel(request)
    address = client_addr(request)
    if not kernel.auth.enabled:
        principal = unauthenticated_admin(address)
    else:
        presented = presented_credential(request)
        found = None
        if presented is not None:
            token, method = presented
            found = await kernel.auth.authenticate(token, auth_method=method, client_addr=address)
        if found is None:
            reason = "no credential" if presented is None else "invalid or expired credential"
            await _audit_denial(request, "anonymous", address, "auth.denied", reason)
            if presented is None:
                raise Unauthorized(
                    "authentication required: send Authorization: Bearer <token> or X-API-Key",
                    code="unauthorized",
                )
            raise Unauthorized("invalid or expired credential", code="invalid_credential")
        principal = found
    request.state.principal = principal
    return principal


async def _audit_denial(
    request: Request, actor: str, address: str | None, action: str, reason: str
) -> None:
    event = AuditEvent(
        actor=actor,
        action=action,
        outcome="denied",
        target=f"{request.method} {request.url.path}",
        client_addr=address,
        detail={"reason": reason},
    )
    await get_kernel(request).audit.record(event)


class Require:
    """The dependency `require(cap)` returns; the route-matrix test finds routes' needs by it."""

    def __init__(self, capability: Capability) -> None:
        self.capability = capability

    def __repr__(self) -> str:
        return f"require({self.capability.value!r})"

    async def __call__(self, request: Request) -> Principal:
        principal = await authenticate(request)
        if principal.auth_method == "cookie":
            settings = get_kernel(request).settings
            problem = csrf_problem(
                method=request.method,
                headers=request.headers,
                trusted_origins=settings.csrf_trusted_origins,
            )
            if problem is not None:
                await _audit_denial(
                    request, principal.actor, principal.client_addr, "auth.csrf", problem
                )
                raise Forbidden(problem, code="csrf_failed")
        if not principal.can(self.capability):
            reason = f"needs {self.capability.value}"
            await _audit_denial(
                request, principal.actor, principal.client_addr, "auth.forbidden", reason
            )
            raise Forbidden(f"this needs the {self.capability.value} capability", code="forbidden")
        return principal


_REQUIRE = {capability: Require(capability) for capability in Capability}


def require(capability: Capability) -> Require:
    """The dependency that lets a request through only with `capability` (one per capability,
    so FastAPI runs it once per request however often a route and its router declare it)."""
    return _REQUIRE[capability]


# One alias per capability: `principal: CameraRead` declares the need and hands over the caller.
CameraRead = Annotated[Principal, Depends(require(Capability.CAMERA_READ))]
CameraManage = Annotated[Principal, Depends(require(Capability.CAMERA_MANAGE))]
VideoLive = Annotated[Principal, Depends(require(Capability.VIDEO_LIVE))]
VideoPlayback = Annotated[Principal, Depends(require(Capability.VIDEO_PLAYBACK))]
VideoExport = Annotated[Principal, Depends(require(Capability.VIDEO_EXPORT))]
EvidenceManage = Annotated[Principal, Depends(require(Capability.EVIDENCE_MANAGE))]
EventsRead = Annotated[Principal, Depends(require(Capability.EVENTS_READ))]
RecordingManage = Annotated[Principal, Depends(require(Capability.RECORDING_MANAGE))]
AiTasks = Annotated[Principal, Depends(require(Capability.AI_TASKS))]
AiFrames = Annotated[Principal, Depends(require(Capability.AI_FRAMES))]
AiIngest = Annotated[Principal, Depends(require(Capability.AI_INGEST))]
ZonesRead = Annotated[Principal, Depends(require(Capability.ZONES_READ))]
ZonesManage = Annotated[Principal, Depends(require(Capability.ZONES_MANAGE))]
SystemRead = Annotated[Principal, Depends(require(Capability.SYSTEM_READ))]
UsersManage = Annotated[Principal, Depends(require(Capability.USERS_MANAGE))]
AuditRead = Annotated[Principal, Depends(require(Capability.AUDIT_READ))]
WebhooksManage = Annotated[Principal, Depends(require(Capability.WEBHOOKS_MANAGE))]
AccountSelf = Annotated[Principal, Depends(require(Capability.ACCOUNT_SELF))]


# -- deny by default ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RouteInfo:
    """One route of the app as the deny-by-default check sees it."""

    path: str
    methods: frozenset[str]
    capabilities: frozenset[Capability]
    websocket: bool

    @property
    def public(self) -> bool:
        return self.methods <= PUBLIC_ROUTES.get(self.path, frozenset())


def _effective_routes(app: FastAPI) -> list[Any]:
    # FastAPI >= 0.16x keeps included routers nested; iter_route_contexts flattens them with the
    # dependencies the include added. Older versions list every route flat in app.routes.
    try:
        from fastapi.routing import iter_route_contexts  # type: ignore[attr-defined,unused-ignore]
    except ImportError:  # pragma: no cover - older FastAPI
        return list(app.routes)
    return list(iter_route_contexts(app.routes))


def _capabilities(route: Any) -> frozenset[Capability]:
    dependant = getattr(route, "dependant", None)
    found: set[Capability] = set()
    stack = [dependant] if dependant is not None else []
    while stack:
        current = stack.pop()
        if isinstance(current.call, Require):
            found.add(current.call.capability)
        stack.extend(current.dependencies)
    return frozenset(found)


def app_routes(app: FastAPI) -> list[RouteInfo]:
    """Every route the app serves, with the capabilities its dependencies declare."""
    routes = []
    for route in _effective_routes(app):
        methods: Collection[str] | None = getattr(route, "methods", None)
        path = getattr(route, "path", None)
        routes.append(
            RouteInfo(
                path=str(path if path is not None else route),
                methods=frozenset(methods) if methods else frozenset({"*"}),
                capabilities=_capabilities(route),
                websocket=isinstance(getattr(route, "original_route", route), WebSocketRoute),
            )
        )
    return routes


def undeclared_routes(app: FastAPI) -> list[str]:
    """Routes that declare no capability and are not listed public (or public ones that do)."""
    problems = []
    for route in app_routes(app):
        name = f"{'/'.join(sorted(route.methods))} {route.path}"
        if route.public and route.capabilities:
            problems.append(f"{name} is listed public but declares {sorted(route.capabilities)}")
        elif not route.public and not route.capabilities:
            problems.append(f"{name} declares no capability")
    return problems
