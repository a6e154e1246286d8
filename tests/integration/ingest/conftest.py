"""The real ingest process on this run's Kafka topics and database, API keys, and Kafka readers."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import ConsumerRecord

from services.common import auth, db
from tests.support import kafka
from tests.support.services import ServiceProcess
from tests.support.stack import Stack, free_port

PEPPER = "integration-test-pepper-0123456789abcdef"
SECRET = "integration-test-channel-secret"
MAX_CSV_BYTES = 4 * 1024 * 1024


def ingest_env(service_env: dict[str, str], port: int, **extra: str) -> dict[str, str]:
    return {
        **service_env,
        "GUNMA_INGEST_HTTP_PORT": str(port),
        "GUNMA_INGEST_WORKER_ID_PEPPER": PEPPER,
        "GUNMA_INGEST_LINE_CHANNEL_SECRET": SECRET,
        "GUNMA_INGEST_CSV_WORKERS": "1",
        "GUNMA_INGEST_MAX_CSV_BODY_BYTES": str(MAX_CSV_BYTES),
        "GUNMA_INGEST_RATE_LIMIT_PER_SECOND": "1000",
        "GUNMA_INGEST_RATE_LIMIT_BURST": "5000",
        "GUNMA_INGEST_KEY_CACHE_SECONDS": "0",
        "GUNMA_INGEST_RELAY_POLL_SECONDS": "0.5",
        **extra,
    }


@pytest.fixture(scope="session")
def ingest(service_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """One ingest process for the session (the crash tests start their own)."""
    port = free_port()
    process = ServiceProcess(
        "ingest", ingest_env(service_env, port), port, tmp_path_factory.mktemp("ingest-logs")
    )
    process.start(timeout=120)
    yield process
    process.stop()


@dataclass(frozen=True)
class Keys:
    feed: str
    feed_name: str
    city_staff: str
    prefecture_staff: str
    ops: str
    revoked: str


@pytest.fixture(scope="session")
async def keys(pool: db.Pool) -> Keys:
    async with pool.acquire() as conn:
        feed, _ = await auth.create_key(conn, name="mhlw-test-feed", role=auth.Role.FEED)
        city, _ = await auth.create_key(
            conn, name="maebashi-staff", role=auth.Role.STAFF, cities=("102016", "102024")
        )
        prefecture, _ = await auth.create_key(conn, name="gunma-staff", role=auth.Role.STAFF)
        ops, _ = await auth.create_key(conn, name="operator", role=auth.Role.OPS)
        revoked, revoked_id = await auth.create_key(conn, name="old-feed", role=auth.Role.FEED)
        await auth.revoke_key(conn, revoked_id)
    return Keys(feed, "mhlw-test-feed", city, prefecture, ops, revoked)


async def apost(url: str, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(timeout=120) as client:
        return await client.post(url, **kwargs)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def line_signature(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def event_id_of(record: ConsumerRecord[Any, Any]) -> str:
    return str(next(v.decode() for k, v in record.headers or () if k == "x-event-id"))


async def topic_records(bootstrap: str, topic: str) -> list[ConsumerRecord[Any, Any]]:
    """Every record of the topic up to its end offsets at the time of the call."""
    return await kafka.read_to_end(bootstrap, topic)


async def wait_for_events(
    bootstrap: str, topic: str, event_ids: set[str], *, timeout: float = 30
) -> dict[str, list[ConsumerRecord[Any, Any]]]:
    """Records of these events once all are in Kafka (every copy, to count duplicates)."""
    deadline = time.monotonic() + timeout
    while True:
        found: dict[str, list[ConsumerRecord[Any, Any]]] = {}
        for record in await topic_records(bootstrap, topic):
            event_id = event_id_of(record)
            if event_id in event_ids:
                found.setdefault(event_id, []).append(record)
        if set(found) == event_ids or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.2)


@pytest.fixture
async def private_database(stack: Stack, run_id: str) -> AsyncIterator[str]:
    """A database of its own (so the session's ingest process does not relay its outbox)."""
    name = f"gunma_{run_id}_{hashlib.sha1(str(time.time_ns()).encode()).hexdigest()[:6]}"  # noqa: S324
    async with stack.own_database(name, ["common", "ingest"]) as dsn:
        yield dsn


def log_text(process: ServiceProcess) -> str:
    return "\n".join(
        path.read_text(errors="replace") for path in Path(process.log_dir).glob(f"{process.name}.*.log")
    )
