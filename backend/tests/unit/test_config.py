from __future__ import annotations

from pathlib import Path

import pytest

from water.config import DEFAULT_SECRET, InsecureSettingsError, Settings

PRODUCTION = {
    "environment": "production",
    "secret_key": "a-real-random-secret-of-more-than-32-chars",
    "database_url": "postgresql://db/water",
    "redis_url": "redis://redis:6379/0",
}


def test_production_refuses_the_default_secret() -> None:
    with pytest.raises(InsecureSettingsError, match="WATER_SECRET_KEY"):
        Settings(**{**PRODUCTION, "secret_key": DEFAULT_SECRET})


def test_production_refuses_wildcard_cors() -> None:
    with pytest.raises(InsecureSettingsError, match="WATER_CORS_ORIGINS"):
        Settings(**PRODUCTION, cors_origins=["*"])


def test_production_requires_external_servers() -> None:
    with pytest.raises(InsecureSettingsError, match="WATER_DATABASE_URL"):
        Settings(**{**PRODUCTION, "database_url": None})


def test_production_accepts_proper_settings() -> None:
    settings = Settings(**PRODUCTION, cors_origins=["https://water.example"])
    assert settings.json_logs


def test_development_allows_defaults() -> None:
    settings = Settings(environment="development")
    assert settings.port == 8000
    assert settings.data_dir == Path(".water")


def test_secret_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "secret_key"
    secret.write_text("from-a-mounted-secret-file-0123456789abcdef\n")
    monkeypatch.setenv("WATER_SECRET_KEY_FILE", str(secret))
    monkeypatch.delenv("WATER_SECRET_KEY", raising=False)
    assert Settings().secret_key.get_secret_value() == "from-a-mounted-secret-file-0123456789abcdef"


def test_environment_variables_use_the_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATER_PORT", "9123")
    monkeypatch.setenv("WATER_CORS_ORIGINS", '["https://a.example"]')
    settings = Settings()
    assert settings.port == 9123
    assert settings.cors_origins == ["https://a.example"]


def test_secrets_are_not_in_the_settings_repr() -> None:
    settings = Settings(**PRODUCTION)
    assert PRODUCTION["secret_key"] not in repr(settings)


@pytest.mark.parametrize(
    ("field", "value"), [("market_data_requests_per_second", 0), ("market_data_burst", 0), ("market_data_burst", -1)]
)
def test_a_market_data_plan_that_could_never_grant_a_call_is_refused(field: str, value: float) -> None:
    """The shared limiter divides by the rate and needs room for one call: a plan without either is an error at start."""
    with pytest.raises(ValueError, match=field):
        Settings(environment="development", **{field: value})
