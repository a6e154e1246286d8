"""Settings of the router service: environment variables ``GUNMA_ROUTER_*`` (or ``GUNMA_*``)."""

from __future__ import annotations

from typing import ClassVar

from services.common.settings import ServiceSettings, service_config


class RouterSettings(ServiceSettings):
    model_config = service_config("ROUTER")
    service_name: ClassVar[str] = "router"

    http_port: int = 8002
