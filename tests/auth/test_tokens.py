"""Tokens: 256 random bits, a kind prefix, stored only as SHA-256."""

from __future__ import annotations

import base64
import hashlib

from heldar.auth.tokens import TokenKind, display_prefix, new_token, token_hash, token_kind


def test_tokens_carry_256_random_bits_and_their_kind() -> None:
    tokens = {new_token(TokenKind.SESSION) for _ in range(200)}
    assert len(tokens) == 200
    for token in tokens:
        assert token.startswith("hs_")
        raw = base64.urlsafe_b64decode(token[3:] + "=")
        assert len(raw) * 8 == 256
        assert token_kind(token) is TokenKind.SESSION
    key = new_token(TokenKind.API_KEY)
    assert token_kind(key) is TokenKind.API_KEY


def test_stored_form_is_sha256_and_listing_shows_only_a_prefix() -> None:
    token = new_token(TokenKind.API_KEY)
    assert token_hash(token) == hashlib.sha256(token.encode()).hexdigest()
    assert token not in token_hash(token)
    assert display_prefix(token) == token[:8] and len(display_prefix(token)) < len(token) // 4


def test_foreign_or_oversized_tokens_are_not_ours() -> None:
    assert token_kind("eyJhbGciOiJIUzI1NiJ9.x.y") is None
    assert token_kind("") is None
    assert token_kind("hs_" + "a" * 500) is None
