"""Employer registration codes: the code an establishment prints or puts in a QR / LINE deep link.

A code is 8 symbols from Crockford's base-32 alphabet (no I, L, O, U: nothing to confuse with 1, 0 or
V), the last one a Luhn mod 32 check symbol, shown with the deployment's prefix: ``GM-7KQ2-9XPA``.
The check symbol catches every single mistyped symbol and every swap of two neighbours except 0↔Z
(tests/unit/dialogue prove both), before the registry is asked, so the worker hears "this does not look
right" instead of "not found". One random code in 32 passes the check by chance.

People type codes in many ways: lower case, full width (ＧＭ－７ＫＱ２…), with or without the prefix,
spaces or hyphens, O for 0, I or L for 1. All of these are accepted. The prefix also keeps ordinary
words from being taken for codes: without it, only a message that is nothing but a code counts.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 8
_INDEX = {symbol: i for i, symbol in enumerate(ALPHABET)}
_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEP = r"[\s\-_.:/]*"
_BODY = rf"([0-9A-Z]{{4}}){_SEP}([0-9A-Z]{{4}})"
_BARE = re.compile(rf"\s*{_BODY}\s*")


def check_symbol(payload: str) -> str:
    """The Luhn mod N check symbol (N = 32) for the 7 payload symbols."""
    n = len(ALPHABET)
    total = 0
    factor = 2
    for symbol in reversed(payload):
        addend = factor * _INDEX[symbol]
        total += addend // n + addend % n
        factor = 1 if factor == 2 else 2
    return ALPHABET[(n - total % n) % n]


def is_valid(body: str) -> bool:
    """Whether 8 canonical symbols carry a correct check symbol."""
    if len(body) != LENGTH or any(symbol not in _INDEX for symbol in body):
        return False
    return check_symbol(body[:-1]) == body[-1]


def generate(randbelow: Callable[[int], int] = secrets.randbelow) -> str:
    """A new random code body (for the issuing side; pass a seeded ``randbelow`` in tests)."""
    payload = "".join(ALPHABET[randbelow(len(ALPHABET))] for _ in range(LENGTH - 1))
    return payload + check_symbol(payload)


def display(body: str, prefix: str) -> str:
    """How a code is printed: ``GM-7KQ2-9XPA``."""
    head = f"{prefix}-" if prefix else ""
    return f"{head}{body[:4]}-{body[4:]}"


@dataclass(frozen=True, slots=True)
class CodeCandidate:
    """Something the worker typed that is meant as a code."""

    #: canonical symbols (upper case, O→0, I/L→1); may be invalid
    body: str
    valid: bool
    #: written with the prefix, so certainly meant as a code
    prefixed: bool


def _candidate(first: str, second: str, *, prefixed: bool) -> CodeCandidate:
    body = (first + second).translate(_CONFUSABLE)
    return CodeCandidate(body=body, valid=is_valid(body), prefixed=prefixed)


def find(text: str, prefix: str, *, bare: bool) -> CodeCandidate | None:
    """The code in ``text``: after the prefix anywhere in the text, or (``bare``) as the whole text."""
    upper = unicodedata.normalize("NFKC", text).upper()
    if prefix:
        pattern = re.compile(rf"(?<![0-9A-Z]){re.escape(prefix.upper())}{_SEP}{_BODY}(?![0-9A-Z])")
        match = pattern.search(upper)
        if match:
            return _candidate(match[1], match[2], prefixed=True)
    if bare:
        match = _BARE.fullmatch(upper)
        if match:
            candidate = _candidate(match[1], match[2], prefixed=False)
            # Plain words ("PASSWORD", "HOSPITAL") are not codes unless they happen to check out.
            typed_digit = any(ch.isdigit() for ch in match[1] + match[2])
            if candidate.valid or typed_digit:
                return candidate
    return None
