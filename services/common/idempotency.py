"""Deduplication by message id, for duplicates that arrive at a different offset.

Call inside the handler's transaction, so that the claim and the effect commit or roll back together.
"""

from __future__ import annotations

from collections.abc import Iterable

from services.common.db import Connection


async def claim(conn: Connection, consumer: str, message_ids: Iterable[str]) -> set[str]:
    """Record the ids as processed by ``consumer``; return those seen for the first time."""
    ids = list(dict.fromkeys(message_ids))
    if not ids:
        return set()
    rows = await conn.fetch(
        """
        INSERT INTO processed_messages (consumer, message_id)
        SELECT $1, id FROM unnest($2::text[]) AS id
        ON CONFLICT DO NOTHING
        RETURNING message_id
        """,
        consumer,
        ids,
    )
    return {r["message_id"] for r in rows}


async def purge(conn: Connection, *, older_than_days: int) -> int:
    """Forget ids older than the window in which a duplicate can still arrive."""
    status = await conn.execute(
        "DELETE FROM processed_messages WHERE processed_at < now() - make_interval(days => $1)",
        older_than_days,
    )
    return int(status.split()[-1])
