"""A durable, tracked consumer in its own process, which can die like a crash at a chosen moment.

Environment: CRASH_TOPIC, CRASH_GROUP, GUNMA_KAFKA_BOOTSTRAP_SERVERS, GUNMA_DATABASE_URL and, to crash,
CRASH_AFTER_DB_COMMIT=1: exit with status 137 right after the handler's transaction committed and before
the Kafka offsets are committed, the worst moment for an at-least-once consumer.
"""

from __future__ import annotations

import asyncio
import os
import signal

from pydantic import BaseModel

from services.common import db
from services.common.kafka import (
    Consumed,
    ConsumerPolicy,
    DeadLetters,
    create_broker,
    durable_subscriber,
    tracked,
)
from services.common.settings import ServiceSettings


class Tick(BaseModel):
    event_id: str


async def main() -> None:
    settings = ServiceSettings()
    topic, group = os.environ["CRASH_TOPIC"], os.environ["CRASH_GROUP"]
    crash = os.environ.get("CRASH_AFTER_DB_COMMIT") == "1"
    pool = await db.create_pool(settings.database_url.get_secret_value(), min_size=1, max_size=4)
    broker = create_broker(settings, client_id="crash-consumer")

    async def apply(conn: db.Connection, items: list[Consumed[Tick]]) -> None:
        await conn.executemany(
            "INSERT INTO crash_effects (event_id) VALUES ($1)", [(i.value.event_id,) for i in items]
        )

    apply_once = tracked(pool, group, apply)

    async def handle(items: list[Consumed[Tick]]) -> None:
        # Every delivery is logged outside the effect's transaction, to prove redelivery happened.
        await pool.executemany(
            "INSERT INTO crash_deliveries (event_id, pid) VALUES ($1, $2)",
            [(i.value.event_id, os.getpid()) for i in items],
        )
        await apply_once(items)
        if crash:
            os.kill(os.getpid(), signal.SIGKILL)

    durable_subscriber(
        broker,
        topic=topic,
        group_id=group,
        payload=Tick,
        handler=handle,
        dead_letters=DeadLetters(broker, consumer=group),
        policy=ConsumerPolicy(max_records=int(os.environ.get("CRASH_MAX_RECORDS", "10"))),
    )
    await broker.start()
    try:
        await asyncio.Event().wait()
    finally:
        await broker.stop()
        await pool.close()


if __name__ == "__main__":
    asyncio.run(main())
