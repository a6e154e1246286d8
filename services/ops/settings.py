"""Settings of the ops CLI: environment variables ``GUNMA_OPS_*`` (or ``GUNMA_*``), like a service's."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr, field_validator

from services.common.settings import ServiceSettings, service_config


class OpsSettings(ServiceSettings):
    model_config = service_config("OPS")
    service_name: ClassVar[str] = "gunma"

    #: The services' HTTP APIs (commands that push data, create notices, read status and statistics).
    ingest_url: str = Field(default="http://127.0.0.1:8001", description="GUNMA_OPS_INGEST_URL")
    router_url: str = Field(default="http://127.0.0.1:8002", description="GUNMA_OPS_ROUTER_URL")
    #: The API key those commands send (feed for CSV uploads, staff for notices, staff or ops to read).
    api_key: SecretStr | None = Field(default=None, description="GUNMA_OPS_API_KEY")
    #: Seconds to wait for an answer of those APIs (CSV uploads: ``gunma csv push --timeout``).
    http_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)

    @field_validator("ingest_url", "router_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")
