"""Settings of the translate service: environment variables ``GUNMA_TRANSLATE_*`` (or ``GUNMA_*``).

Dictionaries and lists are JSON, e.g.::

    GUNMA_TRANSLATE_BACKENDS='{"es": "apertium", "pt-BR": "apertium", "vi": "deepl"}'
    GUNMA_TRANSLATE_FALLBACK_CHAINS='{"ne": ["en", "ja-x-easy"]}'
    GUNMA_TRANSLATE_MONTHLY_BUDGETS='{"deepl": 500000, "google": 2000000}'
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationInfo, field_validator

from services.common import languages
from services.common.settings import ServiceSettings, service_config

BackendName = Literal["apertium", "libretranslate", "deepl", "google"]
BACKEND_NAMES: tuple[BackendName, ...] = ("apertium", "libretranslate", "deepl", "google")

#: What each backend needs before it can be used, as (field, environment variable).
_REQUIRED: dict[str, tuple[str, str]] = {
    "apertium": ("apertium_url", "GUNMA_TRANSLATE_APERTIUM_URL"),
    "libretranslate": ("libretranslate_url", "GUNMA_TRANSLATE_LIBRETRANSLATE_URL"),
    "deepl": ("deepl_auth_key", "GUNMA_TRANSLATE_DEEPL_AUTH_KEY"),
    "google": ("google_api_key", "GUNMA_TRANSLATE_GOOGLE_API_KEY"),
}


def _check_configured(name: str, data: dict[str, Any]) -> None:
    field, variable = _REQUIRED[name]
    if data.get(field) is None:
        raise ValueError(f"backend {name} is used but {variable} is not set")


def _known_language(code: str) -> str:
    if code not in languages.LANGUAGE_CODES:
        raise ValueError(f"unsupported language {code!r}")
    return code


class TranslateSettings(ServiceSettings):
    model_config = service_config("TRANSLATE")
    service_name: ClassVar[str] = "translate"

    http_port: int = 8003

    # --- consumers -------------------------------------------------------------------------------
    consumer_group: str = Field(default="translate", min_length=1, max_length=100)
    notices_consumer_group: str = Field(default="translate-notices", min_length=1, max_length=100)
    consumer_max_records: int = Field(default=500, ge=1, le=5000)

    # --- machine translation ---------------------------------------------------------------------
    apertium_url: str | None = Field(default=None, description="Apertium APY base URL")
    libretranslate_url: str | None = Field(default=None, description="LibreTranslate base URL")
    libretranslate_api_key: SecretStr | None = None
    #: https://api.deepl.com for DeepL API Pro
    deepl_url: str = "https://api-free.deepl.com"
    deepl_auth_key: SecretStr | None = None
    google_url: str = "https://translation.googleapis.com/language/translate/v2"
    google_api_key: SecretStr | None = None
    #: Overrides of the built-in language codes per backend, e.g. {"deepl": {"en": "EN-GB"}}.
    backend_language_codes: dict[BackendName, dict[str, str]] = Field(default_factory=dict)
    # Declared after the URLs and keys, so that their validators can check those are set.
    #: Backend per target language; languages not named use ``default_backend``.
    backends: dict[str, BackendName] = Field(default_factory=dict)
    #: Backend for languages not in ``backends``; None: those languages get no machine translation.
    default_backend: BackendName | None = None

    #: A proxy for the backends (e.g. http://proxy.example:3128); else HTTP(S)_PROXY/NO_PROXY apply
    #: when ``trust_env`` is on.
    proxy: str | None = None
    trust_env: bool = True
    request_timeout_seconds: float = Field(default=15.0, gt=0, le=300)
    connect_timeout_seconds: float = Field(default=3.0, gt=0, le=60)
    #: Attempts per request on 429, 5xx and transport errors (1 = no retry).
    retry_attempts: int = Field(default=4, ge=1, le=20)
    retry_initial_seconds: float = Field(default=0.5, gt=0, le=60)
    retry_max_seconds: float = Field(default=8.0, gt=0, le=600)
    #: Consecutive failed calls that open a backend's circuit, and how long it stays open.
    breaker_failures: int = Field(default=5, ge=1, le=1000)
    breaker_reset_seconds: float = Field(default=30.0, gt=0, le=86400)
    #: How long a backend that said its quota is exhausted (DeepL 456, Google quota 403) is left alone.
    quota_cooldown_seconds: float = Field(default=3600.0, gt=0, le=31 * 86400)
    #: Characters per calendar month per backend (shared by replicas, in PostgreSQL); not listed: no limit.
    monthly_budgets: dict[BackendName, int] = Field(default_factory=dict)
    #: The time zone whose calendar months the budgets follow.
    budget_timezone: str = "Asia/Tokyo"
    #: Parallel requests to one backend from this process.
    backend_concurrency: int = Field(default=4, ge=1, le=64)

    # --- fallbacks -------------------------------------------------------------------------------
    #: Per language, the languages to show instead when it has no translation (replaces the default).
    fallback_chains: dict[str, list[str]] = Field(default_factory=dict)
    #: A fallback caused by a failure (budget, outage, mangled placeholders) is retried after this long;
    #: until then the batches of that notice and language reuse the fallback.
    fallback_retry_seconds: float = Field(default=600.0, gt=0, le=7 * 86400)

    # --- work ------------------------------------------------------------------------------------
    #: Translate a notice into its audience's languages as soon as notices.v1 announces it.
    pretranslate: bool = True
    #: Languages to pre-translate when the notice names none (empty: every offered language).
    pretranslate_languages: list[str] = Field(default_factory=list)
    #: (notice, language) pairs translated at once by this process.
    translation_concurrency: int = Field(default=4, ge=1, le=64)
    #: Which translation each batch was rendered with is kept this long (for identical redelivery).
    rendered_retention_days: int = Field(default=30, ge=1, le=3650)

    # --- staff API -------------------------------------------------------------------------------
    api_key_cache_seconds: float = Field(default=10.0, ge=0, le=300)
    #: The approver of a human translation must not be its submitter.
    four_eyes: bool = False

    @field_validator("backends")
    @classmethod
    def _backend_languages(
        cls, value: dict[str, BackendName], info: ValidationInfo
    ) -> dict[str, BackendName]:
        for code in value:
            _known_language(code)
        for name in sorted(set(value.values())):
            _check_configured(name, info.data)
        return value

    @field_validator("default_backend")
    @classmethod
    def _default_backend(cls, value: BackendName | None, info: ValidationInfo) -> BackendName | None:
        if value is not None:
            _check_configured(value, info.data)
        return value

    @field_validator("fallback_chains")
    @classmethod
    def _chains(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for code, chain in value.items():
            _known_language(code)
            for step in chain:
                _known_language(step)
            if code in chain:
                raise ValueError(f"the fallback chain of {code!r} contains {code!r} itself")
        return value

    @field_validator("pretranslate_languages")
    @classmethod
    def _pretranslate(cls, value: list[str]) -> list[str]:
        for code in value:
            _known_language(code)
        return value

    @field_validator("monthly_budgets")
    @classmethod
    def _budgets(cls, value: dict[BackendName, int]) -> dict[BackendName, int]:
        for name, limit in value.items():
            if limit < 0:
                raise ValueError(f"the budget of {name} must be >= 0")
        return value

    @field_validator("budget_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("apertium_url", "libretranslate_url", "deepl_url", "google_url", "proxy")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/") if value else value

    def used_backends(self) -> list[BackendName]:
        used = set(self.backends.values())
        if self.default_backend is not None:
            used.add(self.default_backend)
        return [name for name in BACKEND_NAMES if name in used]

    def backend_for(self, language: str) -> BackendName | None:
        return self.backends.get(language, self.default_backend)

    @property
    def budget_zone(self) -> ZoneInfo:
        return ZoneInfo(self.budget_timezone)
