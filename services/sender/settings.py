"""Settings of the sender service: environment variables ``GUNMA_SENDER_*`` (or ``GUNMA_*``)."""

from __future__ import annotations

from typing import ClassVar

from services.common.settings import ServiceSettings, service_config


class SenderSettings(ServiceSettings):
    model_config = service_config("SENDER")
    service_name: ClassVar[str] = "sender"

    http_port: int = 8004
