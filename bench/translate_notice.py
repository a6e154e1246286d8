"""Engine calls and time for one notice to 1,000,000 recipients in 24 languages, through the real
translate process, real Kafka and PostgreSQL, and a real Apertium APY.

2,000 DeliveryPlanned batches of 500 recipients (one English notice, the 24 languages offered besides
Japanese, round robin) are produced to a fresh topic; the clock runs from the first record produced to
the last DeliveryReady read back. Spanish and Brazilian Portuguese are machine-translated by Apertium
(en→es, en→es→pt-BR); the other languages have no engine here and fall back (English, with a line in
the reader's language). Prints the engine calls and HTTP requests (from the process's /metrics), the
time to the first and the last DeliveryReady and batches/s, then the exact command.

Uses the local Kafka and PostgreSQL (./dev up) and starts APY on a free loopback port unless
``--apertium-url`` is given; a fresh database and topic prefix per run, removed afterwards.

    .venv/bin/python -m bench.translate_notice                       # 1,000,000 recipients, 2,000 batches
    .venv/bin/python -m bench.translate_notice --recipients 100000   # a quicker look
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shlex
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench._support import drop_run_state
from services.common import db, languages, migrate
from services.common.contracts import (
    DeliveryPlanned,
    DeliveryReady,
    NoticeCategory,
    NoticeContent,
    batch_id_for,
    delivery_key,
)
from services.common.kafka import ensure_topics
from services.common.topics import Topics
from tests.support.services import ServiceProcess
from tests.support.stack import REPO, ensure_stack, free_port

APY_SH = REPO / "deploy/local/apertium/apy.sh"
LANGUAGES = tuple(lang.code for lang in languages.DEFAULT_LANGUAGES if lang.code != "ja")  # the 24

NOTICE = NoticeContent(
    title="Renewing your period of stay: apply early",
    body=(
        "Your residence card shows the date your period of stay ends. If you want to keep living and working "
        "in Japan, apply for an extension at the Regional Immigration Services Bureau before that date. You "
        "can apply from three months before the date.\n\n"
        "Bring your passport, your residence card, a photo and the documents from your employer. The "
        "Immigration Services Agency of Japan also accepts applications online.\n\n"
        "If you have already applied, you do not need to do anything now. Keep your residence card with "
        "you.\n\n"
        "If you need help, ask your employer, your support organization or a consultation center for foreign "
        "residents."
    ),
    source_language="en",
    category=NoticeCategory.IMMIGRATION,
)


def metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"^{name}\{{(.*)\}} (\S+)$", line)
        if match and all(f'{k}="{v}"' in match.group(1) for k, v in labels.items()):
            total += float(match.group(2))
    return total


def by_label(text: str, name: str, label: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in text.splitlines():
        match = re.match(rf"^{name}\{{(.*)\}} (\S+)$", line)
        if match:
            found = re.search(rf'{label}="([^"]*)"', match.group(1))
            if found:
                out[found.group(1)] = out.get(found.group(1), 0.0) + float(match.group(2))
    return out


def batches(recipients: int, batch_size: int) -> list[DeliveryPlanned]:
    notice_id = uuid.uuid4()
    planned_at = datetime.now(UTC)
    count = -(-recipients // batch_size)
    made: list[DeliveryPlanned] = []
    next_user = 0
    for n in range(count):
        size = min(batch_size, recipients - n * batch_size)
        language = LANGUAGES[n % len(LANGUAGES)]
        made.append(
            DeliveryPlanned(
                batch_id=batch_id_for(notice_id, language, n),
                notice_id=notice_id,
                language=language,
                batch_no=n,
                recipients=tuple(f"U{i:032x}" for i in range(next_user, next_user + size)),
                notice_recipients=recipients,
                planned_at=planned_at,
                content=NOTICE,
            )
        )
        next_user += size
    return made


async def produce(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> float:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        max_request_size=4 << 20,
    )
    await producer.start()
    started = time.perf_counter()
    try:
        futures = [await producer.send(topic, value=value, key=key) for key, value in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return started


async def read_ready(
    bootstrap: str, topic: str, expect: int, timeout: float
) -> tuple[list[float], list[DeliveryReady]]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 << 20,
    )
    await consumer.start()
    arrivals: list[float] = []
    seen: dict[str, DeliveryReady] = {}
    deadline = time.monotonic() + timeout
    try:
        while len(seen) < expect and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=200, max_records=1000)).values():
                for record in records:
                    ready = DeliveryReady.model_validate_json(record.value)
                    if ready.batch_id not in seen:
                        seen[ready.batch_id] = ready
                        arrivals.append(time.perf_counter())
    finally:
        await consumer.stop()
    return arrivals, list(seen.values())


async def run(args: argparse.Namespace) -> int:
    stack = ensure_stack()
    run_id = f"b{time.strftime('%m%d%H%M%S')}{uuid.uuid4().hex[:4]}"
    database = f"gunma_{run_id}"
    admin = await db.connect(stack.admin_dsn)
    await admin.execute(f'CREATE DATABASE "{database}"')
    await admin.close()
    dsn = stack.dsn_for(database)
    await migrate.migrate(dsn, ["common", "translate"])
    topics = Topics(prefix=f"{run_id}.")
    await ensure_topics(stack.kafka_bootstrap, topics)

    apy_env = {**os.environ, "APY_PORT": str(free_port()), "GUNMA_STATE_DIR": str(REPO / ".local" / "bench")}
    apertium_url = args.apertium_url
    started_apy = False
    if not apertium_url:
        await asyncio.to_thread(subprocess.run, [str(APY_SH), "up"], check=True, env=apy_env, timeout=120)
        url = await asyncio.to_thread(
            subprocess.run, [str(APY_SH), "url"], check=True, env=apy_env, capture_output=True, text=True
        )
        apertium_url = url.stdout.strip()
        started_apy = True
    port = free_port()
    log_dir = REPO / ".local" / "bench" / run_id
    translate = ServiceProcess(
        "translate",
        {
            "GUNMA_KAFKA_BOOTSTRAP_SERVERS": stack.kafka_bootstrap,
            "GUNMA_KAFKA_TOPIC_PREFIX": topics.prefix,
            "GUNMA_DATABASE_URL": dsn,
            "GUNMA_LOG_LEVEL": "WARNING",
            "GUNMA_TRANSLATE_HTTP_PORT": str(port),
            "GUNMA_TRANSLATE_APERTIUM_URL": apertium_url,
            "GUNMA_TRANSLATE_BACKENDS": '{"es": "apertium", "pt-BR": "apertium"}',
            "GUNMA_TRANSLATE_PRETRANSLATE": "false",
        },
        port,
        log_dir,
    )
    try:
        made = batches(args.recipients, args.batch_size)
        records = [
            (delivery_key(p.notice_id, p.language).encode(), p.model_dump_json().encode()) for p in made
        ]
        translate.start(timeout=120)
        reader = asyncio.create_task(
            read_ready(stack.kafka_bootstrap, topics.deliveries_ready, len(made), args.timeout)
        )
        await asyncio.sleep(1.0)  # let the reader join before the first record
        started = await produce(stack.kafka_bootstrap, topics.deliveries_planned, records)
        arrivals, ready = await reader
        async with httpx.AsyncClient(timeout=10) as client:
            metrics = (await client.get(f"{translate.url}/metrics")).text
    finally:
        translate.stop()
        if started_apy:
            await asyncio.to_thread(
                subprocess.run, [str(APY_SH), "down"], check=False, env=apy_env, timeout=60
            )
        await drop_run_state(stack.admin_dsn, database, stack.kafka_bootstrap, topics)

    complete = len(ready) == len(made)
    recipients = sum(len(r.recipients) for r in ready)
    sources = Counter(r.translation_source for r in ready)
    calls = by_label(metrics, "gunma_translate_engine_calls_total", "outcome")
    requests = metric(metrics, "gunma_translate_engine_requests_total", backend="apertium")
    translations = by_label(metrics, "gunma_translate_translations_total", "source")
    calls_text = ", ".join(f"{k} {int(v)}" for k, v in sorted(calls.items()))
    command = " ".join(
        shlex.quote(a) for a in [sys.executable, "-m", "bench.translate_notice", *sys.argv[1:]]
    )
    print(f"translate_notice: 1 notice, {len(made)} batches, {recipients:,} recipients, ", end="")
    print(f"{len(LANGUAGES)} languages")
    print(f"  complete:                {complete} ({len(ready)}/{len(made)} DeliveryReady)")
    print(f"  engine calls:            {int(sum(calls.values()))} ({calls_text})")
    print(f"  engine HTTP requests:    {int(requests)} (Apertium takes one segment per request)")
    print(f"  translations stored:     {', '.join(f'{k} {int(v)}' for k, v in sorted(translations.items()))}")
    print(f"  batches by source:       {', '.join(f'{k} {v}' for k, v in sorted(sources.items()))}")
    if arrivals:
        first, last = arrivals[0] - started, arrivals[-1] - started
        print(f"  first DeliveryReady:     {first:.2f} s after the first record produced")
        print(f"  last DeliveryReady:      {last:.2f} s")
        rates = f"{len(ready) / last:,.0f} batches/s, {recipients / last:,.0f} recipients/s"
        print(f"  throughput:              {rates}")
    print(f"  command:                 {command}")
    print("  note: a shared 2-core machine; other work on it makes these figures noisy")
    return 0 if complete else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipients", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--apertium-url", default=None, help="an APY already running (default: start one)")
    parser.add_argument(
        "--timeout", type=float, default=900.0, help="give up reading after this many seconds"
    )
    args = parser.parse_args()
    if not 1 <= args.batch_size <= 500:
        parser.error("--batch-size must be 1..500 (LINE's multicast limit)")
    return asyncio.run(run(args))


if __name__ == "__main__":
    raise SystemExit(main())
