"""The shared consumer loses nothing: redelivery after a crash, effect once, poison to the DLQ."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid

import orjson

from services.common import db
from services.common.kafka import Consumed, DeadLetters, create_broker, durable_subscriber
from services.common.settings import ServiceSettings
from tests.support.kafka import create_topics, produce, read_all
from tests.support.stack import REPO


async def _wait_for(predicate, timeout: float = 60.0, interval: float = 0.1):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await predicate()
        if value:
            return value
        await asyncio.sleep(interval)
    raise TimeoutError("condition not met in time")


async def test_crash_before_offset_commit_redelivers_and_applies_once(
    kafka_bootstrap: str, database_url: str, pool: db.Pool, run_id: str
) -> None:
    topic = f"{run_id}.crash-{uuid.uuid4().hex[:8]}"
    await create_topics(kafka_bootstrap, {topic: 3})
    await pool.execute("CREATE TABLE IF NOT EXISTS crash_effects (event_id text NOT NULL)")
    await pool.execute(
        "CREATE TABLE IF NOT EXISTS crash_deliveries (event_id text NOT NULL, pid int NOT NULL)"
    )
    ids = [f"{topic}-{n}" for n in range(60)]
    await produce(
        kafka_bootstrap,
        topic,
        [(str(n % 7).encode(), orjson.dumps({"event_id": i})) for n, i in enumerate(ids)],
    )
    env = {
        **os.environ,
        "CRASH_TOPIC": topic,
        "CRASH_GROUP": f"crash-{topic}",
        "GUNMA_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "GUNMA_DATABASE_URL": database_url,
    }
    command = [sys.executable, "-m", "tests.support.crash_consumer"]

    crashing = subprocess.Popen(command, cwd=REPO, env={**env, "CRASH_AFTER_DB_COMMIT": "1"})
    assert crashing.wait(60) == -9, "the consumer should have died by SIGKILL after its first batch"
    applied_before = await pool.fetchval(
        "SELECT count(*) FROM crash_effects WHERE event_id LIKE $1", f"{topic}-%"
    )
    assert 0 < applied_before < len(ids), "the first process applies one batch, then dies"

    survivor = subprocess.Popen(command, cwd=REPO, env=env)
    try:

        async def all_seen_again() -> bool:
            # The survivor joins once the dead member's session expired; then it sees every record.
            n = await pool.fetchval(
                "SELECT count(DISTINCT event_id) FROM crash_deliveries WHERE event_id LIKE $1 AND pid = $2",
                f"{topic}-%",
                survivor.pid,
            )
            return bool(n >= len(ids) - applied_before)

        await _wait_for(all_seen_again)
        await asyncio.sleep(1.0)  # room for a wrong second application to show up
    finally:
        survivor.terminate()
        survivor.wait(30)

    rows = await pool.fetch(
        "SELECT event_id, count(*) AS n FROM crash_effects WHERE event_id LIKE $1 GROUP BY event_id",
        f"{topic}-%",
    )
    assert {r["event_id"] for r in rows} == set(ids)
    assert max(r["n"] for r in rows) == 1, "an effect was applied twice"
    # The records applied before the crash were delivered again to the second process.
    redelivered = await pool.fetchval(
        """SELECT count(*) FROM (SELECT event_id FROM crash_deliveries WHERE event_id LIKE $1
           GROUP BY event_id HAVING count(DISTINCT pid) = 2) AS twice""",
        f"{topic}-%",
    )
    assert redelivered == applied_before, "what the crashed process applied was delivered again"


async def test_poison_messages_go_to_the_dlq_with_their_reason_and_the_consumer_goes_on(
    kafka_bootstrap: str, database_url: str, run_id: str
) -> None:
    from pydantic import BaseModel, Field

    class Order(BaseModel):
        event_id: str
        quantity: int = Field(ge=1)

    topic = f"{run_id}.poison-{uuid.uuid4().hex[:8]}"
    await create_topics(kafka_bootstrap, {topic: 1})
    settings = ServiceSettings(kafka_bootstrap_servers=kafka_bootstrap, database_url=database_url)
    broker = create_broker(settings, client_id="poison-test")
    seen: list[str] = []
    done = asyncio.Event()

    async def handle(items: list[Consumed[Order]]) -> None:
        for item in items:
            if item.value.event_id == "explodes":
                raise RuntimeError("handler cannot cope with this one")
            seen.append(item.value.event_id)
        if "last" in seen:
            done.set()

    group = f"poison-{topic}"
    durable_subscriber(
        broker,
        topic=topic,
        group_id=group,
        payload=Order,
        handler=handle,
        dead_letters=DeadLetters(broker, consumer=group),
    )
    await broker.start()
    try:
        await produce(
            kafka_bootstrap,
            topic,
            [
                (b"k", orjson.dumps({"event_id": "first", "quantity": 1})),
                (b"k", b"{not json"),
                (b"k", orjson.dumps({"event_id": "zero", "quantity": 0})),
                (b"k", orjson.dumps({"event_id": "explodes", "quantity": 2})),
                (b"k", orjson.dumps({"event_id": "last", "quantity": 3})),
            ],
        )
        await asyncio.wait_for(done.wait(), 60)
    finally:
        await broker.stop()

    # A failing batch is retried record by record, so "first" may be handled twice (handlers are
    # idempotent); what matters is that both good records went through and nothing else did.
    assert list(dict.fromkeys(seen)) == ["first", "last"]
    dead = await read_all(kafka_bootstrap, f"{topic}.dlq", expect=3)
    reasons = {
        dict(r.headers)["x-dlq-error-type"].decode(): dict(r.headers)["x-dlq-reason"].decode() for r in dead
    }
    assert set(reasons) == {"undecodable", "invalid", "handler_error"}
    assert "quantity" in reasons["invalid"] and "greater than or equal to 1" in reasons["invalid"]
    assert "cannot cope" in reasons["handler_error"]
    originals = {r.value for r in dead}
    assert b"{not json" in originals
    for record in dead:
        headers = dict(record.headers)
        assert headers["x-dlq-source-topic"].decode() == topic
        assert headers["x-dlq-consumer"].decode() == group
