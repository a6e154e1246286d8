"""Recording accepted inputs: the dedupe records and the serialized events, in one transaction.

``INSERT ... ON CONFLICT DO NOTHING RETURNING`` into ``ingest_accepted`` (one row per event) decides
which inputs are new; the same transaction queues exactly those as one ``ingest_outbox`` row (arrays,
in the order given, which is the order the relay publishes them in). After the commit, "accepted once"
and "will be published" are both durable, or neither is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

import asyncpg

from services.common.db import Connection, Pool

from .domain.employment import Outgoing

#: Logical topic names stored in the outbox; the relay resolves them with the topic prefix.
TopicName = Literal["employment", "line_events", "notices"]

_ACCEPT = """
INSERT INTO ingest_accepted (event_id, source, source_event_id, fingerprint)
SELECT t.event_id, $1, t.source_event_id, t.fingerprint
FROM unnest($2::uuid[], $3::text[], $4::bytea[]) AS t(event_id, source_event_id, fingerprint)
ON CONFLICT DO NOTHING
RETURNING event_id::text
"""
#: Both in one statement (one round trip, an implicit transaction): for the small batches of webhooks,
#: notices and JSON feeds, where round trips are the cost. Large CSV blocks use the two statements above
#: (no join or aggregate over thousands of payloads).
_ACCEPT_AND_QUEUE = """
WITH input AS (
    SELECT * FROM unnest($2::uuid[], $3::text[], $4::bytea[], $5::bytea[], $6::text[], $7::bytea[])
        WITH ORDINALITY AS t(event_id, source_event_id, fingerprint, key, event_type, payload, ord)
), fresh AS (
    INSERT INTO ingest_accepted (event_id, source, source_event_id, fingerprint)
    SELECT event_id, $1, source_event_id, fingerprint FROM input
    ON CONFLICT DO NOTHING
    RETURNING event_id
), queued AS (
    INSERT INTO ingest_outbox (topic, events, keys, event_ids, event_types, payloads)
    SELECT $8, count(*), array_agg(i.key ORDER BY i.ord), array_agg(i.event_id ORDER BY i.ord),
           array_agg(i.event_type ORDER BY i.ord), array_agg(i.payload ORDER BY i.ord)
    FROM input AS i JOIN fresh AS f USING (event_id)
    HAVING count(*) > 0
)
SELECT event_id::text FROM fresh
"""
_SMALL = 200

_QUEUE = """
INSERT INTO ingest_outbox (topic, events, keys, event_ids, event_types, payloads)
VALUES ($1, cardinality($3::uuid[]), $2::bytea[], $3::uuid[], $4::text[], $5::bytea[])
"""


class Columns(NamedTuple):
    """Accepted inputs as columns (what the statements send), in publishing order, distinct event ids."""

    event_ids: list[str]
    source_event_ids: list[str]
    fingerprints: list[bytes]
    keys: list[bytes]
    event_types: list[str]
    payloads: list[bytes]

    @classmethod
    def of(cls, items: Sequence[Outgoing]) -> Columns:
        return cls(
            [i.event_id for i in items],
            [i.source_event_id for i in items],
            [i.fingerprint for i in items],
            [i.key for i in items],
            [i.event_type for i in items],
            [i.payload for i in items],
        )

    def only(self, keep: list[int]) -> Columns:
        return Columns(
            [self.event_ids[i] for i in keep],
            [self.source_event_ids[i] for i in keep],
            [self.fingerprints[i] for i in keep],
            [self.keys[i] for i in keep],
            [self.event_types[i] for i in keep],
            [self.payloads[i] for i in keep],
        )


async def record(
    db: Pool | Connection, *, topic: TopicName, source: str, items: Sequence[Outgoing]
) -> set[str]:
    """Record ``items`` (distinct event ids); return the event ids that were new, now queued."""
    return await record_columns(db, topic=topic, source=source, columns=Columns.of(items))


async def record_columns(
    db: Pool | Connection, *, topic: TopicName, source: str, columns: Columns
) -> set[str]:
    """:func:`record` for inputs already in columns (the CSV path)."""
    if not columns.event_ids:
        return set()
    if isinstance(db, asyncpg.Pool) and len(columns.event_ids) <= _SMALL:
        rows = await db.fetch(_ACCEPT_AND_QUEUE, source, *columns, topic)
        return {r[0] for r in rows}
    if isinstance(db, asyncpg.Pool):
        async with db.acquire() as conn:
            return await _record(conn, topic, source, columns)
    return await _record(db, topic, source, columns)


async def _record(conn: Connection, topic: TopicName, source: str, columns: Columns) -> set[str]:
    if len(columns.event_ids) <= _SMALL:
        rows = await conn.fetch(_ACCEPT_AND_QUEUE, source, *columns, topic)
        return {r[0] for r in rows}
    async with conn.transaction():
        rows = await conn.fetch(
            _ACCEPT, source, columns.event_ids, columns.source_event_ids, columns.fingerprints
        )
        fresh = {r[0] for r in rows}
        queued = columns
        if len(fresh) != len(columns.event_ids):
            queued = columns.only([i for i, event_id in enumerate(columns.event_ids) if event_id in fresh])
        if queued.event_ids:
            await conn.execute(
                _QUEUE, topic, queued.keys, queued.event_ids, queued.event_types, queued.payloads
            )
    return fresh


@dataclass(frozen=True, slots=True)
class Earlier:
    """What was accepted first under an event id."""

    event_id: str
    fingerprint: bytes


async def earlier(db: Pool | Connection, event_ids: Sequence[str]) -> dict[str, Earlier]:
    """The first-accepted version of each of these events (to tell a replay from a conflicting re-use)."""
    if not event_ids:
        return {}
    rows = await db.fetch(
        "SELECT event_id::text, fingerprint FROM ingest_accepted WHERE event_id = ANY($1::uuid[])",
        list(event_ids),
    )
    return {r[0]: Earlier(r[0], bytes(r[1])) for r in rows}
