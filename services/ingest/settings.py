"""Settings of the ingest service: environment variables ``GUNMA_INGEST_*`` (or ``GUNMA_*``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr, field_validator

from services.common.settings import ServiceSettings, service_config

_MIB = 1024 * 1024


class IngestSettings(ServiceSettings):
    model_config = service_config("INGEST")
    service_name: ClassVar[str] = "ingest"

    http_port: int = 8001

    # -- secrets (environment only; no defaults: a deployment without them must not start) --
    #: Key of the HMAC that turns residence card numbers into worker ids. GUNMA_INGEST_WORKER_ID_PEPPER
    #: or GUNMA_WORKER_ID_PEPPER. Changing it changes every worker id: treat it like a database key.
    worker_id_pepper: SecretStr = Field(description="HMAC key for residence card numbers (>= 32 characters)")
    #: LINE channel secret: verifies X-Line-Signature. GUNMA_INGEST_LINE_CHANNEL_SECRET or
    #: GUNMA_LINE_CHANNEL_SECRET (the LINE sandbox signs with the same variable).
    line_channel_secret: SecretStr = Field(description="LINE Messaging API channel secret")

    # -- employment feed --
    feed_batch_max: int = Field(default=1000, ge=1, le=10_000, description="events per JSON batch")
    #: Rows per database statement on the CSV path: larger is faster, smaller answers webhooks sooner
    #: while a big file is being read (each chunk holds the event loop for a few milliseconds).
    csv_chunk_rows: int = Field(default=2000, ge=1, le=50_000)
    #: Worker processes that decode, parse and convert CSV rows (0: in the service's own process). They
    #: keep the event loop free for webhooks during an upload and use more than one core.
    csv_workers: int = Field(default=2, ge=0, le=64)
    #: Rows of the report kept in a problem response when nothing in a file could be accepted.
    csv_problem_rows: int = Field(default=100, ge=1, le=10_000)

    # -- limits --
    max_json_body_bytes: int = Field(default=8 * _MIB, ge=1024, description="JSON feed and notices")
    max_csv_body_bytes: int = Field(default=2048 * _MIB, ge=1024, description="one CSV upload")
    max_webhook_body_bytes: int = Field(default=1 * _MIB, ge=1024, description="one LINE webhook")
    #: Token bucket per API key, per replica: requests per second and the burst allowed above it.
    rate_limit_per_second: float = Field(default=20.0, gt=0, le=100_000)
    rate_limit_burst: int = Field(default=40, ge=1, le=1_000_000)
    key_cache_seconds: float = Field(default=10.0, ge=0, le=3600)

    # -- outbox relay --
    relay_enabled: bool = Field(default=True, description="publish the outbox to Kafka from this process")
    relay_batch_max: int = Field(default=5000, ge=1, le=100_000, description="events per relay round")
    #: Fallback poll when no NOTIFY arrives; also how soon a standby replica takes over the relay.
    relay_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    #: After a wake-up, how long the relay waits for the rest of a burst before publishing.
    relay_linger_ms: float = Field(default=3.0, ge=0, le=1000)
    #: How far before a dead relay's in-flight batch the Kafka search starts (clock steps, ms).
    relay_recovery_margin_ms: int = Field(default=5000, ge=0, le=600_000)
    #: How long dedupe records are kept: a file re-sent within this many days is still recognised.
    dedupe_retention_days: int = Field(default=400, ge=1, le=3650)

    @field_validator("worker_id_pepper")
    @classmethod
    def _strong_pepper(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters (use 32 random bytes, e.g. base64)")
        return value

    @field_validator("line_channel_secret")
    @classmethod
    def _secret_given(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("must not be empty")
        return value

    @property
    def pepper(self) -> bytes:
        return self.worker_id_pepper.get_secret_value().encode()
