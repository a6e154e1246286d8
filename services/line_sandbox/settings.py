"""Settings of the line_sandbox service: environment variables ``GUNMA_SANDBOX_*`` (or ``GUNMA_*``)."""

from __future__ import annotations

from typing import ClassVar

from services.common.settings import ServiceSettings, service_config


class LineSandboxSettings(ServiceSettings):
    model_config = service_config("SANDBOX")
    service_name: ClassVar[str] = "line_sandbox"

    http_port: int = 8090
