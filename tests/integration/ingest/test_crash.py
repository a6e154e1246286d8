"""A 2xx survives a crash: kill -9 right after it, restart, and every accepted event is in Kafka once."""

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaProducer

from services.common import auth, db
from services.common.contracts import derived_id
from services.common.topics import Topics
from services.ingest import outbox
from services.ingest.domain import employment
from services.ingest.domain.employment import EventKind, Facts
from services.ingest.relay import _CLAIM, Relay
from services.ingest.settings import IngestSettings
from tests.support.services import ServiceProcess
from tests.support.stack import free_port

from .conftest import PEPPER, SECRET, apost, bearer, ingest_env, line_signature, log_text, wait_for_events


async def _feed_key(dsn: str) -> str:
    conn = await db.connect(dsn)
    try:
        key, _ = await auth.create_key(conn, name="crash-feed", role=auth.Role.FEED)
        return key
    finally:
        await conn.close()


def _process(service_env: dict[str, str], dsn: str, logs: Path, **extra: str) -> ServiceProcess:
    port = free_port()
    env = ingest_env(service_env, port, GUNMA_DATABASE_URL=dsn, GUNMA_INGEST_CSV_WORKERS="0", **extra)
    return ServiceProcess("ingest", env, port, logs / f"process-{port}")


def _batch(run: str, count: int) -> dict[str, Any]:
    return {
        "events": [
            {
                "type": "hired",
                "event_id": f"crash-{run}-{n}",
                "reported_at": "2024-04-02T09:00:00+09:00",
                "residence_card_number": f"CR{n:08d}SH",
                "nationality": "VN",
                "residence_status": "technical_intern_2a",
                "hired_on": "2024-04-01",
                "establishment": {"establishment_id": "5555-555555-5", "municipality_code": "10204"},
            }
            for n in range(count)
        ]
    }


def _webhook(process: ServiceProcess, webhook_event_id: str) -> httpx.Response:
    body = orjson.dumps(
        {
            "destination": "U" + "0" * 32,
            "events": [
                {
                    "type": "follow",
                    "timestamp": int(time.time() * 1000),
                    "mode": "active",
                    "webhookEventId": webhook_event_id,
                    "deliveryContext": {"isRedelivery": False},
                    "source": {"type": "user", "userId": "U" + uuid.uuid4().hex},
                    "replyToken": "r",
                    "follow": {"isUnblocked": False},
                }
            ],
        }
    )
    return httpx.post(
        f"{process.url}/line/webhook",
        content=body,
        headers={"Content-Type": "application/json", "X-Line-Signature": line_signature(body)},
    )


@pytest.mark.slow
async def test_accepted_then_killed_before_publishing_is_published_once_after_restart(
    private_database: str, service_env: dict[str, str], kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:
    key = await _feed_key(private_database)
    run = uuid.uuid4().hex[:8]
    # The first process only records (its relay is off): the 2xx must mean "durable", not "in Kafka".
    first = _process(service_env, private_database, tmp_path, GUNMA_INGEST_RELAY_ENABLED="false")
    first.start()
    response = await apost(f"{first.url}/v1/employment-events", json=_batch(run, 5), headers=bearer(key))
    assert response.status_code == 200 and response.json()["accepted"] == 5
    webhook = _webhook(first, f"01CRASH{run.upper()}")
    assert webhook.status_code == 200
    first.kill()

    employment_ids = {r["event_id"] for r in response.json()["results"]}
    survivor = _process(service_env, private_database, tmp_path)
    survivor.start()
    try:
        found = await wait_for_events(kafka_bootstrap, topics.employment, employment_ids)
        assert {k: len(v) for k, v in found.items()} == dict.fromkeys(employment_ids, 1)
        line_id = str(derived_id("line", f"01CRASH{run.upper()}"))
        found_line = await wait_for_events(kafka_bootstrap, topics.line_events, {line_id})
        assert len(found_line[line_id]) == 1
        again = await apost(f"{survivor.url}/v1/employment-events", json=_batch(run, 5), headers=bearer(key))
        assert again.json()["duplicates"] == 5  # the dedupe record survived the crash too
    finally:
        survivor.stop()


@pytest.mark.slow
async def test_killed_right_after_the_2xx_while_relaying_gives_each_event_once(
    private_database: str, service_env: dict[str, str], kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:
    key = await _feed_key(private_database)
    accepted: set[str] = set()
    for attempt in range(3):
        run = f"{uuid.uuid4().hex[:6]}-{attempt}"
        process = _process(service_env, private_database, tmp_path, GUNMA_INGEST_RELAY_BATCH_MAX="50")
        process.start()
        response = await apost(
            f"{process.url}/v1/employment-events", json=_batch(run, 400), headers=bearer(key)
        )
        process.kill()  # SIGKILL the moment the 2xx arrived: the relay is mid-publish or has not started
        assert response.status_code == 200
        accepted |= {r["event_id"] for r in response.json()["results"]}
    final = _process(service_env, private_database, tmp_path)
    final.start()
    try:
        found = await wait_for_events(kafka_bootstrap, topics.employment, accepted, timeout=60)
        copies = {k: len(v) for k, v in found.items()}
        assert set(copies) == accepted
        assert set(copies.values()) == {1}, {k: v for k, v in copies.items() if v != 1}
        pool = await db.connect(private_database)
        try:
            assert await pool.fetchval("SELECT count(*) FROM ingest_outbox") == 0
        finally:
            await pool.close()
    finally:
        final.stop()


@pytest.mark.slow
async def test_a_relay_round_interrupted_halfway_is_completed_without_duplicates(
    private_database: str, service_env: dict[str, str], kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:
    settings = IngestSettings(
        database_url=private_database,
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_topic_prefix=topics.prefix,
        worker_id_pepper=PEPPER,
        line_channel_secret=SECRET,
    )
    run = uuid.uuid4().hex[:8]
    items = [
        employment.outgoing(
            Facts(EventKind.SEPARATED, f"{n:064x}", "NP", "student", "2024-05-01", "7777", "102059"),
            source="crash-test",
            source_event_id=f"{run}-{n}",
            reported_at="2024-05-02T00:00:00+00:00",
        )
        for n in range(60)
    ]
    conn = await db.connect(private_database)
    try:
        assert len(await outbox.record(conn, topic="employment", source="crash-test", items=items)) == 60
        # A relay claims the round (the in-flight mark is committed) and gets half of it into Kafka...
        rows = await conn.fetch(_CLAIM, 2000, 5000, int(time.time() * 1000))
        assert len(rows) == 1
        (row_id, topic, version, keys, event_ids, event_types, payloads, waited) = rows[0]
        half = (row_id, topic, version, keys[:30], event_ids[:30], event_types[:30], payloads[:30], waited)
        relay = Relay(settings)
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=True, acks="all")
        await producer.start()
        try:
            relay._partitions[topics.employment] = len(await producer.partitions_for(topics.employment))
            await relay._publish(producer, [half])  # type: ignore[list-item]
        finally:
            await producer.stop()
        # ... and dies before deleting the row.
        assert await conn.fetchval("SELECT inflight_max FROM ingest_relay_state") == row_id
    finally:
        await conn.close()

    process = _process(service_env, private_database, tmp_path)
    process.start()
    try:
        wanted = {item.event_id for item in items}
        found = await wait_for_events(kafka_bootstrap, topics.employment, wanted)
        assert {k: len(v) for k, v in found.items()} == dict.fromkeys(wanted, 1)
        for _ in range(50):
            if '"already_in_kafka": 30' in log_text(process) or '"already_in_kafka":30' in log_text(process):
                break
            await asyncio.sleep(0.1)
        assert '"already_in_kafka":30' in log_text(process).replace(" ", "")
    finally:
        process.stop()
