"""The outbox relay: one leader among replicas, a standby that takes over, and the dedupe retention."""

import asyncio
import time
import uuid

from services.common import db
from services.common.topics import Topics
from services.ingest import outbox
from services.ingest.domain import employment
from services.ingest.domain.employment import EventKind, Facts
from services.ingest.relay import Relay
from services.ingest.settings import IngestSettings

from .conftest import PEPPER, SECRET, wait_for_events


def _settings(dsn: str, bootstrap: str, topics: Topics, **extra: object) -> IngestSettings:
    return IngestSettings(
        database_url=dsn,
        kafka_bootstrap_servers=bootstrap,
        kafka_topic_prefix=topics.prefix,
        worker_id_pepper=PEPPER,
        line_channel_secret=SECRET,
        relay_poll_seconds=0.2,
        **extra,  # type: ignore[arg-type]
    )


def _items(run: str, count: int) -> list[employment.Outgoing]:
    return [
        employment.outgoing(
            Facts(EventKind.HIRED, f"{n:064x}", "TH", "trainee", "2024-06-01", "4242", "102083"),
            source="relay-test",
            source_event_id=f"{run}-{n}",
            reported_at="2024-06-02T00:00:00+00:00",
        )
        for n in range(count)
    ]


async def _until(predicate: object, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.05)


async def test_one_relay_leads_and_a_standby_takes_over(
    private_database: str, kafka_bootstrap: str, topics: Topics
) -> None:
    settings = _settings(private_database, kafka_bootstrap, topics)
    first, second = Relay(settings), Relay(settings)
    first.start()
    await _until(lambda: first.is_leader)
    second.start()
    await asyncio.sleep(1.0)
    assert first.is_leader and not second.is_leader

    run = uuid.uuid4().hex[:8]
    conn = await db.connect(private_database)
    try:
        before = _items(f"{run}-a", 5)
        await outbox.record(conn, topic="employment", source="relay-test", items=before)
        found = await wait_for_events(kafka_bootstrap, topics.employment, {i.event_id for i in before})
        assert all(len(v) == 1 for v in found.values())

        await first.stop(timeout=10)  # the leader goes away; the standby takes the lock
        await _until(lambda: second.is_leader)
        after = _items(f"{run}-b", 5)
        await outbox.record(conn, topic="employment", source="relay-test", items=after)
        found = await wait_for_events(kafka_bootstrap, topics.employment, {i.event_id for i in after})
        assert all(len(v) == 1 for v in found.values())
        assert await conn.fetchval("SELECT count(*) FROM ingest_outbox") == 0
    finally:
        await conn.close()
        await second.stop(timeout=10)
        await first.stop(timeout=10)


async def test_dedupe_records_are_kept_for_the_retention_and_then_forgotten(
    private_database: str, kafka_bootstrap: str, topics: Topics
) -> None:
    settings = _settings(private_database, kafka_bootstrap, topics, dedupe_retention_days=30)
    conn = await db.connect(private_database)
    try:
        items = _items(uuid.uuid4().hex[:8], 4)
        await outbox.record(conn, topic="employment", source="relay-test", items=items)
        await conn.execute(
            "UPDATE ingest_accepted SET accepted_at = now() - interval '31 days' "
            "WHERE event_id = ANY($1::uuid[])",
            [i.event_id for i in items[:3]],
        )
        await Relay(settings)._purge(conn)
        left = {r[0] for r in await conn.fetch("SELECT event_id::text FROM ingest_accepted")}
        assert items[3].event_id in left
        assert not {i.event_id for i in items[:3]} & left
    finally:
        await conn.close()
