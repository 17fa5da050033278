"""Bearer secrets: 256-bit random tokens, shown once, stored only as their SHA-256.

A token names its kind in a short prefix (`hs_` session, `hk_` API key) so a leaked one is easy to
recognise in a secret scanner and the kernel knows which table to look in without trying both.
"""

from __future__ import annotations

import hashlib
import secrets
from enum import StrEnum

TOKEN_BYTES = 32  # 256 bits
MAX_TOKEN_LENGTH = 128


class TokenKind(StrEnum):
    SESSION = "hs_"
    API_KEY = "hk_"


def new_token(kind: TokenKind) -> str:
    """A fresh random token of `kind` (prefix + 43 URL-safe characters)."""
    return kind.value + secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """The stored form of a token: hex SHA-256. Tokens are random, so no salt or stretching."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_kind(token: str) -> TokenKind | None:
    """The kind a presented token claims, or None when it is not one of ours."""
    if len(token) > MAX_TOKEN_LENGTH:
        return None
    for kind in TokenKind:
        if token.startswith(kind.value):
            return kind
    return None


def display_prefix(token: str) -> str:
    """The first characters of a token, safe to show in listings to tell keys apart."""
    return token[:8]
