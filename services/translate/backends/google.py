"""Google Cloud Translation (Basic, v2): ``POST https://translation.googleapis.com/language/translate/v2``.

Body (JSON): ``q`` (up to 128 texts), ``target``, ``source``, ``format: "text"`` (the default is html,
which would turn "&" into "&amp;"). The API key goes in the ``X-Goog-Api-Key`` header (accepted by
Google Cloud APIs like the ``key`` query parameter, and kept out of URLs and access logs).
Response: ``{"data": {"translations": [{"translatedText": "..."}]}}``. Errors are
``{"error": {"code", "message", "errors": [{"reason"}]}}``: 403 with a quota reason (daily limit,
quota exceeded) means the quota is used up; 403 with a rate reason and 429 mean slow down.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import httpx

from .base import Backend, QuotaExhausted, RetryableError, error_text, retry_after_seconds

DEFAULT_GOOGLE_CODES: dict[str, str] = {
    "en": "en",
    "vi": "vi",
    "id": "id",
    "zh-Hans": "zh-CN",
    "zh-Hant": "zh-TW",
    "ko": "ko",
    "fil": "tl",
    "pt-BR": "pt",
    "es": "es",
    "ne": "ne",
    "th": "th",
    "my": "my",
    "km": "km",
    "si": "si",
    "mn": "mn",
    "bn": "bn",
    "hi": "hi",
    "ur": "ur",
    "ru": "ru",
    "uk": "uk",
    "fr": "fr",
    "uz": "uz",
    "ta": "ta",
    "ja": "ja",
}
_QUOTA_REASONS = frozenset(
    {"dailyLimitExceeded", "quotaExceeded", "dailyLimitExceededUnreg", "limitExceeded"}
)
_RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "rateLimitExceededUnreg"})


def _reasons(response: httpx.Response) -> set[str]:
    try:
        body: Any = response.json()
    except ValueError:
        return set()
    errors = body.get("error", {}).get("errors", []) if isinstance(body, dict) else []
    return {str(e["reason"]) for e in errors if isinstance(e, dict) and isinstance(e.get("reason"), str)}


class GoogleBackend(Backend):
    name: ClassVar[str] = "google"
    max_texts: ClassVar[int] = 128
    max_chars: ClassVar[int] = 5000  # Google's recommended maximum per request
    default_codes: ClassVar[dict[str, str]] = DEFAULT_GOOGLE_CODES

    def __init__(
        self, client: httpx.AsyncClient, *, url: str, api_key: str, codes: dict[str, str] | None = None
    ) -> None:
        super().__init__(client, codes=codes)
        self._url = url
        self._api_key = api_key

    async def request(self, texts: Sequence[str], source: str, target: str) -> list[str]:
        payload = {
            "q": list(texts),
            "source": self.codes[source],
            "target": self.codes[target],
            "format": "text",
        }
        response = await self.client.post(self._url, json=payload, headers={"X-Goog-Api-Key": self._api_key})
        if response.status_code == 403:
            reasons = _reasons(response)
            if reasons & _QUOTA_REASONS:
                raise QuotaExhausted(self.name, f"HTTP 403 {', '.join(sorted(reasons))}", status=403)
            if reasons & _RATE_REASONS:
                raise RetryableError(
                    self.name,
                    f"HTTP 403 {', '.join(sorted(reasons))}: {error_text(response)}",
                    status=403,
                    retry_after=retry_after_seconds(response),
                )
        self._classify(response)
        data = response.json().get("data")
        translations = data.get("translations") if isinstance(data, dict) else None
        texts_out = (
            [t.get("translatedText") for t in translations] if isinstance(translations, list) else None
        )
        return self._results(texts_out, len(texts))
