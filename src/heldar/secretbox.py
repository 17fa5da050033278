"""Encryption at rest for stored credentials (camera passwords).

With `HELDAR_SECRET_KEY` set, values are sealed with AES-256-GCM under a key derived from it by
HKDF-SHA256 and stored as `aesgcm:<base64(nonce | ciphertext)>`. Without it they are stored as
`plain:<value>` (the database file is then the secret, mode 0600). Opening an `aesgcm:` value
without the key is a `ConfigurationError`, never a silent empty password.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from heldar.errors import ConfigurationError

_PLAIN = "plain:"
_SEALED = "aesgcm:"
_NONCE_BYTES = 12


class SecretBox:
    """Seals and opens short secrets; `key_material` is HELDAR_SECRET_KEY or None."""

    def __init__(self, key_material: str | None) -> None:
        self._aead: AESGCM | None = None
        if key_material:
            key = HKDF(
                algorithm=hashes.SHA256(), length=32, salt=None, info=b"heldar secretbox v1"
            ).derive(key_material.encode())
            self._aead = AESGCM(key)

    @property
    def encrypts(self) -> bool:
        return self._aead is not None

    def seal(self, value: str, *, context: str) -> str:
        """Seal `value`; `context` (e.g. the camera id) is bound as associated data."""
        if self._aead is None:
            return _PLAIN + value
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, value.encode(), context.encode())
        return _SEALED + base64.b64encode(nonce + sealed).decode()

    def open(self, stored: str, *, context: str) -> str:
        if stored.startswith(_PLAIN):
            return stored[len(_PLAIN) :]
        if not stored.startswith(_SEALED):
            raise ConfigurationError("stored secret has an unknown format")
        if self._aead is None:
            raise ConfigurationError(
                "a stored secret is encrypted but HELDAR_SECRET_KEY is not set"
            )
        blob = base64.b64decode(stored[len(_SEALED) :])
        try:
            plain = self._aead.decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], context.encode())
        except InvalidTag as exc:
            raise ConfigurationError(
                "a stored secret cannot be decrypted: HELDAR_SECRET_KEY changed?"
            ) from exc
        return plain.decode()
