"""Frame tickets: proof that an ingest is about a frame the kernel served to a leased worker.

A ticket is `base64url(claims JSON) "." base64url(HMAC-SHA256(key, claims))`, claims being
`{t: task id, c: camera id, s: frame seq, at: captured ms, e: expiry ms, l: lease id}`. It binds
the ingest to (task, camera, frame): a valid ticket fixes `camera_id`, `task_type` and `frame_id`.
The key is derived from `HELDAR_SECRET_KEY` when set, else random per process (tickets live 120 s).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from heldar.clock import Clock
from heldar.errors import Forbidden

TICKET_TTL = timedelta(seconds=120)


@dataclass(frozen=True)
class TicketClaims:
    task_id: str
    camera_id: str
    seq: int
    captured_at: datetime
    lease_id: str

    @property
    def frame_id(self) -> str:
        """`<task id>:<seq>`: two tasks of one camera analyze the same frame independently."""
        return f"{self.task_id}:{self.seq}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TicketSigner:
    def __init__(self, clock: Clock, secret: str | None = None) -> None:
        seed = secret.encode() if secret else secrets.token_bytes(32)
        self._key = hashlib.sha256(b"heldar frame ticket\0" + seed).digest()
        self._clock = clock

    def issue(self, claims: TicketClaims) -> str:
        expires = self._clock.now() + TICKET_TTL
        body = json.dumps(
            {
                "t": claims.task_id,
                "c": claims.camera_id,
                "s": claims.seq,
                "at": int(claims.captured_at.timestamp() * 1000),
                "e": int(expires.timestamp() * 1000),
                "l": claims.lease_id,
            },
            separators=(",", ":"),
        ).encode()
        return f"{_b64(body)}.{_b64(self._mac(body))}"

    def verify(self, ticket: str) -> TicketClaims:
        """The claims of a genuine, unexpired ticket; else 403 `invalid_ticket`."""
        refused = Forbidden("the frame ticket is invalid or expired", code="invalid_ticket")
        body_text, _, mac_text = ticket.partition(".")
        try:
            body, mac = _unb64(body_text), _unb64(mac_text)
        except ValueError:
            raise refused from None
        if not hmac.compare_digest(mac, self._mac(body)):
            raise refused
        try:
            raw = json.loads(body)
            claims = TicketClaims(
                task_id=str(raw["t"]),
                camera_id=str(raw["c"]),
                seq=int(raw["s"]),
                captured_at=datetime.fromtimestamp(raw["at"] / 1000, UTC),
                lease_id=str(raw["l"]),
            )
            expires = datetime.fromtimestamp(raw["e"] / 1000, UTC)
        except (ValueError, KeyError, TypeError):
            raise refused from None
        if expires <= self._clock.now():
            raise refused
        return claims

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self._key, body, hashlib.sha256).digest()
