"""Apertium APY: rule-based, offline machine translation (``GET|POST /translate``, ``/listPairs``).

APY translates one text per request (``q``) for one installed pair (``langpair=eng|spa``). Pairs are
read from ``/listPairs`` and mapped to this system's codes, so a route such as en→es→pt-BR can be
planned by chaining installed pairs. Unknown words are passed through unmarked (``markUnknown=no``),
and the text is treated as plain text (``format=txt``) so line breaks survive.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import httpx

from .base import Backend, RequestRejected, RetryableError

#: This system's language -> APY's codes (ISO 639-3, with variants), best first; settings may
#: override one with a comma-separated list.
DEFAULT_APY_CODES: dict[str, str] = {
    "en": "eng,eng_US,eng_GB",
    "es": "spa",
    "pt-BR": "por_BR,por",
    "fr": "fra",
    "ru": "rus",
    "uk": "ukr",
    "id": "ind",
    "vi": "vie",
    "ja": "jpn",
    "ko": "kor",
    "zh-Hans": "zho,cmn",
    "fil": "tgl",
    "ne": "nep",
    "th": "tha",
    "my": "mya",
    "km": "khm",
    "si": "sin",
    "mn": "khk,mon",
    "bn": "ben",
    "hi": "hin",
    "ur": "urd",
    "uz": "uzb",
    "ta": "tam",
}


class ApertiumBackend(Backend):
    name: ClassVar[str] = "apertium"
    max_texts: ClassVar[int] = 1  # APY takes one q per request; the engine sends them concurrently
    max_chars: ClassVar[int] = 20_000
    default_codes: ClassVar[dict[str, str]] = DEFAULT_APY_CODES

    def __init__(self, client: httpx.AsyncClient, *, codes: dict[str, str] | None = None) -> None:
        super().__init__(client, codes=codes)
        self._pairs: dict[tuple[str, str], tuple[str, str]] | None = None

    def _ranked(self) -> dict[str, tuple[str, int]]:
        """APY code -> (our language, rank of that code among the language's candidates)."""
        ranked: dict[str, tuple[str, int]] = {}
        for language, candidates in self.codes.items():
            for rank, code in enumerate(c.strip() for c in candidates.split(",") if c.strip()):
                ranked.setdefault(code, (language, rank))
        return ranked

    async def load_pairs(self) -> dict[tuple[str, str], tuple[str, str]]:
        try:
            response = await self.client.get("/listPairs")
        except httpx.TransportError as error:
            raise RetryableError(self.name, f"listing pairs failed: {type(error).__name__}") from error
        self._classify(response)
        data: Any = response.json().get("responseData")
        if not isinstance(data, list):
            raise RetryableError(self.name, "unexpected /listPairs response")
        ranked = self._ranked()
        best: dict[tuple[str, str], tuple[int, tuple[str, str]]] = {}
        for entry in data:
            source, target = entry.get("sourceLanguage"), entry.get("targetLanguage")
            if source not in ranked or target not in ranked:
                continue
            ours = (ranked[source][0], ranked[target][0])
            if ours[0] == ours[1]:
                continue  # variants of one language (spa-eng_US vs spa-eng are both es->en)
            rank = ranked[source][1] + ranked[target][1]
            if ours not in best or rank < best[ours][0]:
                best[ours] = (rank, (source, target))
        self._pairs = {pair: codes for pair, (_, codes) in best.items()}
        return self._pairs

    async def pairs(self) -> set[tuple[str, str]] | None:
        if self._pairs is None:
            await self.load_pairs()
        assert self._pairs is not None
        return set(self._pairs)

    async def request(self, texts: Sequence[str], source: str, target: str) -> list[str]:
        if self._pairs is None:
            await self.load_pairs()
        assert self._pairs is not None
        codes = self._pairs.get((source, target))
        if codes is None:
            raise RequestRejected(self.name, f"no installed pair {source}->{target}")
        out: list[str] = []
        for text in texts:
            response = await self.client.post(
                "/translate",
                data={"langpair": f"{codes[0]}|{codes[1]}", "q": text, "markUnknown": "no", "format": "txt"},
            )
            self._classify(response)
            body: Any = response.json()
            translated = (body.get("responseData") or {}).get("translatedText")
            if body.get("responseStatus") != 200 or not isinstance(translated, str):
                raise RetryableError(self.name, f"unexpected response status {body.get('responseStatus')}")
            out.append(translated)
        return out
