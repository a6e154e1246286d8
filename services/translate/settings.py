"""Settings of the translate service: environment variables ``GUNMA_TRANSLATE_*`` (or ``GUNMA_*``)."""

from __future__ import annotations

from typing import ClassVar

from services.common.settings import ServiceSettings, service_config


class TranslateSettings(ServiceSettings):
    model_config = service_config("TRANSLATE")
    service_name: ClassVar[str] = "translate"

    http_port: int = 8003
