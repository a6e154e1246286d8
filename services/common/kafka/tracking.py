"""Offset tracking in PostgreSQL: the handler's effect and "this record is done" in one transaction.

After a crash between the database commit and the Kafka offset commit, the redelivered records are
recognised here and skipped, so their effect happens once. Rows are locked for the transaction, which
also keeps two members of a group (during a rebalance) from applying the same partition twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from services.common.db import Connection, Pool

from .consumer import Consumed, Handler

M = TypeVar("M")

TrackedHandler = Callable[[Connection, list[Consumed[M]]], Awaitable[None]]


async def claim_unprocessed(conn: Connection, consumer: str, items: list[Consumed[M]]) -> list[Consumed[M]]:
    """Lock the tracking rows of the items' partitions and return the items not yet processed."""
    partitions = sorted({(item.topic, item.partition) for item in items})
    await conn.execute(
        """
        INSERT INTO consumer_offsets (consumer, topic, partition, next_offset)
        SELECT $1, t.topic, t.partition, 0 FROM unnest($2::text[], $3::int[]) AS t(topic, partition)
        ON CONFLICT DO NOTHING
        """,
        consumer,
        [p[0] for p in partitions],
        [p[1] for p in partitions],
    )
    rows = await conn.fetch(
        """
        SELECT topic, partition, next_offset FROM consumer_offsets
        WHERE consumer = $1 AND (topic, partition) IN (
            SELECT * FROM unnest($2::text[], $3::int[]))
        ORDER BY topic, partition
        FOR UPDATE
        """,
        consumer,
        [p[0] for p in partitions],
        [p[1] for p in partitions],
    )
    next_offset = {(r["topic"], r["partition"]): r["next_offset"] for r in rows}
    return [item for item in items if item.offset >= next_offset[(item.topic, item.partition)]]


async def mark_processed(conn: Connection, consumer: str, items: list[Consumed[M]]) -> None:
    last: dict[tuple[str, int], int] = {}
    for item in items:
        key = (item.topic, item.partition)
        last[key] = max(last.get(key, -1), item.offset)
    await conn.execute(
        """
        UPDATE consumer_offsets AS c
        SET next_offset = GREATEST(c.next_offset, t.next_offset), updated_at = now()
        FROM unnest($2::text[], $3::int[], $4::bigint[]) AS t(topic, partition, next_offset)
        WHERE c.consumer = $1 AND c.topic = t.topic AND c.partition = t.partition
        """,
        consumer,
        [k[0] for k in last],
        [k[1] for k in last],
        [v + 1 for v in last.values()],
    )


def tracked(pool: Pool, consumer: str, handler: TrackedHandler[M]) -> Handler[M]:
    """Wrap a handler that writes to PostgreSQL so each record's effect is applied exactly once."""

    async def run(items: list[Consumed[M]]) -> None:
        async with pool.acquire() as conn, conn.transaction():
            fresh = await claim_unprocessed(conn, consumer, items)
            if fresh:
                await handler(conn, fresh)
            await mark_processed(conn, consumer, items)

    run.__name__ = getattr(handler, "__name__", consumer)
    run.__doc__ = handler.__doc__
    return run
