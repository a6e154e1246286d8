"""Settings of the ingest service: environment variables ``GUNMA_INGEST_*`` (or ``GUNMA_*``)."""

from __future__ import annotations

from typing import ClassVar

from services.common.settings import ServiceSettings, service_config


class IngestSettings(ServiceSettings):
    model_config = service_config("INGEST")
    service_name: ClassVar[str] = "ingest"

    http_port: int = 8001
