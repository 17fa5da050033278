"""Settings come from HELDAR_* variables, are bounded, and pick the right store driver."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from heldar.settings import Settings


def test_defaults_and_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HELDAR_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("HELDAR_API_PORT", "8123")
    settings = Settings()
    assert settings.api_host == "127.0.0.1"
    assert settings.api_port == 8123
    assert settings.data_dir == (tmp_path / "d").resolve()
    assert settings.store_url == f"sqlite+aiosqlite:///{(tmp_path / 'd' / 'heldar.db').resolve()}"


def test_postgres_url_gets_asyncpg(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELDAR_DATABASE_URL", "postgresql://u@db:5432/heldar")
    assert Settings().store_url == "postgresql+asyncpg://u@db:5432/heldar"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HELDAR_API_PORT", "0"),
        ("HELDAR_API_PORT", "70000"),
        ("HELDAR_MAX_BODY_BYTES", "10"),
        ("HELDAR_LOG_LEVEL", "loud"),
    ],
)
def test_out_of_bounds_values_are_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()


def test_secret_key_is_not_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELDAR_SECRET_KEY", "very-secret-key-material")
    settings = Settings()
    assert "very-secret" not in repr(settings)
    assert settings.secret_key is not None
