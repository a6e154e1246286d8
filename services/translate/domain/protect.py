"""Keeping placeholders and glossary terms away from the engine, and putting them back.

Before a text goes to an engine, every placeholder (``{date}``, ``{city}``, ...) and every glossary term
is replaced by an opaque token (``XQZAA``, ``XQZAB``, ...): capital Latin letters with no digits (an
engine may turn digits into the target script's digits) that no language uses as a word, so engines
copy them through. After translation the tokens are replaced by the placeholder itself or the term's
fixed translation in the target language. If an engine dropped, duplicated or mangled a token, the
output is rejected (:class:`TokensMangled`) and the caller falls back rather than send a message
without its date or with a wrong term.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from string import ascii_uppercase

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]{0,63})\}")
_TOKEN = re.compile(r"X\s?Q\s?Z\s?([A-Z])\s?([A-Z])", re.IGNORECASE)
#: Scripts written without spaces between words: glossary terms match anywhere.
_NO_WORD_BOUNDARIES = frozenset({"ja", "ja-x-easy", "zh-Hans", "zh-Hant", "th", "my", "km"})
MAX_TOKENS = 26 * 26


class TokensMangled(ValueError):
    """An engine's output lost, repeated or changed a protected token."""


def placeholders(text: str) -> list[str]:
    """The placeholder names in ``text``, in order, with repetitions."""
    return PLACEHOLDER.findall(text)


def _token(index: int) -> str:
    return "XQZ" + ascii_uppercase[index // 26] + ascii_uppercase[index % 26]


@dataclass(frozen=True, slots=True)
class GlossaryTerm:
    source: str
    target: str


@dataclass(frozen=True, slots=True)
class Protected:
    """A text ready for an engine: ``text`` with tokens, and what each token stands for."""

    text: str
    #: token -> what it becomes after translation ("{date}" or the term in the target language)
    replacements: dict[str, str]

    def expected(self) -> Counter[str]:
        return _tokens(self.text, None if not self.replacements else set(self.replacements))


def _tokens(text: str, known: set[str] | None) -> Counter[str]:
    """Token-shaped words in ``text`` (normalised), only the ``known`` ones when given."""
    found = Counter("XQZ" + a.upper() + b.upper() for a, b in _TOKEN.findall(text))
    return found if known is None else Counter({t: n for t, n in found.items() if t in known})


def protect(text: str, terms: Sequence[GlossaryTerm] = (), *, source_language: str = "en") -> Protected:
    """Replace placeholders and glossary terms (longest first) with tokens."""
    patterns: list[str] = [PLACEHOLDER.pattern]
    ordered = sorted({t.source: t for t in terms if t.source.strip()}.values(), key=lambda t: -len(t.source))
    by_folded: dict[str, GlossaryTerm] = {}
    if ordered:
        spaced = source_language not in _NO_WORD_BOUNDARIES
        alternatives = "|".join(re.escape(t.source) for t in ordered)
        patterns.append(rf"(?<!\w)(?:{alternatives})(?!\w)" if spaced else f"(?:{alternatives})")
        by_folded = {t.source.casefold(): t for t in ordered}
    combined = re.compile("|".join(f"({p})" for p in patterns), re.IGNORECASE if ordered else 0)
    tokens: dict[str, str] = {}
    replacements: dict[str, str] = {}
    # token-shaped words already in the text (never, in practice) are not handed out again
    taken = set(_tokens(text, None))
    free = (token for token in map(_token, range(MAX_TOKENS)) if token not in taken)

    def substitute(match: re.Match[str]) -> str:
        found = match.group(0)
        if PLACEHOLDER.fullmatch(found):
            key, replacement = found, found
        else:
            term = by_folded[found.casefold()]
            # "Residence card" at the start of a sentence keeps its capital in the target term.
            capital = found[:1].isupper() and not term.source[:1].isupper()
            key = "\x00" + term.source + ("\x01" if capital else "")
            replacement = term.target[:1].upper() + term.target[1:] if capital else term.target
        if key not in tokens:
            token = next(free, None)
            if token is None:
                raise ValueError(f"more than {MAX_TOKENS} placeholders and terms in one paragraph")
            tokens[key] = token
            replacements[token] = replacement
        return tokens[key]

    return Protected(combined.sub(substitute, text), replacements)


def check(output: str, protected: Protected) -> None:
    """Raise :class:`TokensMangled` unless ``output`` has exactly the tokens the input had."""
    expected = protected.expected()
    # A source that itself contains a token-shaped word (unlikely) is compared on our tokens only.
    found = _tokens(output, set(protected.replacements) if protected.replacements else None)
    if found != expected:
        missing = sorted((expected - found).elements())
        extra = sorted((found - expected).elements())
        raise TokensMangled(
            "protected tokens changed by the engine"
            + (f"; missing {', '.join(protected.replacements.get(t, t) for t in missing)}" if missing else "")
            + (f"; unexpected {', '.join(extra)}" if extra else "")
        )


def restore(output: str, protected: Protected) -> str:
    """The engine's output with every token replaced by its placeholder or target term."""
    check(output, protected)

    def back(match: re.Match[str]) -> str:
        token = "XQZ" + match.group(1).upper() + match.group(2).upper()
        return protected.replacements.get(token, match.group(0))

    return _TOKEN.sub(back, output)
