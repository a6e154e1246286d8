"""The outbox relay: publishes accepted events to Kafka in the order they were accepted, then forgets them.

- One relay at a time, whichever replica holds a PostgreSQL advisory lock (a standby retries every
  ``relay_poll_seconds``). One publisher keeps Kafka's per-key order equal to the outbox order; several
  relays taking rows with SKIP LOCKED could publish a worker's "separated" before their "hired".
- Woken by NOTIFY (a trigger on the outbox, at commit), with a poll as the fallback: a webhook's event
  is in Kafka a few milliseconds after its 200.
- A round reads up to ``relay_batch_max`` rows, marks them in flight (committed), appends them to
  Kafka record batches per partition (the default partitioner's murmur2, so keys land where any Kafka
  client would put them), awaits every acknowledgement (idempotent producer, acks=all), then deletes
  the rows and the mark in one statement.
- A relay that dies mid-round leaves the mark. Whoever leads next looks for those events in Kafka
  (their x-event-id header, from the mark's time on) and deletes the ones already there before
  publishing the rest, so a crash does not publish an event twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from services.common import db
from services.common.kafka.consumer import TRANSIENT
from services.common.topics import Topics

from . import metrics
from .domain.ids import partition_for
from .settings import IngestSettings

log = logging.getLogger(__name__)

CHANNEL = "gunma_ingest_outbox"
#: pg_advisory_lock key of the relay leader ("ingest-relay").
LOCK_KEY = 0x696E6765737472
_MAX_BATCH_BYTES = 512 * 1024  # below the broker's default message.max.bytes (1 MiB)

#: The head of the outbox, whole rows, until ``$2`` events (at least one row); marks the round in flight.
_CLAIM = """
WITH head AS (
    SELECT id, events, sum(events) OVER (ORDER BY id) AS running
    FROM (SELECT id, events FROM ingest_outbox ORDER BY id LIMIT $1) AS h
), chosen AS (
    SELECT id FROM head WHERE running - events < $2
), mark AS (
    UPDATE ingest_relay_state
    SET inflight_max = (SELECT max(id) FROM chosen), inflight_since = $3, updated_at = now()
    WHERE EXISTS (SELECT 1 FROM chosen)
)
SELECT o.id, o.topic, o.schema_version, o.keys, o.event_ids::text[], o.event_types, o.payloads,
       extract(epoch FROM now() - o.created_at)::float8
FROM ingest_outbox AS o JOIN chosen USING (id)
ORDER BY o.id
"""
_DONE = """
WITH gone AS (DELETE FROM ingest_outbox WHERE id = ANY($1::bigint[]))
UPDATE ingest_relay_state SET inflight_max = NULL, inflight_since = NULL, updated_at = now()
"""
#: A batch this large has its partitions computed by the hasher (the parse pool), if there is one.
_HASH_ELSEWHERE = 256
Hasher = Callable[[list[bytes], int], Awaitable[list[int]]]
#: Rows per round at most (webhook traffic is a row per event).
_ROUNDS_ROWS = 2000


def topic_names(topics: Topics) -> dict[str, str]:
    return {"employment": topics.employment, "line_events": topics.line_events, "notices": topics.notices}


class Relay:
    def __init__(self, settings: IngestSettings, *, hasher: Hasher | None = None) -> None:
        self.settings = settings
        #: computes partitions elsewhere (the parse pool) for large batches; murmur2 in Python is the
        #: relay's biggest cost per event
        self._hasher = hasher
        self._dsn = settings.database_url.get_secret_value()
        self._topics = topic_names(settings.topics)
        self._partitions: dict[str, int] = {}
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self.is_leader = False

    # -- lifecycle --

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self, timeout: float) -> None:
        """Finish the round in progress (within ``timeout``), then let go of the lock."""
        self._stopping = True
        self._wake.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout)
        except TimeoutError:
            log.warning("relay did not stop in time; the next leader recovers its round")
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def _run(self) -> None:
        delay = 0.5
        while not self._stopping:
            conn: asyncpg.Connection[asyncpg.Record] | None = None
            try:
                conn = await db.connect(self._dsn, application_name="gunma-ingest-relay")
                while not self._stopping:
                    if await conn.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY):
                        await self._lead(conn)
                        break
                    await self._sleep(self.settings.relay_poll_seconds)
                delay = 0.5
            except asyncio.CancelledError:
                raise
            except TRANSIENT as error:
                log.warning("relay lost its database or Kafka, retrying", extra={"error": repr(error)[:300]})
            except Exception:
                log.exception("relay failed, restarting it")
            finally:
                self.is_leader = False
                metrics.RELAY_LEADER.set(0)
                if conn is not None:
                    await _close(conn)
            if not self._stopping:
                await self._sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _sleep(self, seconds: float) -> None:
        with suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
        self._wake.clear()

    # -- leading --

    def _producer(self) -> AIOKafkaProducer:
        return AIOKafkaProducer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers.split(","),
            client_id="gunma-ingest-relay",
            enable_idempotence=True,
            acks="all",
            linger_ms=0,
            max_batch_size=_MAX_BATCH_BYTES,
            max_request_size=4 * 1024 * 1024,
            request_timeout_ms=30_000,
        )

    async def _lead(self, conn: asyncpg.Connection[asyncpg.Record]) -> None:
        self.is_leader = True
        metrics.RELAY_LEADER.set(1)
        log.info("relay leader")
        producer = self._producer()
        await producer.start()
        try:
            for name in self._topics.values():
                self._partitions[name] = len(await producer.partitions_for(name))
            await conn.add_listener(CHANNEL, self._on_notify)
            next_purge = time.monotonic() + 60
            failures = 0
            check_mark = True  # a previous leader may have died mid-round
            while not self._stopping:
                try:
                    if check_mark:
                        await self._recover(conn)
                        check_mark = False
                    relayed = await self._round(conn, producer)
                    failures = 0
                except KafkaError as error:
                    check_mark = True  # some of the round may be in Kafka already
                    failures += 1
                    metrics.RELAY_FAILURES.inc()
                    log.warning("relay round failed, retrying", extra={"error": repr(error)[:300]})
                    await self._sleep(min(0.2 * 2**failures, 10.0))
                    continue
                if time.monotonic() > next_purge:
                    await self._purge(conn)
                    next_purge = time.monotonic() + 3600
                if relayed >= self.settings.relay_batch_max:
                    continue
                if relayed == 0:
                    await self._sleep(self.settings.relay_poll_seconds)
                    # A moment for the rest of a burst: one round for many webhooks costs far less CPU
                    # than a round each, for a few milliseconds of latency.
                    await asyncio.sleep(self.settings.relay_linger_ms / 1000)
        finally:
            try:
                await conn.remove_listener(CHANNEL, self._on_notify)
            except Exception:  # the connection may be gone already
                log.debug("could not remove the listener", exc_info=True)
            await producer.stop()

    async def _round(self, conn: asyncpg.Connection[asyncpg.Record], producer: AIOKafkaProducer) -> int:
        self._wake.clear()
        started = time.perf_counter()
        rows = await conn.fetch(_CLAIM, _ROUNDS_ROWS, self.settings.relay_batch_max, int(time.time() * 1000))
        if not rows:
            return 0
        published = await self._publish(producer, rows)
        await conn.execute(_DONE, [r[0] for r in rows])
        metrics.RELAY_ROUND_SECONDS.observe(time.perf_counter() - started)
        metrics.RELAY_DELAY_SECONDS.observe(rows[0][7] + (time.perf_counter() - started))
        for topic, n in published.items():
            metrics.RELAYED.labels(topic).inc(n)
        return sum(published.values())

    async def _publish(self, producer: AIOKafkaProducer, rows: Sequence[asyncpg.Record]) -> dict[str, int]:
        """Append every event to a record batch of its partition; send; await all acknowledgements."""
        builders: dict[tuple[str, int], Any] = {}
        futures: list[asyncio.Future[Any]] = []
        published: dict[str, int] = defaultdict(int)
        placed = await asyncio.gather(*(self._partition(self._topics[row[1]], row[3]) for row in rows))
        for (_id, logical, version, keys, event_ids, event_types, payloads, _waited), partitions in zip(
            rows, placed, strict=True
        ):
            topic = self._topics[logical]
            schema_version = str(version).encode()
            for key, event_id, event_type, payload, partition in zip(
                keys, event_ids, event_types, payloads, partitions, strict=True
            ):
                headers = [
                    ("content-type", b"application/json"),
                    ("x-event-type", event_type.encode()),
                    ("x-schema-version", schema_version),
                    ("x-event-id", event_id.encode()),
                ]
                builder = builders.get((topic, partition))
                if builder is None:
                    builder = builders[(topic, partition)] = producer.create_batch()
                if builder.append(key=key, value=payload, timestamp=None, headers=headers) is None:
                    futures.append(await producer.send_batch(builder, topic, partition=partition))
                    builder = builders[(topic, partition)] = producer.create_batch()
                    if builder.append(key=key, value=payload, timestamp=None, headers=headers) is None:
                        raise KafkaError(f"event {event_id} is larger than a record batch")
            published[logical] += len(keys)
        for (topic, partition), builder in builders.items():
            futures.append(await producer.send_batch(builder, topic, partition=partition))
        await asyncio.gather(*futures)
        return published

    async def _partition(self, topic: str, keys: list[bytes]) -> list[int]:
        count = self._partitions[topic]
        if self._hasher is not None and len(keys) >= _HASH_ELSEWHERE:
            return await self._hasher(keys, count)
        return [partition_for(key, count) for key in keys]

    # -- after a crash --

    async def _recover(self, conn: asyncpg.Connection[asyncpg.Record]) -> None:
        """Finish an interrupted round: drop what is already in Kafka, keep the rest for publishing."""
        state = await conn.fetchrow("SELECT inflight_max, inflight_since FROM ingest_relay_state")
        if state is None or state["inflight_max"] is None:
            return
        suspects = await conn.fetch(
            "SELECT id, topic, keys, event_ids::text[] FROM ingest_outbox WHERE id <= $1 ORDER BY id",
            state["inflight_max"],
        )
        wanted: dict[TopicPartition, set[str]] = defaultdict(set)
        for _id, logical, keys, event_ids in suspects:
            topic = self._topics[logical]
            for key, event_id in zip(keys, event_ids, strict=True):
                wanted[TopicPartition(topic, partition_for(key, self._partitions[topic]))].add(event_id)
        since = int(state["inflight_since"] or 0) - self.settings.relay_recovery_margin_ms
        found = (
            await find_published(self.settings.kafka_bootstrap_servers, wanted, since) if wanted else set()
        )
        done: list[int] = []
        async with conn.transaction():
            for row_id, _logical, _keys, event_ids in suspects:
                left = [i for i, event_id in enumerate(event_ids) if event_id not in found]
                if not left:
                    done.append(row_id)
                elif len(left) < len(event_ids):
                    await _keep_only(conn, row_id, left)
            await conn.execute(_DONE, done)
        metrics.RELAY_RECOVERED.inc(len(found))
        log.warning(
            "recovered an interrupted relay round",
            extra={
                "events": sum(len(r[3]) for r in suspects),
                "already_in_kafka": len(found),
                "republishing": sum(len(r[3]) for r in suspects) - len(found),
            },
        )

    async def _purge(self, conn: asyncpg.Connection[asyncpg.Record]) -> None:
        """Forget dedupe records (and upload audit rows) older than the retention."""
        days = self.settings.dedupe_retention_days
        total = 0
        while not self._stopping:
            status = await conn.execute(
                """
                DELETE FROM ingest_accepted WHERE ctid = ANY(ARRAY(
                    SELECT ctid FROM ingest_accepted
                    WHERE accepted_at < now() - make_interval(days => $1) LIMIT 10000))
                """,
                days,
            )
            deleted = int(status.split()[-1])
            total += deleted
            if deleted < 10000:
                break
            await asyncio.sleep(0)
        await conn.execute(
            "DELETE FROM ingest_uploads WHERE started_at < now() - make_interval(days => $1)", days
        )
        if total:
            log.info("dedupe records past retention deleted", extra={"deleted": total, "days": days})


async def find_published(bootstrap: str, wanted: dict[TopicPartition, set[str]], since_ms: int) -> set[str]:
    """The event ids among ``wanted`` (partition -> event ids) found in Kafka since ``since_ms``."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap.split(","),
        client_id="gunma-ingest-relay-recovery",
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",  # should a reset race the seeks, read more rather than skip
    )
    await consumer.start()
    found: set[str] = set()
    try:
        partitions = list(wanted)
        consumer.assign(partitions)
        starts = await consumer.offsets_for_times(dict.fromkeys(partitions, max(since_ms, 0)))
        ends = await consumer.end_offsets(partitions)
        remaining: dict[TopicPartition, int] = {}
        for tp in partitions:
            start = starts.get(tp)
            if start is not None and start.offset < ends[tp]:
                consumer.seek(tp, start.offset)
                remaining[tp] = ends[tp]
        missing = {tp: set(ids) for tp, ids in wanted.items() if tp in remaining}
        deadline = time.monotonic() + 300
        while remaining and time.monotonic() < deadline:
            batch = await consumer.getmany(*remaining, timeout_ms=500)
            for tp, records in batch.items():
                looking = missing.get(tp, set())
                for record in records:
                    if record.offset >= remaining.get(tp, 0):
                        break
                    event_id = next((v for k, v in record.headers or () if k == "x-event-id"), None)
                    if event_id is not None and event_id.decode() in looking:
                        looking.discard(event_id.decode())
                        found.add(event_id.decode())
            for tp in list(remaining):
                if not missing.get(tp) or await consumer.position(tp) >= remaining[tp]:
                    del remaining[tp]
        if remaining:
            raise KafkaError("searching Kafka for an interrupted relay round took too long")
    finally:
        await consumer.stop()
    return found


async def _keep_only(conn: asyncpg.Connection[asyncpg.Record], row_id: int, keep: list[int]) -> None:
    """Shrink a partly published outbox row to the events at positions ``keep`` (from 0)."""
    pick = "ARRAY(SELECT {0}[p] FROM unnest($2::int[]) WITH ORDINALITY AS k(p, n) ORDER BY n)"
    await conn.execute(
        f"""
        UPDATE ingest_outbox SET events = cardinality($2::int[]), keys = {pick.format("keys")},
            event_ids = {pick.format("event_ids")}, event_types = {pick.format("event_types")},
            payloads = {pick.format("payloads")}
        WHERE id = $1
        """,  # noqa: S608 - the only substitutions are constant column names
        row_id,
        [i + 1 for i in keep],
    )


async def _close(conn: asyncpg.Connection[asyncpg.Record]) -> None:
    try:
        await asyncio.wait_for(conn.close(), 5)
    except Exception:
        conn.terminate()
