"""Settings of the sender service: environment variables ``GUNMA_SENDER_*`` (or ``GUNMA_*``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr, field_validator

from services.common.settings import ServiceSettings, service_config


class SenderSettings(ServiceSettings):
    model_config = service_config("SENDER")
    service_name: ClassVar[str] = "sender"

    http_port: int = 8004

    # --- LINE Messaging API -------------------------------------------------------------------------
    line_api_base_url: str = Field(
        default="https://api.line.me",
        description="https://api.line.me in production; the LINE sandbox (http://127.0.0.1:8090) locally",
    )
    line_channel_access_token: SecretStr = Field(description="the channel's long-lived access token")
    #: Proxy for api.line.me, if the network needs one. Proxy environment variables are NOT used unless
    #: ``line_api_trust_env`` is on, so loopback calls to the sandbox never go through a proxy.
    line_api_proxy: str | None = None
    line_api_trust_env: bool = False
    request_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    #: requests in flight at once (the bound must be LINE's rate, not our round trips)
    max_in_flight: int = Field(default=64, ge=1, le=2000)
    #: Send the batch id in ``X-Gunma-Batch-Id`` (no personal data) so the sandbox, proxies and logs can
    #: attribute requests to batches. LINE ignores unknown headers.
    send_batch_header: bool = True

    # --- LINE's rate limits (per channel) -----------------------------------------------------------
    rate_limits_enabled: bool = True
    rate_multicast_per_second: float = Field(default=200.0, gt=0)
    rate_push_per_second: float = Field(default=2000.0, gt=0)
    rate_reply_per_second: float = Field(default=2000.0, gt=0)
    #: tokens that may be used at once after a pause, as seconds of rate
    rate_burst_seconds: float = Field(default=0.1, gt=0, le=10)
    #: sender replicas sharing the channel: each takes rate / replicas
    replicas: int = Field(default=1, ge=1, le=1000)
    #: everyone waits this long after a rate-limit 429 (grows with repeated 429s)
    rate_limited_pause_seconds: float = Field(default=1.0, gt=0, le=60)

    # --- retries and giving up ----------------------------------------------------------------------
    retry_initial_seconds: float = Field(default=0.2, gt=0)
    retry_max_seconds: float = Field(default=10.0, gt=0)
    #: after this long without success a batch is failed and dead-lettered
    give_up_after_seconds: float = Field(default=300.0, gt=0)
    #: LINE remembers a retry key for 24 h: within this window a resend is recognised (409)
    retry_key_trust_seconds: float = Field(default=23 * 3600.0, gt=0, le=24 * 3600.0)
    #: a reply token is used only if it stays valid at least this long
    reply_margin_seconds: float = Field(default=5.0, ge=0)

    # --- monthly quota ------------------------------------------------------------------------------
    #: notices with more recipients than this are checked against the quota before their first batch
    quota_check_threshold: int = Field(default=10_000, ge=1)
    #: refuse (fail and dead-letter every batch of) a notice the remaining quota cannot carry
    quota_refuse: bool = True
    #: while the quota is exhausted, ask LINE this often whether it was raised
    quota_probe_seconds: float = Field(default=300.0, gt=0)
    #: read the quota this often for gunma_sender_quota_* (the dashboard); 0: only when checking it
    quota_sample_seconds: float = Field(default=600.0, ge=0, le=86_400)

    # --- consumer -----------------------------------------------------------------------------------
    consumer_group: str = "sender"
    #: records per poll, all sent concurrently (250 polls take 1.25 s at LINE's multicast rate)
    consumer_max_records: int = Field(default=250, ge=1, le=5000)
    #: members of the consumer group in this process, sharing the token buckets (the rate stays the
    #: channel's). With two, one can send while the other records and reports its poll; measured in the
    #: full system (docs/performance.md) the gain was within the noise (88 -> 91 % of LINE's multicast
    #: rate), and a member joining mid-notice moves partitions (their polls are resent: 409s), so one.
    consumers: int = Field(default=1, ge=1, le=12)
    #: bytes fetched ahead per partition. A DeliveryReady of 500 ids is ~19 KB; one notice's batches sit
    #: on few partitions (one key per language), so less than 4 MiB starves the polls (measured: 1 MiB
    #: costs ~10 % of the rate at LINE's limit) while more only adds memory.
    consumer_partition_fetch_bytes: int = Field(default=4 * 1024 * 1024, ge=64 * 1024, le=64 * 1024 * 1024)

    # --- test only ----------------------------------------------------------------------------------
    #: TEST ONLY: kill -9 this process right after LINE accepted the Nth request, before the outcome
    #: is recorded and the offset committed. 0 = off. Never set in production.
    test_sigkill_after_accepted: int = Field(default=0, ge=0)
    #: TEST ONLY: kill -9 after the Nth consumed batch was recorded in PostgreSQL, before its results are
    #: published and its offsets committed. 0 = off.
    test_sigkill_after_recorded: int = Field(default=0, ge=0)

    @field_validator("line_api_base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")
