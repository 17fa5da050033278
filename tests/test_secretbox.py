"""Camera passwords at rest: sealed with AES-GCM under HELDAR_SECRET_KEY, bound to the camera."""

from __future__ import annotations

import pytest

from heldar.errors import ConfigurationError
from heldar.secretbox import SecretBox


def test_sealed_value_round_trips_and_hides_the_secret() -> None:
    box = SecretBox("k" * 32)
    sealed = box.seal("hunter2-password", context="cam1")
    assert sealed.startswith("aesgcm:")
    assert "hunter2" not in sealed
    assert box.open(sealed, context="cam1") == "hunter2-password"
    assert box.seal("hunter2-password", context="cam1") != sealed  # fresh nonce each time


def test_wrong_context_or_key_or_no_key_fails_loudly() -> None:
    sealed = SecretBox("key-one").seal("pw", context="cam1")
    with pytest.raises(ConfigurationError):
        SecretBox("key-one").open(sealed, context="cam2")
    with pytest.raises(ConfigurationError):
        SecretBox("key-two").open(sealed, context="cam1")
    with pytest.raises(ConfigurationError, match="HELDAR_SECRET_KEY"):
        SecretBox(None).open(sealed, context="cam1")


def test_without_a_key_values_are_plain_and_still_readable_with_one() -> None:
    plain = SecretBox(None).seal("pw", context="c")
    assert plain == "plain:pw"
    assert SecretBox("later-key").open(plain, context="c") == "pw"
