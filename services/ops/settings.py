"""Settings of the ops CLI: environment variables ``GUNMA_OPS_*`` (or ``GUNMA_*``), like a service's."""

from __future__ import annotations

from typing import ClassVar

from services.common.settings import ServiceSettings, service_config


class OpsSettings(ServiceSettings):
    model_config = service_config("OPS")
    service_name: ClassVar[str] = "gunma"
