"""Fallback chains, and the lines that tell readers what they are reading.

When a language has no translation (no engine for it, the engine failed or its budget ran out), the
reader gets the notice in the first language of its chain that has one, headed by a line in the
reader's own language that says so. The default chains:

- Japanese ⇄ Easy Japanese first, then English;
- English → Easy Japanese → Japanese;
- Simplified ⇄ Traditional Chinese first (readable for most readers of the other), then English and
  Easy Japanese;
- every other language → English → Easy Japanese (the two languages most foreign workers in Japan
  read, after their own).

If no language of the chain has a text either, the source (Japanese or English) is sent with the line:
a batch is never dropped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import resources
from typing import cast

from services.common import languages

_DEFAULT_CHAINS: dict[str, tuple[str, ...]] = {
    "ja": ("ja-x-easy", "en"),
    "ja-x-easy": ("ja", "en"),
    "en": ("ja-x-easy", "ja"),
    "zh-Hans": ("zh-Hant", "en", "ja-x-easy"),
    "zh-Hant": ("zh-Hans", "en", "ja-x-easy"),
}
_GENERAL_CHAIN = ("en", "ja-x-easy")


def chain_for(language: str, overrides: Mapping[str, Sequence[str]] | None = None) -> tuple[str, ...]:
    """The languages to try, in order, when ``language`` has no translation."""
    if overrides and language in overrides:
        chain = tuple(overrides[language])
    else:
        chain = _DEFAULT_CHAINS.get(language, _GENERAL_CHAIN)
    return tuple(dict.fromkeys(code for code in chain if code != language))


@cache
def _lines() -> dict[str, dict[str, str]]:
    raw = resources.files("services.translate").joinpath("data/reader_lines.json").read_text("utf-8")
    data = cast(dict[str, object], json.loads(raw))
    return {code: cast(dict[str, str], value) for code, value in data.items() if not code.startswith("_")}


def fallback_line(reader_language: str, shown_language: str) -> str:
    """'Not yet available in your language; shown below in: <language>', in the reader's language."""
    template = _lines()[reader_language]["fallback"]
    return template.replace("{language}", languages.get(shown_language).native_name)


def truncation_note(reader_language: str) -> str:
    """'This message was shortened', in the reader's language."""
    return _lines()[reader_language]["truncated"]


def missing_lines() -> list[str]:
    """Offered languages without both lines (empty when the data file is complete)."""
    lines = _lines()
    return [
        code
        for code in sorted(languages.LANGUAGE_CODES)
        if not {"fallback", "truncated"} <= set(lines.get(code, {}))
        or "{language}" not in lines[code]["fallback"]
    ]
