"""argon2id hashing: OWASP parameters or better, no truncation, same cost for unknown users."""

from __future__ import annotations

import statistics
import time

import pytest
from argon2 import extract_parameters

from heldar.auth.passwords import PasswordHasher
from heldar.settings import OWASP_ARGON2_MIN_MEMORY_KIB, Settings


@pytest.fixture
def hasher() -> PasswordHasher:
    return PasswordHasher(memory_kib=OWASP_ARGON2_MIN_MEMORY_KIB, time_cost=2, concurrency=2)


async def test_hash_is_argon2id_at_owasp_strength_and_verifies(hasher: PasswordHasher) -> None:
    stored = await hasher.hash("correct horse battery")
    params = extract_parameters(stored)
    assert stored.startswith("$argon2id$")
    assert params.memory_cost >= OWASP_ARGON2_MIN_MEMORY_KIB and params.time_cost >= 2
    assert await hasher.verify(stored, "correct horse battery")
    assert not await hasher.verify(stored, "correct horse batterY")
    assert not await hasher.verify("not-a-hash", "correct horse battery")


async def test_long_passwords_are_not_truncated(hasher: PasswordHasher) -> None:
    long = "p" * 1023 + "a"
    stored = await hasher.hash(long)
    assert await hasher.verify(stored, long)
    assert not await hasher.verify(stored, "p" * 1023 + "b")
    assert not await hasher.verify(stored, "p" * 72)


async def test_unknown_user_costs_the_same_as_a_wrong_password(hasher: PasswordHasher) -> None:
    stored = await hasher.hash("the real one")
    await hasher.warm_up()

    async def timed(target: str | None) -> float:
        started = time.perf_counter()
        assert not await hasher.verify(target, "a guess")
        return time.perf_counter() - started

    wrong = statistics.median([await timed(stored) for _ in range(5)])
    unknown = statistics.median([await timed(None) for _ in range(5)])
    assert 0.5 < unknown / wrong < 2.0, (unknown, wrong)


def test_weaker_stored_hashes_are_upgraded() -> None:
    strong = PasswordHasher(memory_kib=65_536, time_cost=2, concurrency=1)
    weak = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA"
    assert strong.needs_rehash(weak)


def test_settings_refuse_parameters_below_owasp() -> None:
    with pytest.raises(ValueError, match="greater than or equal"):
        Settings(password_hash_memory_kib=8192)
    with pytest.raises(ValueError, match="OWASP"):
        Settings(password_hash_time_cost=1, password_hash_memory_kib=19_456)
    assert Settings(password_hash_time_cost=1, password_hash_memory_kib=47_104)
    assert Settings().password_hash_memory_kib >= OWASP_ARGON2_MIN_MEMORY_KIB
