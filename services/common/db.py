"""PostgreSQL access with asyncpg: one pool per process, opened during start-up."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

import asyncpg
import orjson

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    #: A connection of its own or one borrowed from the pool: the same API.
    Connection: TypeAlias = asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]
    Pool: TypeAlias = asyncpg.Pool[asyncpg.Record]
else:  # asyncpg's classes are generic only in their stubs
    Connection = asyncpg.Connection
    Pool = asyncpg.Pool


async def _init_connection(conn: Connection) -> None:
    # jsonb columns in and out as Python values, with orjson for speed.
    await conn.set_type_codec(
        "jsonb",
        encoder=lambda value: orjson.dumps(value).decode(),
        decoder=orjson.loads,
        schema="pg_catalog",
    )
    await conn.set_type_codec(
        "json",
        encoder=lambda value: orjson.dumps(value).decode(),
        decoder=orjson.loads,
        schema="pg_catalog",
    )


async def create_pool(
    dsn: str, *, min_size: int = 1, max_size: int = 10, application_name: str = "gunma"
) -> Pool:
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        server_settings={"application_name": application_name, "timezone": "UTC"},
        command_timeout=60,
    )
    if pool is None:  # asyncpg types allow it; it never happens when awaited
        raise RuntimeError("asyncpg returned no pool")
    return pool


async def connect(dsn: str, *, application_name: str = "gunma") -> asyncpg.Connection[asyncpg.Record]:
    conn: asyncpg.Connection[asyncpg.Record] = await asyncpg.connect(
        dsn, server_settings={"application_name": application_name, "timezone": "UTC"}
    )
    await _init_connection(conn)
    return conn


async def ping(pool: Pool, *, timeout: float = 2.0) -> None:
    """Raise unless the database answers within ``timeout`` seconds."""
    async with pool.acquire(timeout=timeout) as conn:
        await conn.fetchval("SELECT 1", timeout=timeout)
