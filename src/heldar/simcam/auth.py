"""Camera-style RTSP authentication for the simulated camera: Basic and Digest (RFC 2617, MD5).

Owns the challenge headers a 401 carries and the check of an `Authorization` header. Secrets are
compared with `hmac.compare_digest` and never appear in a log line or an exception.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets

REALM = "heldar-simcam"
_PARAM = re.compile(r'([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))')


def _md5_hex(text: str) -> str:
    # MD5 is what RFC 2617 Digest (and every camera) speaks; it is not our password storage.
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def parse_auth_params(text: str) -> dict[str, str]:
    """The `key=value` / `key="value"` pairs of a Digest header, keys lower-cased."""
    return {
        m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
        for m in _PARAM.finditer(text)
    }


class Authenticator:
    """Checks one username/password pair, as a camera with a single account does."""

    def __init__(self, username: str, password: str, *, realm: str = REALM) -> None:
        self._username = username
        self._password = password
        self.realm = realm
        self.nonce = secrets.token_hex(16)

    def __repr__(self) -> str:
        return f"Authenticator(realm={self.realm!r})"

    def challenge_headers(self) -> list[tuple[str, str]]:
        return [
            ("WWW-Authenticate", f'Digest realm="{self.realm}", nonce="{self.nonce}"'),
            ("WWW-Authenticate", f'Basic realm="{self.realm}"'),
        ]

    def check(self, method: str, authorization: str | None) -> bool:
        """True when `authorization` proves the password for a request with this method."""
        if not authorization:
            return False
        scheme, _, credentials = authorization.strip().partition(" ")
        if scheme.lower() == "basic":
            return self._check_basic(credentials.strip())
        if scheme.lower() == "digest":
            return self._check_digest(method, parse_auth_params(credentials))
        return False

    def _check_basic(self, credentials: str) -> bool:
        try:
            decoded = base64.b64decode(credentials, validate=True)
        except (binascii.Error, ValueError):
            return False
        username, sep, password = decoded.partition(b":")
        user_ok = hmac.compare_digest(username, self._username.encode("utf-8"))
        password_ok = hmac.compare_digest(password, self._password.encode("utf-8"))
        return bool(sep) and user_ok and password_ok

    def _check_digest(self, method: str, params: dict[str, str]) -> bool:
        required = ("username", "realm", "nonce", "uri", "response")
        if any(key not in params for key in required):
            return False
        if params.get("algorithm", "MD5").upper() != "MD5":
            return False
        if not hmac.compare_digest(params["nonce"].encode(), self.nonce.encode()):
            return False
        user_ok = hmac.compare_digest(params["username"].encode(), self._username.encode())
        ha1 = _md5_hex(f"{self._username}:{self.realm}:{self._password}")
        ha2 = _md5_hex(f"{method}:{params['uri']}")
        qop = params.get("qop")
        if qop is None:
            expected = _md5_hex(f"{ha1}:{self.nonce}:{ha2}")
        elif qop == "auth" and "nc" in params and "cnonce" in params:
            expected = _md5_hex(f"{ha1}:{self.nonce}:{params['nc']}:{params['cnonce']}:auth:{ha2}")
        else:
            return False
        response_ok = hmac.compare_digest(params["response"].lower().encode(), expected.encode())
        return user_ok and response_ok
