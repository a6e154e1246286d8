"""Ids computed once per input row, on the hot path of a million-row upload.

Each function here has a slower reference elsewhere (``contracts.derived_id``, ``pseudonym.worker_id``,
aiokafka's ``murmur2``); the unit tests prove they agree, these are only faster.
"""

from __future__ import annotations

import hashlib
import re
import struct
from functools import lru_cache
from typing import Any

from services.common import pseudonym
from services.common.contracts.base import GUNMA_NAMESPACE

_NAMESPACE = GUNMA_NAMESPACE.bytes
_CLEAN_CARD = re.compile(r"[A-Z]{2}[0-9]{8}[A-Z]{2}")


def derived_id(*parts: str) -> str:
    """``str(contracts.derived_id(*parts))`` (UUIDv5) without building a UUID object."""
    digest = bytearray(hashlib.sha1(_NAMESPACE + "\x1f".join(parts).encode()).digest()[:16])  # noqa: S324 - UUIDv5 is SHA-1 by definition
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def worker_id(card_number: str, pepper: bytes) -> str:
    """``pseudonym.worker_id``; a number already written as AB12345678CD skips normalisation, and the
    HMAC's keyed states are computed once per pepper."""
    if len(card_number) == 12 and _CLEAN_CARD.fullmatch(card_number) and pepper:
        inner, outer = _keyed(pepper)
        digest = inner.copy()
        digest.update(card_number.encode())
        result = outer.copy()
        result.update(digest.digest())
        return str(result.hexdigest())
    return pseudonym.worker_id(card_number, pepper)


@lru_cache(maxsize=8)
def _keyed(pepper: bytes) -> tuple[Any, Any]:
    """HMAC-SHA256 (RFC 2104) with the key's inner and outer pads already hashed."""
    key = hashlib.sha256(pepper).digest() if len(pepper) > 64 else pepper
    key = key.ljust(64, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
    return inner, outer


def digest(*parts: str) -> bytes:
    """16 bytes identifying content: the fingerprint of an accepted input."""
    return hashlib.sha256("\x1f".join(parts).encode()).digest()[:16]


_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """Kafka's default partitioner hash (the Java client's ``Utils.murmur2``), word-at-a-time."""
    length = len(data)
    h = (0x9747B28C ^ length) & _MASK
    words = length // 4
    for k in struct.unpack_from(f"<{words}I", data):
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    rest = length & 3
    if rest:
        tail = data[words * 4 :]
        if rest == 3:
            h ^= tail[2] << 16
        if rest >= 2:
            h ^= tail[1] << 8
        h ^= tail[0]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h


def partition_for(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner (Java and aiokafka alike) picks for ``key``."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions
