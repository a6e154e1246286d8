"""The real translate process with real Kafka, PostgreSQL and Apertium APY: batches in, messages out."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.common import auth
from services.common.contracts import AudienceFilter, NoticeSubmitted, delivery_key
from services.common.db import Pool
from services.common.kafka import ensure_topics
from services.common.topics import Topics
from services.translate.domain.fallback import fallback_line
from tests.support.kafka import produce, read_all
from tests.support.services import ServiceProcess
from tests.support.stack import free_port

from .harness import notice_content, planned, read_ready


def metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"^{name}\{{(.*)\}} (\S+)$", line)
        if match and all(f'{k}="{v}"' in match.group(1) for k, v in labels.items()):
            total += float(match.group(2))
    return total


async def scrape(process: ServiceProcess) -> str:
    async with httpx.AsyncClient(timeout=5) as client:
        return (await client.get(f"{process.url}/metrics")).text


@pytest.fixture
async def own_topics(kafka_bootstrap: str, run_id: str) -> Topics:
    names = Topics(prefix=f"{run_id}.tr{uuid.uuid4().hex[:6]}.")
    await ensure_topics(kafka_bootstrap, names)
    return names


@pytest.fixture
def translate(
    service_env: dict[str, str], own_topics: Topics, apertium_url: str, tmp_path: Path
) -> Iterator[ServiceProcess]:
    port = free_port()
    process = ServiceProcess(
        "translate",
        {
            **service_env,
            "GUNMA_KAFKA_TOPIC_PREFIX": own_topics.prefix,
            "GUNMA_TRANSLATE_HTTP_PORT": str(port),
            "GUNMA_TRANSLATE_APERTIUM_URL": apertium_url,
            "GUNMA_TRANSLATE_BACKENDS": '{"es": "apertium", "pt-BR": "apertium"}',
            "GUNMA_SHUTDOWN_GRACE_SECONDS": "5",
        },
        port,
        tmp_path / "logs",
    )
    process.start()
    try:
        yield process
    finally:
        process.stop()


async def test_batches_in_messages_out(
    translate: ServiceProcess, own_topics: Topics, kafka_bootstrap: str, pool: Pool
) -> None:
    topics = own_topics
    notice_id = uuid.uuid4()
    source = notice_content()
    spanish = [planned(notice_id, "es", n, content=source, recipients=20) for n in range(20)]
    records: list[tuple[bytes | None, bytes]] = [
        (delivery_key(notice_id, "es").encode(), p.model_dump_json().encode()) for p in spanish
    ]
    records.insert(7, (delivery_key(notice_id, "es").encode(), b'{"type": "delivery.planned", "broken'))
    await produce(kafka_bootstrap, topics.deliveries_planned, records)

    ready = await read_ready(kafka_bootstrap, topics.deliveries_ready, expect=20, timeout=60)
    assert sorted(r.batch_no for r in ready) == list(range(20))
    assert {r.translation_source for r in ready} == {"machine"}
    assert len({r.messages[0]["text"] for r in ready}) == 1
    assert "tarjeta de residencia" in ready[0].messages[0]["text"]
    dead = await read_all(kafka_bootstrap, topics.dlq(topics.deliveries_planned), expect=1, timeout=30)
    assert len(dead) == 1 and dict(dead[0].headers)["x-dlq-error-type"] == b"undecodable"

    metrics = await scrape(translate)
    # 20 batches of one notice and language: one engine call (one request per segment)
    assert metric(metrics, "gunma_translate_engine_calls_total", backend="apertium", outcome="ok") == 1
    assert metric(metrics, "gunma_translate_engine_requests_total", backend="apertium", result="2xx") == 3

    others = [
        planned(notice_id, "pt-BR", 0, content=source),
        planned(notice_id, "ne", 0, content=source),
        planned(notice_id, "ja-x-easy", 0, content=source),
    ]
    await produce(
        kafka_bootstrap,
        topics.deliveries_planned,
        [(delivery_key(notice_id, p.language).encode(), p.model_dump_json().encode()) for p in others],
    )
    ready = await read_ready(kafka_bootstrap, topics.deliveries_ready, expect=23, timeout=60)
    by_language = {r.language: r for r in ready}
    # pt-BR: en→es then es→pt-BR; its en→es hop differs from Spanish's (the glossary protects other
    # terms for pt-BR), so two more calls; Nepali and Easy Japanese fall back without one.
    metrics = await scrape(translate)
    assert metric(metrics, "gunma_translate_engine_calls_total", backend="apertium", outcome="ok") == 3
    assert by_language["pt-BR"].translation_source == "machine"
    assert "cartão de residência" in by_language["pt-BR"].messages[0]["text"]
    assert by_language["ne"].messages[0]["text"].startswith(fallback_line("ne", "en"))
    assert by_language["ja-x-easy"].messages[0]["text"].startswith(fallback_line("ja-x-easy", "en"))

    # the staff API sees what the deliveries stored, and needs a key
    async with pool.acquire() as conn:
        key, _ = await auth.create_key(conn, name="translate-test staff", role=auth.Role.STAFF)
    async with httpx.AsyncClient(base_url=translate.url, timeout=30) as client:
        denied = await client.post(f"/v1/notices/{notice_id}/preview")
        assert denied.status_code == 401, denied.text
        assert denied.headers["content-type"].startswith("application/problem+json")
        answer = await client.post(
            f"/v1/notices/{notice_id}/preview",
            json={"languages": ["es", "ne"], "values": {"date": "2027-03-31", "city": "Maebashi"}},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert answer.status_code == 200, answer.text
        es, ne = answer.json()["languages"]
        assert es["translation_source"] == "machine" and "31 de marzo de 2027" in es["messages"][0]["text"]
        assert ne["translation_source"] == "fallback" and "March 31, 2027" in ne["messages"][0]["text"]
        metrics = (await client.get("/metrics")).text
    # the preview reused the stored translations
    assert metric(metrics, "gunma_translate_engine_calls_total", backend="apertium", outcome="ok") == 3


async def test_submitted_notices_are_translated_ahead(
    translate: ServiceProcess, own_topics: Topics, kafka_bootstrap: str, pool: Pool
) -> None:
    topics = own_topics
    notice = NoticeSubmitted(
        notice_id=uuid.uuid4(),
        content=notice_content(),
        audience=AudienceFilter(languages=("es", "vi")),
        submitted_by="staff-key",
    )
    await produce(
        kafka_bootstrap, topics.notices, [(str(notice.notice_id).encode(), notice.model_dump_json().encode())]
    )
    for _ in range(200):
        rows = await pool.fetch(
            "SELECT language, source FROM translate_translations WHERE notice_id = $1", notice.notice_id
        )
        if len(rows) == 2:
            break
        await asyncio.sleep(0.1)
    assert {(r["language"], r["source"]) for r in rows} == {("es", "machine"), ("vi", "fallback")}
    stored = await pool.fetchrow(
        "SELECT origin, cities FROM translate_notices WHERE notice_id = $1", notice.notice_id
    )
    assert stored is not None and stored["origin"] == "notice" and stored["cities"] == []
