"""A notice's source text as the unit of translation: its hash, and its segments.

A notice is translated as segments: the title, then each paragraph of the body. Segments are what the
translation memory remembers, so a paragraph shared by two notices (or by the reminders of one rule
in many languages) is translated once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from services.common.contracts import NoticeContent

from .text import paragraphs


def source_hash(content: NoticeContent) -> str:
    """Identifies the text to translate (title, body and source language; not the category)."""
    payload = json.dumps([content.source_language, content.title, content.body], ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def segments(title: str, body: str) -> list[str]:
    """[title, paragraph 1, paragraph 2, ...]."""
    return [title.strip(), *(paragraphs(body) or [body.strip()])]


def assemble(translated: Sequence[str]) -> tuple[str, str]:
    """(title, body) from translated segments; paragraphs separated by one blank line."""
    if not translated:
        raise ValueError("no segments")
    return translated[0].strip(), "\n\n".join(s.strip("\n") for s in translated[1:])
