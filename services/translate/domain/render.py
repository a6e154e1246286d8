"""From a stored translation to LINE message objects for one batch."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .fallback import fallback_line, truncation_note
from .fill import fill
from .text import TEXT_LIMIT, split_text


@dataclass(frozen=True, slots=True)
class Rendered:
    messages: tuple[dict[str, Any], ...]
    truncated: bool
    #: placeholders the batch had no value for (left visible)
    unfilled: tuple[str, ...]


def render(
    *,
    title: str,
    body: str,
    reader_language: str,
    text_language: str,
    fallback: bool,
    values: Mapping[str, str],
    max_messages: int = 5,
    limit: int = TEXT_LIMIT,
) -> Rendered:
    """Text messages: [fallback line], title and body, filled with ``values`` in the text's locale.

    Dates and numbers follow the language the text is written in (an English fallback shows an
    English date); the fallback line and the truncation note are in the reader's language.
    """
    filled_title, missing_title = fill(title, values, text_language)
    filled_body, missing_body = fill(body, values, text_language)
    blocks = [filled_title, filled_body] if filled_body.strip() else [filled_title]
    if fallback:
        blocks.insert(0, fallback_line(reader_language, text_language))
    split = split_text(
        "\n\n".join(blocks),
        limit=limit,
        max_parts=max_messages,
        truncation_note=truncation_note(reader_language),
    )
    return Rendered(
        messages=tuple({"type": "text", "text": part} for part in split.parts),
        truncated=split.truncated,
        unfilled=tuple(dict.fromkeys([*missing_title, *missing_body])),
    )
