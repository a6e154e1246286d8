"""What each reader must receive, worked out independently of the translate service.

- a reader of the notice's own language: the title and the body as staff wrote them;
- Spanish and Brazilian Portuguese: Apertium APY asked directly (en→es, then es→pt-BR), segment by
  segment (the title, then each paragraph), as docs/translate.md specifies;
- everybody else: the line "not yet available in your language, shown below in: <language>" in the
  reader's own language (services/translate/data/reader_lines.json, data reviewed by native speakers),
  then the source text.

The notices used with it contain no placeholders and no glossary terms, so no protection tokens are
involved and the machine output is exactly what APY returns.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from services.common import languages
from tests.support.stack import REPO

READER_LINES = REPO / "services" / "translate" / "data" / "reader_lines.json"
MACHINE = frozenset({"es", "pt-BR"})


def _paragraphs(body: str) -> list[str]:
    return [p.strip("\n") for p in body.split("\n\n") if p.strip()]


class Oracle:
    def __init__(self, apertium_url: str) -> None:
        self.apertium_url = apertium_url.rstrip("/")
        self.lines: dict[str, Any] = json.loads(Path(READER_LINES).read_text("utf-8"))
        self._cache: dict[tuple[str, str], str] = {}
        self._pairs: set[tuple[str, str]] | None = None

    async def _pair_to_portuguese(self, client: httpx.AsyncClient) -> str:
        if self._pairs is None:
            data = (await client.get(f"{self.apertium_url}/listPairs")).json()["responseData"]
            self._pairs = {(p["sourceLanguage"], p["targetLanguage"]) for p in data}
        return "spa|por_BR" if ("spa", "por_BR") in self._pairs else "spa|por"

    async def _apy(self, client: httpx.AsyncClient, text: str, langpair: str) -> str:
        key = (text, langpair)
        if key not in self._cache:
            response = await client.post(
                f"{self.apertium_url}/translate",
                data={"langpair": langpair, "q": text, "markUnknown": "no", "format": "txt"},
            )
            response.raise_for_status()
            self._cache[key] = str(response.json()["responseData"]["translatedText"])
        return self._cache[key]

    def fallback_line(self, reader: str, shown: str) -> str:
        return str(self.lines[reader]["fallback"]).replace("{language}", languages.get(shown).native_name)

    async def expected(self, *, title: str, body: str, source_language: str, reader: str) -> str:
        segments = [title.strip(), *_paragraphs(body)]
        if reader == source_language:
            return "\n\n".join(segments)
        if source_language == "en" and reader in MACHINE:
            async with httpx.AsyncClient(timeout=30, trust_env=False) as client:
                out = [await self._apy(client, s, "eng|spa") for s in segments]
                if reader == "pt-BR":
                    pair = await self._pair_to_portuguese(client)
                    out = [await self._apy(client, s, pair) for s in out]
            return "\n\n".join([out[0].strip(), *(s.strip("\n") for s in out[1:])])
        return "\n\n".join([self.fallback_line(reader, source_language), *segments])
