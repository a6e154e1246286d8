"""LibreTranslate: ``POST /translate`` with ``q`` as a list, ``format=text``.

Response: ``{"translatedText": [...]}`` in the order of ``q``. Errors: 400 (bad request, unsupported
language), 403 (invalid or missing API key, banned), 429 (slow down), 500.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import httpx

from .base import Backend

#: LibreTranslate (Argos) codes; newer servers also accept zh-Hans/zh-Hant and pt-BR (override in
#: settings when the server has those models).
DEFAULT_LIBRE_CODES: dict[str, str] = {
    "en": "en",
    "vi": "vi",
    "id": "id",
    "zh-Hans": "zh",
    "zh-Hant": "zt",
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


class LibreTranslateBackend(Backend):
    name: ClassVar[str] = "libretranslate"
    max_texts: ClassVar[int] = 50
    max_chars: ClassVar[int] = 5000
    default_codes: ClassVar[dict[str, str]] = DEFAULT_LIBRE_CODES

    def __init__(
        self, client: httpx.AsyncClient, *, api_key: str | None = None, codes: dict[str, str] | None = None
    ) -> None:
        super().__init__(client, codes=codes)
        self._api_key = api_key

    async def request(self, texts: Sequence[str], source: str, target: str) -> list[str]:
        payload: dict[str, Any] = {
            "q": list(texts),
            "source": self.codes[source],
            "target": self.codes[target],
            "format": "text",
        }
        if self._api_key:
            payload["api_key"] = self._api_key
        response = await self.client.post("/translate", json=payload)
        self._classify(response)
        return self._results(response.json().get("translatedText"), len(texts))
