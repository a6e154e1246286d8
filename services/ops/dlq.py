"""Dead-letter topics: read them, explain them, and replay them into their source topics once.

A dead-letter record (services/common/kafka/dead_letters.py) is the original record's key, value and
headers, plus ``x-dlq-*`` headers saying why it failed. Replaying publishes key, value and the original
headers to the source topic (``x-dlq-*`` stripped, ``x-replayed-from`` added so the history stays
visible) and records the dead-letter coordinates in ``ops_dlq_replays`` in the same PostgreSQL
transaction, so a second replay skips it. The transaction commits only after Kafka acknowledged the
record (acks=all): a failed publish leaves nothing recorded and the next replay retries it. A crash
between the acknowledgement and the commit can publish a record twice; the consumers are idempotent
(tracking rows, domain keys, event ids), as they must be for any redelivery.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncGenerator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from services.common import migrate
from services.common.db import Connection
from services.common.kafka.dead_letters import DLQ_HEADERS
from services.common.topics import DLQ_SUFFIX

from . import kafka_meta

REPLAYED_FROM = "x-replayed-from"
#: The component whose migrations hold ``ops_dlq_replays``.
COMPONENT = "ops"


class DlqError(Exception):
    """A user error about dead-letter topics (unknown topic, not a DLQ)."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return (value or b"").decode("utf-8", "replace")
        return None

    @property
    def reason(self) -> str:
        return self.header("x-dlq-reason") or "(no reason recorded)"

    @property
    def error_type(self) -> str:
        return self.header("x-dlq-error-type") or "unknown"

    @property
    def consumer(self) -> str:
        return self.header("x-dlq-consumer") or "?"

    @property
    def failed_at(self) -> str:
        return self.header("x-dlq-failed-at") or ""

    @property
    def source_topic(self) -> str:
        """Where the record came from: its ``x-dlq-source-topic`` header, else the DLQ name less ``.dlq``."""
        return self.header("x-dlq-source-topic") or source_of(self.topic)

    @property
    def source_position(self) -> str:
        return f"{self.header('x-dlq-source-partition') or '?'}/{self.header('x-dlq-source-offset') or '?'}"

    @property
    def coordinates(self) -> str:
        return f"{self.topic}/{self.partition}/{self.offset}"

    def replay_headers(self) -> list[tuple[str, bytes]]:
        """The original headers: ``x-dlq-*`` removed, ``x-replayed-from`` set to this record."""
        kept = [(k, v) for k, v in self.headers if k not in DLQ_HEADERS and k != REPLAYED_FROM]
        return [*kept, (REPLAYED_FROM, self.coordinates.encode())]


def source_of(dlq_topic: str) -> str:
    if not dlq_topic.endswith(DLQ_SUFFIX):
        raise DlqError(f"{dlq_topic!r} is not a dead-letter topic (its name must end in {DLQ_SUFFIX})")
    return dlq_topic[: -len(DLQ_SUFFIX)]


def resolve(name: str, prefix: str) -> str:
    """The full DLQ topic name from what an operator typed: prefix and ``.dlq`` are added if missing."""
    full = name if not prefix or name.startswith(prefix) else prefix + name
    return full if full.endswith(DLQ_SUFFIX) else full + DLQ_SUFFIX


async def dead_letter_topics(bootstrap: str, prefix: str = "") -> dict[str, int]:
    """Every DLQ topic (with this prefix) and how many records it holds now."""
    known = await kafka_meta.partitions(bootstrap)
    names = sorted(t for t in known if t.endswith(DLQ_SUFFIX) and t.startswith(prefix))
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        counts: dict[str, int] = {}
        for name in names:
            tps = [TopicPartition(name, p) for p in known[name]]
            ends = await consumer.end_offsets(tps)
            starts = await consumer.beginning_offsets(tps)
            counts[name] = sum(ends[tp] - starts[tp] for tp in tps)
        return counts
    finally:
        await kafka_meta.stop(consumer)


async def read(
    bootstrap: str, dlq_topic: str, *, from_offset: int = 0, limit: int | None = None
) -> AsyncGenerator[DeadLetter, None]:
    """The records of ``dlq_topic`` from ``from_offset`` up to its end as it was when reading started."""
    partitions = (await kafka_meta.partitions(bootstrap, [dlq_topic])).get(dlq_topic)
    if not partitions:
        raise DlqError(f"topic {dlq_topic!r} does not exist")
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        tps = [TopicPartition(dlq_topic, p) for p in partitions]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        starts = await consumer.beginning_offsets(tps)
        pending = set()
        for tp in tps:
            start = max(starts[tp], from_offset)
            if start < ends[tp]:
                consumer.seek(tp, start)
                pending.add(tp)
        produced = 0
        while pending:
            batch = await consumer.getmany(*pending, timeout_ms=1000, max_records=500)
            for tp, records in batch.items():
                for record in records:
                    if record.offset >= ends[tp]:
                        pending.discard(tp)
                        break
                    yield _dead_letter(record)
                    produced += 1
                    if limit is not None and produced >= limit:
                        return
                if records and records[-1].offset + 1 >= ends[tp]:
                    pending.discard(tp)
    finally:
        await kafka_meta.stop(consumer)


def _dead_letter(record: Any) -> DeadLetter:
    return DeadLetter(
        topic=str(record.topic),
        partition=int(record.partition),
        offset=int(record.offset),
        timestamp_ms=int(record.timestamp),
        key=record.key,
        value=record.value or b"",
        headers=tuple((str(k), bytes(v or b"")) for k, v in record.headers or ()),
    )


@dataclass(frozen=True, slots=True)
class Selection:
    """Which dead letters to replay; empty fields select everything."""

    error_types: frozenset[str] = frozenset()
    consumers: frozenset[str] = frozenset()
    offsets: tuple[int | None, int | None] = (None, None)

    def __call__(self, letter: DeadLetter) -> bool:
        low, high = self.offsets
        return (
            (not self.error_types or letter.error_type in self.error_types)
            and (not self.consumers or letter.consumer in self.consumers)
            and (low is None or letter.offset >= low)
            and (high is None or letter.offset <= high)
        )


@dataclass(slots=True)
class ReplayReport:
    source_topics: Counter[str] = field(default_factory=Counter)
    replayed: int = 0
    already_replayed: int = 0
    not_selected: int = 0
    dry_run: bool = False

    @property
    def seen(self) -> int:
        return self.replayed + self.already_replayed + self.not_selected


async def already_replayed(conn: Connection, dlq_topic: str) -> set[tuple[int, int]]:
    if not await conn.fetchval("SELECT to_regclass('ops_dlq_replays') IS NOT NULL"):
        return set()  # a dry run before the first replay: nothing replayed yet
    rows = await conn.fetch(
        "SELECT dlq_partition, dlq_offset FROM ops_dlq_replays WHERE dlq_topic = $1", dlq_topic
    )
    return {(r["dlq_partition"], r["dlq_offset"]) for r in rows}


async def ensure_schema(conn: Connection) -> None:
    """The replay bookkeeping table (idempotent, under the migrator's advisory lock)."""
    await migrate.apply(conn, [COMPONENT])


async def replay(
    conn: Connection,
    bootstrap: str,
    dlq_topic: str,
    *,
    replayed_by: str,
    select: Callable[[DeadLetter], bool] = Selection(),
    dry_run: bool = False,
    chunk: int = 200,
    progress: Callable[[int], None] | None = None,
) -> ReplayReport:
    """Replay the selected dead letters of ``dlq_topic`` that were not replayed before.

    ``progress(n)`` is called with the number of records examined since the last call.
    """
    report = ReplayReport(dry_run=dry_run)
    done = await already_replayed(conn, dlq_topic)
    producer: AIOKafkaProducer | None = None
    if not dry_run:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
        await producer.start()
    try:
        pending: list[DeadLetter] = []
        async for letter in read(bootstrap, dlq_topic):
            if (letter.partition, letter.offset) in done:
                report.already_replayed += 1
            elif not select(letter):
                report.not_selected += 1
            else:
                pending.append(letter)
            if len(pending) >= chunk:
                await _replay_chunk(conn, producer, pending, replayed_by, report)
                if progress:
                    progress(len(pending))
                pending = []
        if pending:
            await _replay_chunk(conn, producer, pending, replayed_by, report)
            if progress:
                progress(len(pending))
    finally:
        if producer is not None:
            await producer.stop()
    return report


async def _replay_chunk(
    conn: Connection,
    producer: AIOKafkaProducer | None,
    letters: list[DeadLetter],
    replayed_by: str,
    report: ReplayReport,
) -> None:
    if producer is None:  # dry run: count what would go where
        for letter in letters:
            report.source_topics[letter.source_topic] += 1
            report.replayed += 1
        return
    async with conn.transaction():
        # Claim first: a concurrent replay of the same records waits on these rows, then skips them.
        claimed = await conn.fetch(
            """
            INSERT INTO ops_dlq_replays
                (dlq_topic, dlq_partition, dlq_offset, source_topic, error_type, consumer, replayed_by)
            SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[], $4::text[], $5::text[], $6::text[],
                                 $7::text[])
            ON CONFLICT DO NOTHING
            RETURNING dlq_partition, dlq_offset
            """,
            [x.topic for x in letters],
            [x.partition for x in letters],
            [x.offset for x in letters],
            [x.source_topic for x in letters],
            [x.error_type for x in letters],
            [x.consumer for x in letters],
            [replayed_by] * len(letters),
        )
        fresh = {(r["dlq_partition"], r["dlq_offset"]) for r in claimed}
        futures = []
        for letter in letters:
            if (letter.partition, letter.offset) not in fresh:
                report.already_replayed += 1
                continue
            futures.append(
                await producer.send(
                    letter.source_topic,
                    value=letter.value,
                    key=letter.key,
                    headers=letter.replay_headers(),
                )
            )
            report.source_topics[letter.source_topic] += 1
        await asyncio.gather(*futures)  # every acknowledgement before the claim commits
        report.replayed += len(futures)


def summarize(letters: Iterable[DeadLetter]) -> list[tuple[str, str, str, int]]:
    """(consumer, error type, reason, count), most frequent first: what went wrong, at a glance."""
    counts: Counter[tuple[str, str, str]] = Counter(
        (letter.consumer, letter.error_type, letter.reason[:200]) for letter in letters
    )
    return [(c, e, r, n) for (c, e, r), n in counts.most_common()]
