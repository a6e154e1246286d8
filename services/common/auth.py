"""API keys with roles, stored hashed; a FastAPI dependency that authenticates and authorises.

A key looks like ``gmk_<key id>_<secret>``. Only SHA-256 of the secret is stored: the secret is 32
random bytes, so a fast hash is enough (there is nothing to brute-force), and lookups stay cheap. The
comparison is constant-time. Keys have a role (feed, staff, ops) and, for staff, optionally the
municipalities they may target and see; a key without cities is prefecture-wide.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from fastapi import Request

from . import db
from .problems import Problem

KEY_PREFIX = "gmk"


class Role(StrEnum):
    FEED = "feed"
    STAFF = "staff"
    OPS = "ops"


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str
    name: str
    role: Role
    #: Municipality codes this key is limited to; empty means the whole prefecture.
    cities: tuple[str, ...] = ()

    @property
    def prefecture_wide(self) -> bool:
        return not self.cities


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def generate_key() -> tuple[str, str, str]:
    """A new key: (the full key to hand out once, its id, the hash to store)."""
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return f"{KEY_PREFIX}_{key_id}_{secret}", key_id, _hash(secret)


def split_key(presented: str) -> tuple[str, str] | None:
    parts = presented.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


async def create_key(
    conn: db.Connection, *, name: str, role: Role, cities: tuple[str, ...] = ()
) -> tuple[str, str]:
    """Store a new key; return (full key, key id). The full key is not recoverable afterwards."""
    full, key_id, digest = generate_key()
    await conn.execute(
        "INSERT INTO api_keys (key_id, name, role, cities, secret_hash) VALUES ($1, $2, $3, $4, $5)",
        key_id,
        name,
        role.value,
        list(cities),
        digest,
    )
    return full, key_id


async def revoke_key(conn: db.Connection, key_id: str) -> bool:
    status = await conn.execute(
        "UPDATE api_keys SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL", key_id
    )
    return status.endswith(" 1")


class KeyStore:
    """Looks keys up in PostgreSQL, with a short cache so a burst of requests costs one query."""

    def __init__(self, pool: db.Pool, *, cache_seconds: float = 10.0) -> None:
        self._pool = pool
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Principal | None, str]] = {}

    async def authenticate(self, presented: str) -> Principal | None:
        parts = split_key(presented)
        if parts is None:
            return None
        key_id, secret = parts
        now = time.monotonic()
        cached = self._cache.get(key_id)
        if cached is None or now - cached[0] > self._cache_seconds:
            row = await self._pool.fetchrow(
                "SELECT name, role, cities, secret_hash FROM api_keys "
                "WHERE key_id = $1 AND revoked_at IS NULL",
                key_id,
            )
            if row is None:
                cached = (now, None, "")
            else:
                principal = Principal(key_id, row["name"], Role(row["role"]), tuple(row["cities"] or ()))
                cached = (now, principal, row["secret_hash"])
            self._cache[key_id] = cached
        _, found, digest = cached
        if found is None or not hmac.compare_digest(digest, _hash(secret)):
            return None
        return found


def presented_key(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header and header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.headers.get("x-api-key")


def require(keys: Callable[[], KeyStore], *roles: Role) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency: 401 without a valid key, 403 with a key of another role."""
    allowed = frozenset(roles)

    async def dependency(request: Request) -> Principal:
        presented = presented_key(request)
        if not presented:
            raise Problem(
                401,
                "Authentication required",
                "send an API key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
                headers={"WWW-Authenticate": "Bearer"},
            )
        principal = await keys().authenticate(presented)
        if principal is None:
            raise Problem(
                401,
                "Invalid API key",
                "the key is unknown or revoked",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if principal.role not in allowed:
            raise Problem(
                403,
                "Forbidden",
                f"a {principal.role.value} key cannot do this; it needs a "
                + " or ".join(r.value for r in sorted(allowed))
                + " key",
            )
        request.state.principal = principal
        return principal

    return dependency
