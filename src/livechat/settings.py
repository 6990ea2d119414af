"""Every knob of livechat, read from ``LIVECHAT_*`` environment variables."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Signing with a key everyone can read protects nothing, so it is only tolerated where no
# real user can be harmed; production refuses to start without its own key.
DEVELOPMENT_SECRET_KEY = "livechat-development-key-not-secret"  # noqa: S105
METRICS_TOKEN_MIN_LENGTH = 32
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
# Broadcasts a page may fall behind: enough for a burst of activity while a healthy
# browser is busy for a moment; a client that falls further behind is cheaper to
# resynchronise than to wait for.
SUBSCRIBER_QUEUE_SIZE = 256


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class ConfigurationError(RuntimeError):
    """Settings that must not be used to start the server."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LIVECHAT_", frozen=True)

    env: Environment = Environment.DEVELOPMENT
    database_url: str = "sqlite+aiosqlite:///livechat.db"
    secret_key: str = ""
    uploads_dir: Path = Path("uploads")

    session_lifetime_seconds: int = Field(default=14 * 24 * 3600, gt=0)
    login_max_failures: int = Field(default=5, gt=0)
    login_lockout_seconds: int = Field(default=15 * 60, gt=0)
    form_max_bytes: int = Field(default=64 * 1024, gt=0)
    room_idle_seconds: float = Field(default=60.0, gt=0)
    subscriber_queue_size: int = Field(default=SUBSCRIBER_QUEUE_SIZE, gt=0)
    upload_max_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    upload_pending_seconds: float = Field(default=3600.0, gt=0)
    # A tab holds one socket; twenty is a busy person, not a script.
    sockets_per_user: int = Field(default=20, gt=0)
    # /metrics answers loopback clients, and anyone else only with this bearer token.
    metrics_token: str = ""
    # Bots' webhooks: how long a call may take, and whether it may reach loopback and
    # private networks (for a bot on the same host or network; off, an address there is
    # refused).
    webhook_timeout_seconds: float = Field(default=5.0, gt=0)
    webhook_private_targets: bool = False
    # One event per line on stderr: text for people, JSON for log collectors.
    log_format: LogFormat = LogFormat.TEXT
    # Set, every process using this Redis and prefix shares one chat: broadcasts, presence
    # and the rate limiter go through it. Unset, all of it lives in this one process.
    redis_url: str = ""
    # Keeps apart the deployments that share one Redis; it begins every key and channel.
    redis_prefix: str = Field(default="livechat", pattern=r"^[A-Za-z0-9_.-]{1,64}$")

    @model_validator(mode="after")
    def _require_secret_in_production(self) -> Settings:
        if self.env is Environment.PRODUCTION and len(self.secret_key) < 32:
            raise ConfigurationError(
                "LIVECHAT_SECRET_KEY must be set to a random string of at least 32 characters"
                " in production; make one with: python -c"
                ' "import secrets; print(secrets.token_urlsafe(48))"'
            )
        return self

    @model_validator(mode="after")
    def _require_a_long_metrics_token(self) -> Settings:
        # Nothing slows down guessing it, so it must be too long to guess.
        if self.metrics_token and len(self.metrics_token) < METRICS_TOKEN_MIN_LENGTH:
            raise ConfigurationError(
                f"LIVECHAT_METRICS_TOKEN must be at least {METRICS_TOKEN_MIN_LENGTH} characters"
                " long, or empty to serve /metrics to this machine only; make one with:"
                ' python -c "import secrets; print(secrets.token_urlsafe(32))"'
            )
        return self

    @model_validator(mode="after")
    def _require_a_redis_url(self) -> Settings:
        if self.redis_url and not self.redis_url.startswith(REDIS_SCHEMES):
            raise ConfigurationError(
                "LIVECHAT_REDIS_URL must be a Redis URL, such as redis://127.0.0.1:6379/0"
                " (or rediss:// for TLS, unix:///path/to/redis.sock); leave it unset to run"
                " one process alone"
            )
        return self

    @property
    def signing_key(self) -> str:
        return self.secret_key or DEVELOPMENT_SECRET_KEY

    @property
    def cookie_secure(self) -> bool:
        # The development server is reached over plain http, where clients other than
        # browsers on localhost drop Secure cookies; everywhere else they must be Secure.
        return self.env is not Environment.DEVELOPMENT
