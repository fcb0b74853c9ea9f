"""Service settings, read from the environment (prefix DEALNODE_) once per process.

Nothing here touches the disk or the network at import time: `get_settings()` builds the
object on first use, and tests override it through FastAPI's dependency overrides.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.logs import LogFormat, LogLevel

DEFAULT_PLAYBOOK = Path(__file__).parent / "scoring" / "playbook.toml"


class Settings(BaseSettings):
    """Every knob of the service; defaults are the embedded, single-machine setup."""

    model_config = SettingsConfigDict(env_prefix="DEALNODE_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///var/dealnode.db",
        validation_alias=AliasChoices("DEALNODE_DATABASE_URL", "DATABASE_URL"),
    )
    models_dir: Path = Path("models")
    model_version: str | None = None
    """Pin: serve this model, whatever the registry promotes or an activation chose (every
    process with the pin set ignores activations, which it refuses with 409)."""
    active_model_poll_seconds: float = Field(default=2.0, gt=0)
    """How often a server process checks which model is active (activated or promoted) and
    swaps to it: every worker and replica follows an activation within about this long."""
    worker_healthcheck_seconds: int = Field(default=5, ge=1)
    """How long `serve --workers N` waits for a worker's health answer before replacing it
    (uvicorn's own default); raise it where workers can be starved of CPU for longer."""
    playbook: Path = DEFAULT_PLAYBOOK
    max_body_bytes: int = 1 << 20
    batch_limit: int = 1000
    page_limit_max: int = 500
    key_cache_seconds: float = 5.0
    """How long a verified API key is trusted without asking the database (revocation delay)."""
    webhook_secrets: dict[str, list[str]] = Field(default_factory=dict)
    """Signing secrets per source, e.g. {"events": ["whsec_new", "whsec_old"], "hubspot":
    ["app secret"]}: list two during a rotation. Set it as JSON in DEALNODE_WEBHOOK_SECRETS;
    never in code."""
    hubspot_mapping: Path = Path(__file__).parent / "webhooks" / "hubspot_mapping.toml"
    public_url: str | None = None
    """The base URL senders call (e.g. https://dealnode.example.com); HubSpot signs the full
    URI it called, which a proxy in front of the service may change. Default: as received."""
    subscribers: list[str] = Field(default_factory=list)
    """URLs that receive state-change notifications (JSON list in DEALNODE_SUBSCRIBERS)."""
    outbound_secret: str | None = None
    """`whsec_` secret notifications are signed with (Standard Webhooks)."""
    delivery_max_attempts: int = Field(default=8, ge=1)
    delivery_backoff_seconds: float = Field(default=2.0, ge=0)
    """First retry after about this long, doubling each time (with jitter), capped at 1 hour."""
    delivery_timeout_seconds: float = Field(default=10.0, gt=0)
    delivery_concurrency: int = Field(default=8, ge=1)
    """Sends a delivery worker has in flight at once, shared fairly among the subscribers."""
    rescore_lease_seconds: float = Field(default=60.0, gt=0)
    """How long a killed nightly run keeps the next one out (its lease, renewed while alive)."""
    low_confidence: float = 0.5
    """Below this top probability a prediction counts as unsure (a playbook signal)."""
    monitoring_ttl_seconds: float = Field(default=300.0, ge=0)
    """How long a monitoring report is reused (`GET /v1/models/current/monitoring`), so
    dashboards polling it do not rescan the customers; 0 computes every time."""
    at_risk_threshold: float = Field(default=0.5, ge=0, le=1)
    """At or above this at-risk probability a customer is flagged (docs/at_risk.md)."""
    web_session_hours: float = Field(default=12.0, gt=0)
    """How long a web app sign-in lasts; signing out, or revoking the key, ends it sooner."""
    log_level: LogLevel = "INFO"
    log_format: LogFormat = "text"
    """`json` for one JSON object per line (log collectors); `text` reads better on a terminal."""

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_any_case(cls, value: object) -> object:
        """Take `debug` as well as `DEBUG`, as people type it."""
        return value.upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _format_any_case(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, built on first use."""
    return Settings()
