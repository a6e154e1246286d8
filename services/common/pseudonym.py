"""Residence card numbers become pseudonymous worker ids at the door, and are never kept in clear.

``worker_id = HMAC-SHA256(pepper, normalised card number)``, hex. The pepper is a secret of the
prefecture (environment only); without it the ids cannot be linked back to card numbers by trying all
of them. The same function serves the employment feed and the LINE conversation, so a worker who types
their card number is matched to their employment record without the number being stored anywhere.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata

#: 在留カード番号: two letters, eight digits, two letters (e.g. AB12345678CD).
CARD_NUMBER = re.compile(r"^[A-Z]{2}[0-9]{8}[A-Z]{2}$")
_SEPARATORS = re.compile(r"[\s\-‐－ー_]+")


def normalize_card_number(value: str) -> str:
    """Upper-case ASCII without spaces or hyphens; full-width input (ＡＢ１２...) is accepted."""
    text = unicodedata.normalize("NFKC", value)
    return _SEPARATORS.sub("", text).upper()


def looks_like_card_number(value: str) -> bool:
    return bool(CARD_NUMBER.match(normalize_card_number(value)))


def worker_id(card_number: str, pepper: bytes) -> str:
    """The pseudonymous id; raises ValueError (without echoing the number) if it is malformed."""
    if not pepper:
        raise ValueError("the worker-id pepper is empty")
    normalized = normalize_card_number(card_number)
    if not CARD_NUMBER.match(normalized):
        raise ValueError("residence card number must be 2 letters, 8 digits and 2 letters")
    return hmac.new(pepper, normalized.encode(), hashlib.sha256).hexdigest()
