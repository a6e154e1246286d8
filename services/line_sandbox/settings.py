"""Settings of the line_sandbox service: environment variables ``GUNMA_SANDBOX_*`` (or ``GUNMA_*``).

The sandbox needs neither Kafka nor PostgreSQL. Its channel tokens, channel secret and admin token are
secrets like LINE's: from the environment only (``services/ops/localrun.py`` sets development values).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field, SecretStr

from services.common.settings import ServiceSettings, service_config


class LineSandboxSettings(ServiceSettings):
    model_config = service_config("SANDBOX")
    service_name: ClassVar[str] = "line_sandbox"

    http_port: int = 8090

    # --- the channel --------------------------------------------------------------------------------
    #: Channel access tokens accepted as ``Authorization: Bearer ...`` (comma-separated).
    channel_access_tokens: SecretStr
    #: The channel secret: webhooks are signed with it (X-Line-Signature).
    channel_secret: SecretStr
    #: Token for the sandbox's own /admin API (inboxes, faults, simulated users).
    admin_token: SecretStr
    #: The bot's user id, sent as ``destination`` in webhooks.
    bot_user_id: str = Field(default="Ub07" + "0" * 29, pattern=r"^U[0-9a-f]{32}$")

    # --- LINE's OpenAPI documents (read from where they are kept; never copied into the repository) --
    openapi_spec: Path | None = Field(default=None, description="../shared/line-openapi/messaging-api.yml")
    webhook_openapi_spec: Path | None = Field(default=None, description="../shared/line-openapi/webhook.yml")

    # --- webhooks -----------------------------------------------------------------------------------
    webhook_url: str | None = "http://127.0.0.1:8001/line/webhook"
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    reply_token_ttl_seconds: float = Field(default=60.0, gt=0)

    # --- LINE's limits ------------------------------------------------------------------------------
    rate_limits_enabled: bool = True
    rate_multicast_per_second: float = Field(default=200.0, gt=0)
    rate_push_per_second: float = Field(default=2000.0, gt=0)
    rate_reply_per_second: float = Field(default=2000.0, gt=0)
    rate_other_per_second: float = Field(default=2000.0, gt=0)
    #: the bucket holds this many seconds of rate (LINE does not publish its window)
    rate_window_seconds: float = Field(default=1.0, gt=0, le=60)
    retry_key_ttl_seconds: float = Field(default=24 * 3600.0, gt=0)
    #: monthly message limit (None: no limit, quota type "none")
    quota_limit: int | None = Field(default=None, ge=0)
    quota_used: int = Field(default=0, ge=0)

    # --- fault injection (also settable at run time: PUT /admin/faults) ------------------------------
    fault_error_rate: float = Field(default=0.0, ge=0, le=1, description="share of sends answered 500")
    fault_rate_limit_rate: float = Field(default=0.0, ge=0, le=1, description="share answered 429 (rate)")
    fault_timeout_rate: float = Field(default=0.0, ge=0, le=1, description="share that never answer in time")
    #: of the injected 500s and timeouts, the share that happen AFTER the message was accepted and
    #: delivered (the answer is lost): the case retry keys exist for
    fault_after_accept_share: float = Field(default=0.5, ge=0, le=1)
    fault_timeout_seconds: float = Field(default=30.0, ge=0, le=600)
    fault_latency_ms: float = Field(default=0.0, ge=0, le=60_000)
    fault_latency_jitter_ms: float = Field(default=0.0, ge=0, le=60_000)
    #: answer every multicast and push with the monthly-quota 429
    fault_monthly_limit: bool = False
    fault_seed: int | None = None

    # --- state --------------------------------------------------------------------------------------
    #: Append-only journal of accepted requests and user events; replayed at start-up, so the inboxes and
    #: retry keys survive a restart of the sandbox. None: memory only.
    state_file: Path | None = None
    #: how many recent API requests /admin/requests keeps
    request_log_size: int = Field(default=2000, ge=0, le=1_000_000)

    def tokens(self) -> frozenset[str]:
        return frozenset(
            t.strip() for t in self.channel_access_tokens.get_secret_value().split(",") if t.strip()
        )
