"""DeepL API v2: ``POST /v2/translate`` with ``Authorization: DeepL-Auth-Key <key>``.

Body (JSON): ``text`` (up to 50 texts), ``target_lang``, ``source_lang``; the request body must stay
under 128 KiB. Response: ``{"translations": [{"detected_source_language": "EN", "text": "..."}]}``.
Errors: 456 quota exceeded (the character limit of the plan), 429 too many requests, 529 too many
requests (high load), 5xx; 400/403/413 are rejections (bad input, bad key, too large).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import httpx

from .base import Backend, QuotaExhausted, RetryableError, error_text, retry_after_seconds

#: Target codes. Sources use the bare language (EN, JA, ...).
DEFAULT_DEEPL_CODES: dict[str, str] = {
    "en": "EN-US",
    "ja": "JA",
    "zh-Hans": "ZH-HANS",
    "zh-Hant": "ZH-HANT",
    "ko": "KO",
    "id": "ID",
    "pt-BR": "PT-BR",
    "es": "ES",
    "ru": "RU",
    "uk": "UK",
    "fr": "FR",
    "vi": "VI",
    "th": "TH",
}


class DeepLBackend(Backend):
    name: ClassVar[str] = "deepl"
    max_texts: ClassVar[int] = 50
    max_chars: ClassVar[int] = 30_000  # at most ~90 KiB of UTF-8, under the 128 KiB body limit
    default_codes: ClassVar[dict[str, str]] = DEFAULT_DEEPL_CODES

    def __init__(
        self, client: httpx.AsyncClient, *, auth_key: str, codes: dict[str, str] | None = None
    ) -> None:
        super().__init__(client, codes=codes)
        self._auth = f"DeepL-Auth-Key {auth_key}"

    async def request(self, texts: Sequence[str], source: str, target: str) -> list[str]:
        payload: dict[str, Any] = {
            "text": list(texts),
            "source_lang": self.codes[source].split("-")[0],
            "target_lang": self.codes[target],
            "preserve_formatting": True,
        }
        response = await self.client.post(
            "/v2/translate", json=payload, headers={"Authorization": self._auth}
        )
        if response.status_code == 456:
            raise QuotaExhausted(self.name, f"HTTP 456 quota exceeded: {error_text(response)}", status=456)
        if response.status_code == 529:
            raise RetryableError(
                self.name, "HTTP 529 too many requests", status=529, retry_after=retry_after_seconds(response)
            )
        self._classify(response)
        translations = response.json().get("translations")
        texts_out = [t.get("text") for t in translations] if isinstance(translations, list) else None
        return self._results(texts_out, len(texts))
