"""Settings: one pydantic-settings class per service, each with its own env prefix.

Every field can be set with the service's prefix (``GUNMA_ROUTER_DATABASE_URL``) or, for what all
services share, with the common prefix (``GUNMA_DATABASE_URL``); the service's own variable wins.
``load_settings`` turns a validation error into one line naming the variable, and exits.
"""

from __future__ import annotations

import sys
from typing import Any, ClassVar, TypeVar

from pydantic import Field, PostgresDsn, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from .topics import Topics

COMMON_PREFIX = "GUNMA_"


class ServiceSettings(BaseSettings):
    """What every service needs. Subclasses set ``model_config = service_config("ROUTER")``."""

    model_config = SettingsConfigDict(env_prefix=COMMON_PREFIX, extra="ignore", frozen=True)
    service_name: ClassVar[str] = "service"

    kafka_bootstrap_servers: str = Field(default="127.0.0.1:39092", description="host:port[,host:port]")
    kafka_replication_factor: int = Field(default=1, ge=1, le=5, description="3 in production")
    kafka_topic_prefix: str = Field(default="", pattern=r"^[A-Za-z0-9._-]*$", max_length=100)
    database_url: SecretStr = Field(
        default=SecretStr("postgresql://gunma:gunma-local@127.0.0.1:55432/gunma"),
        description="PostgreSQL DSN; a secret because it may hold a password",
    )
    database_pool_min: int = Field(default=1, ge=0, le=100)
    database_pool_max: int = Field(default=10, ge=1, le=200)
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=1, le=65535)
    log_level: str = Field(default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$")
    #: How long a stopping service waits for in-flight messages (keep below Kubernetes'
    #: terminationGracePeriodSeconds).
    shutdown_grace_seconds: float = Field(default=20.0, gt=0, le=600)
    run_migrations: bool = Field(default=True, description="Apply migrations at start-up")
    #: How long start-up keeps retrying Kafka and PostgreSQL before giving up with an error.
    startup_timeout_seconds: float = Field(default=60.0, gt=0, le=3600)

    @field_validator("database_url")
    @classmethod
    def _postgres(cls, value: SecretStr) -> SecretStr:
        PostgresDsn(value.get_secret_value())  # raises a ValueError that does not echo the password
        return value

    @property
    def topics(self) -> Topics:
        return Topics(self.kafka_topic_prefix)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The service's own prefix first, then the common one as a fallback.
        common = EnvSettingsSource(settings_cls, env_prefix=COMMON_PREFIX, case_sensitive=False)
        return init_settings, env_settings, common, dotenv_settings, file_secret_settings


def service_config(service: str) -> SettingsConfigDict:
    """The settings config of one service: env prefix ``GUNMA_<SERVICE>_``."""
    return SettingsConfigDict(env_prefix=f"{COMMON_PREFIX}{service.upper()}_", extra="ignore", frozen=True)


S = TypeVar("S", bound=ServiceSettings)


def describe_error(cls: type[ServiceSettings], error: ValidationError) -> str:
    """One line per problem, naming the environment variable and never echoing its value."""
    prefix = str(cls.model_config.get("env_prefix", COMMON_PREFIX))
    lines = []
    for problem in error.errors(include_input=False, include_url=False):
        field = str(problem["loc"][0]) if problem["loc"] else "?"
        variable = f"{prefix}{field}".upper()
        alternative = f" (or {COMMON_PREFIX}{field.upper()})" if prefix != COMMON_PREFIX else ""
        lines.append(f"{variable}{alternative}: {problem['msg']}")
    return "; ".join(lines)


def load_settings(cls: type[S], **overrides: Any) -> S:
    """Build the settings or exit with status 2 and one clear line on stderr."""
    try:
        return cls(**overrides)
    except ValidationError as error:
        print(f"{cls.service_name}: configuration error: {describe_error(cls, error)}", file=sys.stderr)
        raise SystemExit(2) from None
