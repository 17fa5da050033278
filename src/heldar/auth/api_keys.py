"""API keys: long-lived credentials for AI workers and machine clients.

A key carries its own capabilities (its role's, or a narrower list), an optional camera scope and
an expiry. It can never grant more than its creator holds. The secret is shown once at creation and
stored only as SHA-256; revocation takes effect on the next request.
"""

from __future__ import annotations

from datetime import timedelta

from heldar.auth.audit import AuditLog
from heldar.auth.models import ApiKey, ApiKeyCreate, ApiKeyCreated, ApiKeyRecord, Principal
from heldar.auth.rbac import capabilities_of
from heldar.auth.tokens import TokenKind, display_prefix, new_token, token_hash
from heldar.clock import Clock
from heldar.errors import Forbidden, InvalidInput, NotFound
from heldar.store import auth as sql
from heldar.store.engine import Store

MAX_KEY_LIFETIME = timedelta(days=3650)
_TOUCH_EVERY = timedelta(minutes=1)
RESOLVE_CACHE_S = 5.0
"""How long a resolved key is reused without reading the store (SQLite only: one kernel owns the
store, and every revocation goes through `revoke`, which empties the cache at once). Saves a
store round trip per request for busy workers (ingest). On PostgreSQL, where another kernel may
revoke, every request reads the store."""


def public_key(record: ApiKeyRecord) -> ApiKey:
    return ApiKey(**record.model_dump(exclude={"token_hash"}))


class ApiKeyService:
    def __init__(self, store: Store, clock: Clock, audit: AuditLog, *, default_ttl: timedelta):
        self._store = store
        self._clock = clock
        self._audit = audit
        self._default_ttl = default_ttl
        self._cache_s = RESOLVE_CACHE_S if store.dialect == "sqlite" else 0.0
        self._cache: dict[str, tuple[float, ApiKeyRecord]] = {}

    async def list(self) -> list[ApiKey]:
        async with self._store.read() as conn:
            return [public_key(record) for record in await sql.list_api_keys(conn)]

    async def create(self, body: ApiKeyCreate, *, creator: Principal) -> ApiKeyCreated:
        now = self._clock.now()
        role_caps = capabilities_of(body.role)
        caps = frozenset(body.capabilities) if body.capabilities is not None else role_caps
        if not caps <= role_caps:
            extra = ", ".join(sorted(caps - role_caps))
            raise InvalidInput(
                f"capabilities: {extra} not granted by role {body.role.value!r}",
                code="capabilities_exceed_role",
            )
        if not caps <= creator.capabilities:
            raise Forbidden("a key cannot grant more than its creator holds", code="forbidden")
        scope = body.camera_ids
        if creator.camera_scope is not None and (
            scope is None or not set(scope) <= creator.camera_scope
        ):
            raise Forbidden("a key cannot see cameras its creator cannot", code="camera_scope")
        expires_at = body.expires_at or now + self._default_ttl
        if expires_at.tzinfo is None:
            raise InvalidInput("expires_at: needs a time zone (RFC 3339)", code="invalid_field")
        if not now < expires_at <= now + MAX_KEY_LIFETIME:
            raise InvalidInput(
                "expires_at: must be in the future and within 10 years", code="invalid_field"
            )
        token = new_token(TokenKind.API_KEY)
        values = {
            "name": body.name,
            "prefix": display_prefix(token),
            "token_hash": token_hash(token),
            "role": body.role.value,
            "capabilities": sorted(caps),
            "camera_ids": sorted(set(scope)) if scope is not None else None,
            "created_by": creator.user_id,
            "created_at": now,
            "expires_at": expires_at,
            "last_used_at": None,
            "revoked_at": None,
        }
        async with self._store.write() as conn:
            key_id = await sql.insert_api_key(conn, values)
            await self._audit.record_in(
                conn,
                creator.audit_event(
                    "api_key.create",
                    target=f"key:{key_id}",
                    detail={
                        "name": body.name,
                        "role": body.role.value,
                        "capabilities": sorted(caps),
                    },
                ),
            )
            record = await sql.get_api_key(conn, key_id)
        assert record is not None
        return ApiKeyCreated(**public_key(record).model_dump(), token=token)

    async def revoke(self, key_id: int, *, actor: Principal) -> None:
        async with self._store.write() as conn:
            record = await sql.get_api_key(conn, key_id)
            if record is None:
                raise NotFound(f"API key {key_id} not found", code="api_key_not_found")
            self._cache.clear()  # from now on no request resolves it from memory
            if await sql.revoke_api_key(conn, key_id, self._clock.now()):
                await self._audit.record_in(
                    conn,
                    actor.audit_event(
                        "api_key.revoke", target=f"key:{key_id}", detail={"name": record.name}
                    ),
                )
        self._cache.clear()  # and what a request read while the revocation was not yet committed

    async def _record(self, digest: str) -> ApiKeyRecord | None:
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > self._clock.monotonic():
            return cached[1]
        async with self._store.read() as conn:
            record = await sql.get_api_key_by_hash(conn, digest)
        if record is not None:
            self._remember(digest, record)
        return record

    def _remember(self, digest: str, record: ApiKeyRecord) -> None:
        if self._cache_s <= 0:
            return
        if len(self._cache) >= 4096:
            self._cache.clear()
        self._cache[digest] = (self._clock.monotonic() + self._cache_s, record)

    async def resolve(self, token: str, *, client_addr: str | None) -> Principal | None:
        """The principal of a live key, or None (unknown, revoked, expired)."""
        record = await self._record(token_hash(token))
        now = self._clock.now()
        if record is None or record.revoked_at is not None or record.expires_at <= now:
            return None
        if record.last_used_at is None or now - record.last_used_at >= _TOUCH_EVERY:
            async with self._store.write() as conn:
                await sql.touch_api_key(conn, record.id, now)
            self._remember(record.token_hash, record.model_copy(update={"last_used_at": now}))
        scope = frozenset(record.camera_ids) if record.camera_ids is not None else None
        return Principal(
            username=record.name,
            role=record.role,
            # Never more than the role grants today, even if the role map narrowed since.
            capabilities=frozenset(record.capabilities) & capabilities_of(record.role),
            camera_scope=scope,
            auth_method="api_key",
            api_key_id=record.id,
            client_addr=client_addr,
        )
