"""Settings of the router service: environment variables ``GUNMA_ROUTER_*`` (or ``GUNMA_*``)."""

from __future__ import annotations

from datetime import time
from typing import ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from services.common import languages
from services.common.contracts import MAX_RECIPIENTS
from services.common.settings import ServiceSettings, service_config


class RouterSettings(ServiceSettings):
    model_config = service_config("ROUTER")
    service_name: ClassVar[str] = "router"

    http_port: int = 8002
    #: Consumers (up to 5 in flight), release workers (each holds one while publishing), reminder loops
    #: and HTTP requests share the pool.
    database_pool_max: int = Field(default=20, ge=1, le=200)

    #: The prefecture's time zone: quiet hours and reminder dates are reckoned in it.
    timezone: str = Field(default="Asia/Tokyo", description="IANA time zone name")
    #: Normal notices and reminders due between start and end are held until the end (emergency
    #: notices are not). Equal start and end: no quiet hours.
    quiet_hours_start: time = time(21, 0)
    quiet_hours_end: time = time(8, 0)

    #: Recipients per DeliveryPlanned (LINE's multicast takes at most 500).
    batch_size: int = Field(default=MAX_RECIPIENTS, ge=1, le=MAX_RECIPIENTS)
    #: Batches read from the snapshot and published per round trip (memory: chunk x batch_size ids).
    publish_chunk: int = Field(default=100, ge=1, le=1000)
    #: Notices released in parallel (an emergency notice need not wait behind a large one).
    release_workers: int = Field(default=2, ge=1, le=16)
    #: How often the scheduler looks for due work when nothing wakes it earlier.
    scheduler_poll_seconds: float = Field(default=5.0, gt=0, le=300)
    #: How often every linked worker's reminders are evaluated (events also trigger it at once).
    reminder_interval_seconds: float = Field(default=3600.0, gt=0, le=86400)
    #: Personal reminders published per transaction.
    reminder_chunk: int = Field(default=500, ge=1, le=5000)
    #: Language used for subscribers who never chose one; unset: they receive nothing until they do.
    unset_language_fallback: str | None = None
    #: LINE user ids in audience snapshots are dropped this many days after the notice was planned.
    recipients_retention_days: int = Field(default=90, ge=1, le=3650)
    #: Raised reminders are forgotten this many days after their trigger date.
    reminders_retention_days: int = Field(default=400, ge=30, le=3650)

    #: Employment events applied per transaction, and parallel consumers of employment.v1 in this
    #: process (one validates and builds the next batch while PostgreSQL applies the other's).
    employment_max_records: int = Field(default=5000, ge=1, le=50_000)
    employment_consumers: int = Field(default=2, ge=1, le=12)
    #: Bytes fetched ahead per partition (memory: up to this times the partitions a consumer owns).
    employment_partition_fetch_bytes: int = Field(default=2 * 1024 * 1024, ge=64 * 1024, le=64 * 1024 * 1024)
    #: CPython's third GC threshold (default 10): how many second-generation collections before a full
    #: one. The router raises it (see __main__.py); reference cycles are still collected.
    gc_full_collection_threshold: int = Field(default=1000, ge=1, le=100_000)
    #: Cache of API-key lookups, seconds.
    api_key_cache_seconds: float = Field(default=10.0, ge=0, le=300)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("unset_language_fallback")
    @classmethod
    def _language(cls, value: str | None) -> str | None:
        if value is not None and value not in languages.LANGUAGE_CODES:
            raise ValueError(f"unsupported language {value!r}")
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
