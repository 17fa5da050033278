"""Auth types: the `Principal` a request acts as, users, sessions, API keys, audit entries.

Records (`*Record`) are what the store holds and never leave the kernel; the other models are what
clients send and receive. No model that reaches a client has a field for a password or a token
hash; the only token a client ever sees is the one it is given once, on login or key creation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr

from heldar.auth.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from heldar.auth.rbac import Capability, Role
from heldar.cameras.models import CAMERA_ID_PATTERN
from heldar.errors import Forbidden, NotFound

AuthMethod = Literal["bearer", "cookie", "api_key", "disabled", "cli"]
Outcome = Literal["ok", "failed", "denied", "throttled"]

USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"
Username = Annotated[
    str,
    Field(
        pattern=USERNAME_PATTERN,
        max_length=64,
        description="Letters, digits, '.', '_', '@', '-'; case-insensitive (stored lowercase).",
    ),
]


def _password_length(lower: int) -> AfterValidator:
    def check(value: SecretStr) -> SecretStr:
        if not lower <= len(value.get_secret_value()) <= MAX_PASSWORD_LENGTH:
            raise ValueError(f"must be {lower}..{MAX_PASSWORD_LENGTH} characters")
        return value

    return AfterValidator(check)


NewPassword = Annotated[
    SecretStr,
    _password_length(MIN_PASSWORD_LENGTH),
    Field(description="8..1024 characters, never truncated. Write-only."),
]
GivenPassword = Annotated[SecretStr, _password_length(1), Field(description="Write-only.")]
CameraIdList = Annotated[
    list[Annotated[str, Field(pattern=CAMERA_ID_PATTERN, max_length=64)]],
    Field(max_length=1024),
]


@dataclass(frozen=True)
class Principal:
    """Who a request acts as, with what it may do. Built per request by `heldar.api.deps`."""

    username: str
    role: Role
    capabilities: frozenset[Capability]
    camera_scope: frozenset[str] | None
    auth_method: AuthMethod
    user_id: int | None = None
    api_key_id: int | None = None
    session_hash: str | None = None
    client_addr: str | None = None

    @property
    def actor(self) -> str:
        """The name written to the audit log: the user name, or `key:<name>` for an API key."""
        return f"key:{self.username}" if self.api_key_id is not None else self.username

    def can(self, capability: Capability) -> bool:
        return capability in self.capabilities

    def sees_camera(self, camera_id: str) -> bool:
        return self.camera_scope is None or camera_id in self.camera_scope

    def check_camera(self, camera_id: str) -> None:
        """Refuse an out-of-scope camera exactly as a missing one (SECURITY.md class 3)."""
        if not self.sees_camera(camera_id):
            raise NotFound(f"camera {camera_id!r} not found", code="camera_not_found")

    def audit_event(
        self,
        action: str,
        *,
        outcome: Outcome = "ok",
        target: str | None = None,
        camera_id: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> AuditEvent:
        """An audit event with this principal as actor, from its client address."""
        return AuditEvent(
            actor=self.actor,
            action=action,
            outcome=outcome,
            target=target,
            camera_id=camera_id,
            client_addr=self.client_addr,
            detail=detail,
        )

    def check_unscoped(self, what: str) -> None:
        """Refuse an action that a camera-scoped principal must not take (it would widen scope)."""
        if self.camera_scope is not None:
            raise Forbidden(f"a camera-scoped credential cannot {what}", code="camera_scope")


# -- users ----------------------------------------------------------------------------------------


class UserRecord(BaseModel):
    """A user as stored (carries the password hash; internal only)."""

    model_config = ConfigDict(frozen=True)

    id: int
    username: str
    role: Role
    password_hash: str
    enabled: bool
    camera_ids: list[str] | None
    created_at: datetime
    updated_at: datetime
    password_changed_at: datetime
    last_login_at: datetime | None


class User(BaseModel):
    """A user as clients see it."""

    id: int
    username: str
    role: Role
    enabled: bool
    camera_ids: list[str] | None = Field(description="Camera scope; null means every camera.")
    locked_until: datetime | None = Field(
        default=None, description="Set while failed logins keep the account locked."
    )
    created_at: datetime
    updated_at: datetime
    last_login_at: datetime | None


class UserCreate(BaseModel):
    """Body of `POST /users`."""

    model_config = ConfigDict(extra="forbid")

    username: Username
    password: NewPassword
    role: Role = Role.VIEWER
    enabled: bool = True
    camera_ids: CameraIdList | None = None


class UserUpdate(BaseModel):
    """Body of `PATCH /users/{id}`. Changing your own password needs `current_password`."""

    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    enabled: bool | None = None
    camera_ids: CameraIdList | None = None
    password: NewPassword | None = None
    current_password: GivenPassword | None = None


class PasswordChange(BaseModel):
    """Body of `POST /auth/password`: change your own password; your other sessions end."""

    model_config = ConfigDict(extra="forbid")

    current_password: GivenPassword
    new_password: NewPassword


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: GivenPassword


class LoginResponse(BaseModel):
    token: str = Field(description="Session token: send as `Authorization: Bearer …`. Shown once.")
    expires_at: datetime
    user: User


class Me(BaseModel):
    """Answer of `GET /auth/me`."""

    username: str
    role: Role
    user_id: int | None
    api_key_id: int | None
    auth_method: AuthMethod
    capabilities: list[Capability]
    camera_ids: list[str] | None


# -- sessions -------------------------------------------------------------------------------------


class SessionRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    token_hash: str
    user_id: int
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    client_addr: str | None


# -- API keys -------------------------------------------------------------------------------------


class ApiKeyRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    name: str
    prefix: str
    token_hash: str
    role: Role
    capabilities: list[Capability]
    camera_ids: list[str] | None
    created_by: int | None
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKey(BaseModel):
    """An API key as listed (never its secret; `prefix` tells keys apart)."""

    id: int
    name: str
    prefix: str
    role: Role
    capabilities: list[Capability]
    camera_ids: list[str] | None
    created_by: int | None
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreate(BaseModel):
    """Body of `POST /api-keys`. Capabilities default to the role's; they may only narrow it."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=64)]
    role: Role = Role.INTEGRATION
    capabilities: Annotated[list[Capability], Field(max_length=64)] | None = None
    camera_ids: CameraIdList | None = None
    expires_at: datetime | None = Field(
        default=None, description="Default: now + HELDAR_API_KEY_TTL_DAYS."
    )


class ApiKeyCreated(ApiKey):
    token: str = Field(description="The key: send as `X-API-Key`. Shown once, never again.")


# -- audit ----------------------------------------------------------------------------------------


class AuditEvent(BaseModel):
    """What a caller asks the audit log to record; the log adds seq, time and the chain hashes."""

    model_config = ConfigDict(frozen=True)

    actor: str
    action: str
    outcome: Outcome = "ok"
    target: str | None = None
    camera_id: str | None = None
    client_addr: str | None = None
    detail: dict[str, Any] | None = None


class AuditEntry(BaseModel):
    """One stored, chained audit entry (also the API shape of `GET /audit`)."""

    model_config = ConfigDict(frozen=True)

    seq: int
    ts: datetime
    actor: str
    action: str
    outcome: Outcome
    target: str | None
    camera_id: str | None
    client_addr: str | None
    detail: str | None = Field(description="Canonical JSON of the details, or null.")
    prev_hash: str
    hash: str
