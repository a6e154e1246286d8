"""Real sandbox and sender processes, DeliveryReady records in, DeliveryResults out."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer

from services.common.contracts import DeliveryReady, DeliveryResult, SendMode, batch_id_for
from services.common.kafka import ensure_topics
from services.common.topics import Topics
from services.line_sandbox.client import SandboxClient
from tests.support.kafka import produce
from tests.support.services import ServiceProcess
from tests.support.stack import free_port
from tests.unit.line_sandbox.specs import MESSAGING_API_RELATIVE, WEBHOOK_RELATIVE, spec_path

TOKEN = "integration-channel-token"
SECRET = "integration-channel-secret"
ADMIN = "integration-sandbox-admin"


def sandbox_process(log_dir: Path, **env: str) -> ServiceProcess:
    spec_path()  # fail clearly when the shared documents are missing
    spec_path("webhook.yml")
    port = free_port()
    return ServiceProcess(
        "line_sandbox",
        {
            "GUNMA_SANDBOX_HTTP_PORT": str(port),
            "GUNMA_SANDBOX_CHANNEL_ACCESS_TOKENS": TOKEN,
            "GUNMA_SANDBOX_CHANNEL_SECRET": SECRET,
            "GUNMA_SANDBOX_ADMIN_TOKEN": ADMIN,
            "GUNMA_SANDBOX_OPENAPI_SPEC": MESSAGING_API_RELATIVE,
            "GUNMA_SANDBOX_WEBHOOK_OPENAPI_SPEC": WEBHOOK_RELATIVE,
            "GUNMA_SANDBOX_WEBHOOK_URL": "",
            "GUNMA_SANDBOX_FAULT_SEED": "20261127",
            **env,
        },
        port,
        log_dir,
    )


def sender_process(
    log_dir: Path, service_env: dict[str, str], prefix: str, sandbox_url: str, **env: str
) -> ServiceProcess:
    port = free_port()
    return ServiceProcess(
        "sender",
        {
            **service_env,
            "GUNMA_KAFKA_TOPIC_PREFIX": prefix,
            "GUNMA_SENDER_HTTP_PORT": str(port),
            "GUNMA_SENDER_LINE_API_BASE_URL": sandbox_url,
            "GUNMA_SENDER_LINE_CHANNEL_ACCESS_TOKEN": TOKEN,
            "GUNMA_SENDER_REQUEST_TIMEOUT_SECONDS": "1",
            "GUNMA_SENDER_RETRY_INITIAL_SECONDS": "0.05",
            "GUNMA_SENDER_RETRY_MAX_SECONDS": "0.5",
            "GUNMA_SENDER_RATE_LIMITED_PAUSE_SECONDS": "0.1",
            "GUNMA_SHUTDOWN_GRACE_SECONDS": "5",
            # A proxy that does not exist: the sender must reach the loopback sandbox without it.
            "HTTP_PROXY": "http://127.0.0.1:9",
            "HTTPS_PROXY": "http://127.0.0.1:9",
            "http_proxy": "http://127.0.0.1:9",
            "NO_PROXY": "",
            "no_proxy": "",
            **env,
        },
        port,
        log_dir,
    )


async def fresh_topics(bootstrap: str, run_id: str) -> Topics:
    topics = Topics(prefix=f"{run_id}.s{uuid.uuid4().hex[:6]}.")
    await ensure_topics(bootstrap, topics)
    return topics


def users(n: int) -> list[str]:
    return ["U" + uuid.uuid4().hex for _ in range(n)]


@dataclass
class Notice:
    notice_id: uuid.UUID
    batches: list[DeliveryReady]

    @property
    def recipients(self) -> int:
        return sum(len(b.recipients) for b in self.batches)


def notice(
    batches: int,
    per_batch: int,
    *,
    languages: Iterable[str] = ("vi",),
    mode: SendMode = SendMode.MULTICAST,
    messages: tuple[dict[str, Any], ...] = ({"type": "text", "text": "Renew your residence card in time."},),
    notice_recipients: int | None = None,
    **extra: Any,
) -> Notice:
    notice_id = uuid.uuid4()
    langs = list(languages)
    made: list[DeliveryReady] = []
    total = notice_recipients or batches * per_batch
    for n in range(batches):
        language = langs[n % len(langs)]
        made.append(
            DeliveryReady(
                batch_id=batch_id_for(notice_id, language, n),
                notice_id=notice_id,
                language=language,
                batch_no=n,
                recipients=tuple(users(per_batch)),
                notice_recipients=total,
                planned_at=datetime.now(UTC),
                mode=mode,
                messages=messages,
                **extra,
            )
        )
    return Notice(notice_id, made)


async def publish(bootstrap: str, topics: Topics, batches: Iterable[DeliveryReady]) -> None:
    await produce(
        bootstrap,
        topics.deliveries_ready,
        [(b.key.encode(), b.model_dump_json().encode()) for b in batches],
    )


async def results(
    bootstrap: str, topics: Topics, *, batch_ids: set[str], timeout: float = 90.0
) -> dict[str, DeliveryResult]:
    """Read DeliveryResults until one for every batch id arrived (the last one per batch wins)."""
    consumer = AIOKafkaConsumer(
        topics.deliveries_results,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: dict[str, DeliveryResult] = {}
    try:
        deadline = time.monotonic() + timeout
        while not batch_ids <= found.keys():
            if time.monotonic() > deadline:
                missing = len(batch_ids - found.keys())
                raise TimeoutError(f"{missing} of {len(batch_ids)} results missing after {timeout:.0f} s")
            for part in (await consumer.getmany(timeout_ms=200)).values():
                for record in part:
                    result = DeliveryResult.model_validate_json(record.value)
                    if result.batch_id in batch_ids:
                        found[result.batch_id] = result
    finally:
        await consumer.stop()
    return found


async def dead_letters(bootstrap: str, topics: Topics, *, expect: int, timeout: float = 30.0) -> list[Any]:
    consumer = AIOKafkaConsumer(
        topics.dlq(topics.deliveries_ready),
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[Any] = []
    try:
        deadline = time.monotonic() + timeout
        while len(found) < expect and time.monotonic() < deadline:
            for part in (await consumer.getmany(timeout_ms=200)).values():
                found.extend(part)
    finally:
        await consumer.stop()
    return found


def dlq_headers(record: Any) -> dict[str, str]:
    return {k: (v or b"").decode() for k, v in record.headers or ()}


async def wait_for(predicate: Any, *, timeout: float = 60.0, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(interval)


async def assert_exactly_once(sandbox: SandboxClient, made: Notice) -> dict[str, Any]:
    summary = await sandbox.notice(str(made.notice_id))
    assert await sandbox.duplicates(notice_id=str(made.notice_id)) == []
    assert summary["recipient_deliveries"] == made.recipients, summary
    assert summary["distinct_recipients"] == made.recipients, summary
    assert summary["batches"] == len(made.batches), summary
    return summary
