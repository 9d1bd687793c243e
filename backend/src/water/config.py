"""Settings from the environment (prefix WATER_), with WATER_<NAME>_FILE for mounted secrets."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "change-me-development-only-secret-key-000"  # noqa: S105  (refused outside development)
SECRET_FIELDS = ("secret_key", "database_url", "redis_url", "alphavantage_api_key")


class InsecureSettingsError(RuntimeError):
    """Production settings that must not be used (default secret, wildcard CORS)."""


def _read_secret_files() -> dict[str, str]:
    """WATER_<NAME>_FILE=/run/secrets/x sets <name> from that file (Docker/Kubernetes secrets)."""
    values: dict[str, str] = {}
    for name in SECRET_FIELDS:
        path = os.environ.get(f"WATER_{name.upper()}_FILE")
        if path:
            values[name] = Path(path).read_text(encoding="utf-8").strip()
    return values


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WATER_", extra="ignore")

    environment: Literal["development", "testing", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path(".water")
    public_url: str = ""

    database_url: SecretStr | None = None
    redis_url: SecretStr | None = None
    db_pool_size: int = 10
    # Off: a round trip saved on every checkout; a PostgreSQL restart then fails only the requests in flight.
    db_pool_pre_ping: bool = False
    # Hot single-statement reads on an async autocommit pool in the event loop (water.db.reads).
    db_async_reads: bool = True
    # Rendered financials bodies kept in memory per API process (megabytes; 0 keeps none).
    financials_cache_mb: int = Field(default=64, ge=0)

    secret_key: SecretStr = SecretStr(DEFAULT_SECRET)
    access_token_minutes: int = 15
    refresh_token_days: int = 14
    password_min_length: int = 12
    login_max_failures_per_account: int = 5
    login_max_attempts_per_address: int = 30
    login_window_seconds: int = 900

    cors_origins: list[str] = Field(default_factory=list)
    max_body_bytes: int = 1_048_576
    log_level: str = "INFO"
    log_format: Literal["json", "console", "auto"] = "auto"

    alphavantage_api_key: SecretStr | None = None
    alphavantage_base_url: str = "https://www.alphavantage.co"
    alphavantage_timeout_seconds: float = 15.0
    # The shared limiter's plan. Defaults: the free tier's published limits (1 request/s burst, 25/day).
    market_data_requests_per_second: float = Field(default=1.0, gt=0)
    market_data_burst: int = Field(default=1, ge=1)
    market_data_daily_budget: int = 25
    # A premium plan serves TIME_SERIES_DAILY_ADJUSTED (splits and dividends on every bar); the free
    # plan only TIME_SERIES_DAILY, as traded.
    market_data_premium: bool = False
    # A refresh job that meets a provider outage (5xx, a web page, a timeout) is retried while it has
    # made fewer attempts than this, after the outage's Retry-After at least; then it fails.
    market_data_outage_attempts: int = Field(default=4, ge=1)
    market_data_demo: bool | None = None  # None: demo data exactly when no API key is set
    market_data_benchmark: str | None = None  # the beta benchmark; default SPY (DSPY with demo data)

    worker_metrics_port: int = 9808
    worker_metrics_host: str = "127.0.0.1"  # 0.0.0.0 in containers, so Prometheus can scrape the pod
    beat_heartbeat_seconds: int = 15
    demo_email: str = "demo@water.example"
    demo_password: SecretStr = SecretStr("water-demo-password")

    @model_validator(mode="before")
    @classmethod
    def _secrets_from_files(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key, value in _read_secret_files().items():
                data.setdefault(key, value)
        return data

    @model_validator(mode="after")
    def _refuse_insecure_production(self) -> Settings:
        if self.environment != "production":
            return self
        problems = []
        if self.secret_key.get_secret_value() == DEFAULT_SECRET or len(self.secret_key.get_secret_value()) < 32:
            problems.append("WATER_SECRET_KEY must be set to a random value of at least 32 characters")
        if "*" in self.cors_origins:
            problems.append("WATER_CORS_ORIGINS must list explicit origins, not '*'")
        if self.database_url is None or self.redis_url is None:
            problems.append("WATER_DATABASE_URL and WATER_REDIS_URL must be set (no embedded servers in production)")
        if problems:
            raise InsecureSettingsError("refusing to start in production: " + "; ".join(problems))
        return self

    @property
    def use_demo_market_data(self) -> bool:
        if self.market_data_demo is not None:
            return self.market_data_demo
        return self.alphavantage_api_key is None

    @property
    def is_development(self) -> bool:
        return self.environment == "development"

    @property
    def json_logs(self) -> bool:
        return self.log_format == "json" or (self.log_format == "auto" and self.environment == "production")


@lru_cache
def get_settings() -> Settings:
    return Settings()
