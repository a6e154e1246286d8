"""LINE text limits: lengths in UTF-16 code units, and splitting long texts into at most 5 messages.

LINE counts a text message's 5,000-character limit in UTF-16 code units, so an emoji or a rare CJK
character outside the Basic Multilingual Plane counts twice. A text is cut at paragraph boundaries
first, then at sentence boundaries, then at spaces, and only as a last resort inside a word (never
inside a surrogate pair). What does not fit into ``max_parts`` messages is cut off at a sentence
boundary and the last message ends with a note in the reader's language saying it was shortened.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: LINE's limit for one text message.
TEXT_LIMIT = 5000
#: Sentence ends: CJK full stops end a sentence by themselves; the others need a following space.
_SENTENCE_END = re.compile(r"[。！？]+[」』）)]*\s*|[.!?؟।॥။።។]+[\"'”’)\]]*\s+")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")


def utf16_len(text: str) -> int:
    """Length as LINE counts it: UTF-16 code units (characters outside the BMP count twice)."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def paragraphs(text: str) -> list[str]:
    """The text's paragraphs (separated by blank lines), without the blank lines."""
    return [p for p in (part.strip("\n") for part in _PARAGRAPH_BREAK.split(text)) if p.strip()]


def sentences(text: str) -> list[str]:
    """The text cut after each sentence end; each piece keeps its trailing spaces (rejoin with '')."""
    pieces: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        if match.end() > start:
            pieces.append(text[start : match.end()])
            start = match.end()
    if start < len(text):
        pieces.append(text[start:])
    return pieces


def _hard_cut(text: str, limit: int) -> list[str]:
    """Cut a text without sentence ends into pieces of at most ``limit`` units, at spaces if possible."""
    pieces: list[str] = []
    rest = text
    while utf16_len(rest) > limit:
        # the longest prefix within the limit, in characters
        units = 0
        end = 0
        for i, ch in enumerate(rest):
            units += 2 if ord(ch) > 0xFFFF else 1
            if units > limit:
                break
            end = i + 1
        space = rest.rfind(" ", 0, end)
        cut = space + 1 if space > end // 2 else end
        pieces.append(rest[:cut])
        rest = rest[cut:]
    if rest:
        pieces.append(rest)
    return pieces


def _units(text: str, limit: int) -> list[str]:
    """Pieces of at most ``limit`` units: the paragraph itself, or its sentences, or hard cuts."""
    if utf16_len(text) <= limit:
        return [text]
    out: list[str] = []
    for sentence in sentences(text):
        if utf16_len(sentence) <= limit:
            out.append(sentence)
        else:
            out.extend(_hard_cut(sentence, limit))
    return out


@dataclass(frozen=True, slots=True)
class Split:
    parts: tuple[str, ...]
    #: True when the text did not fit and its end was cut off.
    truncated: bool


def split_text(
    text: str, *, limit: int = TEXT_LIMIT, max_parts: int = 5, truncation_note: str = "…"
) -> Split:
    """Split ``text`` into at most ``max_parts`` parts of at most ``limit`` UTF-16 units each.

    Paragraphs stay together when they fit, joined by a blank line; a paragraph longer than a message
    is cut between sentences (pieces of one paragraph are joined without a blank line).
    """
    if utf16_len(truncation_note) + 2 > limit:
        raise ValueError("the truncation note does not fit into one message")
    parts: list[str] = []
    current = ""
    for paragraph in paragraphs(text) or [text.strip() or text]:
        pieces = _units(paragraph, limit)
        for index, piece in enumerate(pieces):
            joiner = ("\n\n" if index == 0 else "") if current else ""
            candidate = current + joiner + piece
            if utf16_len(candidate.rstrip()) <= limit:
                current = candidate
            else:
                parts.append(current.rstrip())
                current = piece
    if current.strip():
        parts.append(current.rstrip())
    if len(parts) <= max_parts:
        return Split(tuple(parts), False)
    kept = parts[:max_parts]
    budget = limit - utf16_len(truncation_note) - 2
    last = kept[-1]
    if utf16_len(last) > budget:
        shortened = ""
        for piece in _units(last, budget):
            if utf16_len(shortened + piece) > budget:
                break
            shortened += piece
        last = shortened.rstrip() or _hard_cut(last, budget)[0].rstrip()
    kept[-1] = f"{last}\n\n{truncation_note}"
    return Split(tuple(kept), True)
