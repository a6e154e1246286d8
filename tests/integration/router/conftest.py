"""Router integration fixtures: topics of its own per module, the router in-process, seeding helpers.

The router runs in this process (its real lifespan: pool, topics, broker, consumers, scheduler) against
the real Kafka and PostgreSQL of the session, with a topic prefix per test module so that what a
module reads from deliveries.planned.v1 is its own.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from fastapi import FastAPI

from services.common import db
from services.common.contracts import Event
from services.common.kafka import ensure_topics
from services.common.topics import Topics
from services.router.app import create_app
from services.router.settings import RouterSettings
from tests.support import kafka
from tests.support.kafka import produce


class Clock:
    """A clock tests can set; starts at the real time."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now if self.now is not None else datetime.now(UTC)


@dataclass
class RunningRouter:
    app: FastAPI
    settings: RouterSettings
    client: httpx.AsyncClient
    clock: Clock


@pytest.fixture(scope="module")
async def router_topics(kafka_bootstrap: str, run_id: str) -> Topics:
    topics = Topics(prefix=f"{run_id}.r{uuid.uuid4().hex[:6]}.")
    await ensure_topics(kafka_bootstrap, topics)
    return topics


def router_settings(
    database_url: str, kafka_bootstrap: str, topics: Topics, **overrides: Any
) -> RouterSettings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "kafka_bootstrap_servers": kafka_bootstrap,
        "kafka_topic_prefix": topics.prefix,
        "scheduler_poll_seconds": 0.5,
        "reminder_interval_seconds": 3600,
        "run_migrations": False,
        "shutdown_grace_seconds": 5,
    }
    values.update(overrides)
    return RouterSettings(**values)


@pytest.fixture(scope="module")
def start_router(database_url: str, kafka_bootstrap: str, router_topics: Topics) -> Callable[..., Any]:
    """``async with start_router(clock=..., **settings) as router:`` runs the router until the block ends."""

    @asynccontextmanager
    async def start(
        clock: Clock | None = None, conversation: Any = None, **overrides: Any
    ) -> AsyncIterator[RunningRouter]:
        clock = clock or Clock()
        settings = router_settings(database_url, kafka_bootstrap, router_topics, **overrides)
        app = create_app(settings, clock=clock, conversation=conversation)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://router") as client:
                yield RunningRouter(app, settings, client, clock)

    return start


def line_user() -> str:
    return "U" + secrets.token_hex(16)


def worker_id() -> str:
    return secrets.token_hex(32)


async def seed_subscribers(pool: db.Pool, rows: Iterable[dict[str, Any]]) -> int:
    """Insert subscribers directly (the registry's own table); keys are column names."""
    rows = list(rows)
    if not rows:
        return 0
    defaults: dict[str, Any] = {"followed": True, "opted_out_categories": []}
    columns = sorted({k for r in rows for k in r})
    records = [tuple(r.get(c, defaults.get(c)) for c in columns) for r in rows]
    async with pool.acquire() as conn:
        await conn.copy_records_to_table("subscribers", records=records, columns=columns)
    return len(rows)


async def publish(bootstrap: str, topic: str, events: Sequence[tuple[str, Event]]) -> None:
    await produce(bootstrap, topic, [(key.encode(), e.model_dump_json().encode()) for key, e in events])


async def read_to_end(bootstrap: str, topic: str) -> list[Any]:
    """Every record the topic holds now (reads up to the end offsets taken at the start)."""
    return await kafka.read_to_end(bootstrap, topic)


async def wait_for(
    predicate: Callable[[], Awaitable[Any]], timeout: float = 60.0, interval: float = 0.1
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(interval)


async def end_offsets(bootstrap: str, topic: str) -> int:
    """The number of records ever written to ``topic`` (sum of its partitions' end offsets)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        partitions = [TopicPartition(topic, p) for p in (consumer.partitions_for_topic(topic) or set())]
        return sum((await consumer.end_offsets(partitions)).values())
    finally:
        await consumer.stop()


async def caught_up(pool: db.Pool, bootstrap: str, topic: str, group: str) -> None:
    """Wait until the tracked consumer ``group`` has processed everything in ``topic``."""
    written = await end_offsets(bootstrap, topic)

    async def done() -> bool:
        async with pool.acquire() as conn:
            processed = await conn.fetchval(
                "SELECT COALESCE(sum(next_offset), 0) FROM consumer_offsets"
                " WHERE consumer = $1 AND topic = $2",
                group,
                topic,
            )
        return bool(processed >= written)

    await wait_for(done, timeout=60)
