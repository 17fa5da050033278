"""Auth settings: secure by default, lists from comma-separated variables, bad values refused."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from heldar.settings import Settings, is_loopback


def test_secure_defaults() -> None:
    settings = Settings()
    assert settings.auth_enabled is True
    assert settings.login_max_failures == 5 and settings.login_lockout_min == 15
    assert settings.auth_session_ttl_h == 12
    assert settings.trusted_proxies == [] and settings.bootstrap_admin_password is None
    assert settings.hash_concurrency >= 1


def test_lists_come_from_comma_separated_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELDAR_TRUSTED_PROXIES", "10.0.0.1, 192.168.0.0/16 ,::1")
    monkeypatch.setenv("HELDAR_CSRF_TRUSTED_ORIGINS", "https://nvr.example")
    settings = Settings()
    assert settings.trusted_proxies == ["10.0.0.1", "192.168.0.0/16", "::1"]
    assert settings.csrf_trusted_origins == ["https://nvr.example"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HELDAR_TRUSTED_PROXIES", "not-an-address"),
        ("HELDAR_LOGIN_MAX_FAILURES", "0"),
        ("HELDAR_BOOTSTRAP_ADMIN_PASSWORD", "short"),
        ("HELDAR_BOOTSTRAP_ADMIN_USER", "bad name"),
        ("HELDAR_PASSWORD_HASH_MEMORY_KIB", "4096"),
    ],
)
def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "nvr.example"])
def test_auth_off_is_refused_off_loopback(host: str) -> None:
    with pytest.raises(ValidationError, match="non-loopback"):
        Settings(auth_enabled=False, api_host=host)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.1", "::1", "[::1]", "localhost"])
def test_auth_off_is_allowed_on_loopback(host: str) -> None:
    assert is_loopback(host)
    assert Settings(auth_enabled=False, api_host=host).auth_enabled is False


def test_bootstrap_password_is_not_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELDAR_BOOTSTRAP_ADMIN_PASSWORD", "very-secret-admin-pw")
    assert "very-secret" not in repr(Settings())
