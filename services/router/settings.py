"""Settings of the router service: environment variables ``GUNMA_ROUTER_*`` (or ``GUNMA_*``)."""

from __future__ import annotations

import json
from datetime import time, timedelta
from typing import Annotated, Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import NoDecode

from services.common import languages
from services.common.contracts import MAX_RECIPIENTS
from services.common.settings import ServiceSettings, service_config

from .dialogue import CONSENT_VERSION, DialogueConfig


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

    # --- the onboarding conversation (docs/onboarding.md) -------------------------------------------
    #: Off: LINE events only update follow state (no replies); e.g. while another system answers.
    dialogue_enabled: bool = True
    #: Offered languages in the picker's order: comma-separated or a JSON list (default: all 25).
    dialogue_languages: Annotated[tuple[str, ...], NoDecode] = tuple(
        lang.code for lang in languages.DEFAULT_LANGUAGES
    )
    #: The greeting's language when LINE's profile gives none that is offered.
    dialogue_default_language: str = "en"
    #: Printed before employer registration codes (GM-7KQ2-9XPJ); upper-case letters or empty.
    dialogue_employer_code_prefix: str = Field(default="GM", pattern=r"^[A-Z]{0,8}$")
    dialogue_privacy_policy_url: str | None = Field(default=None, pattern=r"^https://", max_length=500)
    #: The deployment's contact (phone, hours) shown in help; not translated.
    dialogue_contact: str | None = Field(default=None, max_length=300)
    dialogue_max_code_failures: int = Field(default=5, ge=1, le=100)
    dialogue_code_lockout_seconds: float = Field(default=3600.0, ge=0, le=7 * 86400)
    #: Replies use LINE's reply token until this long after the event (LINE honours it ~1 min).
    dialogue_reply_token_lifetime_seconds: float = Field(default=50.0, ge=0, le=55)
    #: The consent text this deployment approved (e.g. reminders-v1). Set, start-up fails when the code
    #: carries another version, so a new consent text is never shown without someone deciding so.
    dialogue_consent_version: str | None = Field(default=None, max_length=64)
    #: How often replies left in the outbox (a crash between commit and publish) are looked for.
    dialogue_relay_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    #: Webhook event ids remembered against duplicates that arrive at another offset.
    dialogue_dedupe_retention_days: int = Field(default=7, ge=1, le=400)
    #: TESTS ONLY: kill -9 the process after the Nth committed batch of LINE events that has replies,
    #: before they are published (the crash the reply outbox exists for). 0: never.
    test_sigkill_after_commit: int = Field(default=0, ge=0)

    # --- the LINE Messaging API (profile language on follow) -----------------------------------------
    line_api_base_url: str = Field(default="https://api.line.me", pattern=r"^https?://")
    #: Unset: no profile look-ups (the greeting is in the default language). GUNMA_ROUTER_ or GUNMA_.
    line_channel_access_token: SecretStr | None = None
    line_api_proxy: str | None = None
    line_api_trust_env: bool = False
    #: A profile look-up never delays a reply longer than this; a failure means no pre-selection.
    line_profile_timeout_seconds: float = Field(default=1.5, gt=0, le=10)
    #: The account's basic ID (@123abcde): deep links and QR codes for registration codes.
    line_basic_id: str | None = Field(default=None, pattern=r"^@[0-9a-z._-]{1,40}$")

    @field_validator("dialogue_languages", mode="before")
    @classmethod
    def _split_languages(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            return (
                json.loads(text)
                if text.startswith("[")
                else [v.strip() for v in text.split(",") if v.strip()]
            )
        return value

    @field_validator("dialogue_languages")
    @classmethod
    def _offered(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [code for code in value if code not in languages.LANGUAGE_CODES]
        if unknown:
            raise ValueError(f"unsupported language(s) {unknown}")
        if not value or len(set(value)) != len(value):
            raise ValueError("give at least one language, each once")
        return value

    @field_validator("dialogue_default_language")
    @classmethod
    def _default_offered(cls, value: str, info: ValidationInfo) -> str:
        offered = info.data.get("dialogue_languages")
        if offered is not None and value not in offered:
            raise ValueError(f"{value!r} is not one of the offered languages (dialogue_languages)")
        return value

    @field_validator("dialogue_consent_version")
    @classmethod
    def _consent(cls, value: str | None) -> str | None:
        if value is not None and value != CONSENT_VERSION:
            raise ValueError(
                f"this release shows consent text {CONSENT_VERSION!r}, not {value!r}: review the new text "
                "(docs/onboarding.md) and set this variable to its version"
            )
        return value

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

    def dialogue_config(self) -> DialogueConfig:
        """The dialogue's configuration; raises ValueError naming the setting that is wrong."""
        return DialogueConfig(
            languages=self.dialogue_languages,
            default_language=self.dialogue_default_language,
            employer_code_prefix=self.dialogue_employer_code_prefix,
            max_code_failures=self.dialogue_max_code_failures,
            code_lockout=timedelta(seconds=self.dialogue_code_lockout_seconds),
            privacy_policy_url=self.dialogue_privacy_policy_url,
            contact=self.dialogue_contact,
            reply_token_lifetime=timedelta(seconds=self.dialogue_reply_token_lifetime_seconds),
        )
