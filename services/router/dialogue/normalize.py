"""Fold what people type into one comparable form, so matching tolerates how it was typed.

Phones produce full-width letters (ｓｔｏｐ), capitals, stray spaces and punctuation; Vietnamese and
Spanish speakers often leave out accents (``ngon ngu`` for ``ngôn ngữ``). ``fold`` removes all of that.
Accents are removed from Latin letters only: in Devanagari, Thai, Burmese, Khmer, Sinhala, Bengali and
Tamil the combining marks are vowels and carry meaning, and Cyrillic й is not и.
"""

from __future__ import annotations

import unicodedata

# Latin letters that carry no decomposable accent but are commonly typed without their stroke.
_LATIN_EXTRA = str.maketrans({"đ": "d", "ø": "o", "ł": "l", "ı": "i", "ß": "ss"})
# Apostrophe-like letters (Uzbek oʻ, gʻ; Ukrainian ʼ) vanish, so o'zbek, oʻzbek and ozbek fold alike.
_DROPPED = frozenset("'ʻʼ‘’`´ʹ")


def _is_latin(char: str) -> bool:
    return unicodedata.name(char, "").startswith("LATIN")


def _without_latin_accents(text: str) -> str:
    out: list[str] = []
    base_is_latin = False
    for char in unicodedata.normalize("NFD", text):
        if unicodedata.category(char) == "Mn":
            if not base_is_latin:
                out.append(char)
            continue
        base_is_latin = _is_latin(char)
        out.append(char)
    return unicodedata.normalize("NFC", "".join(out))


def fold(text: str) -> str:
    """NFKC, case-folded, Latin accents removed; spaces, punctuation, symbols and format characters gone."""
    text = unicodedata.normalize("NFKC", text).casefold().translate(_LATIN_EXTRA)
    text = _without_latin_accents(text)
    kept = []
    for char in text:
        if char in _DROPPED:
            continue
        category = unicodedata.category(char)
        # Z: spaces; P: punctuation; S: symbols and emoji; C: controls and zero-width joiners.
        if category[0] in "ZPSC":
            continue
        kept.append(char)
    return "".join(kept)
