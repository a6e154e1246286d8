"""What metrics and tracing cost a durable consumer: records/s with each observability setting.

Pre-loads ``--records`` small JSON records into a fresh topic on the local Kafka, then consumes them with
the shared durable subscriber (batches of up to 500, a no-op handler, offsets committed per batch), once
per mode, and reports this process's CPU time per record (wall-clock rates swing with the machine's other
load; CPU time much less), each mode with its own consumer group so every run reads the same records:

- ``bare``: no middleware at all (``create_broker(..., metrics_registry=None)``);
- ``metrics``: FastStream's Prometheus middleware, as every service runs (tracing off);
- ``tracing``: metrics plus tracing on (FastStream's telemetry middleware and the batch-trace span),
  spans handed to a BatchSpanProcessor with an exporter that drops them (the export itself is not
  measured, only what the service pays).

    .venv/bin/python -m bench.observability_overhead                    # 100,000 records, 3 rounds
    .venv/bin/python -m bench.observability_overhead --records 20000 --rounds 1
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import statistics
import sys
import time
import uuid
from collections.abc import Sequence
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from prometheus_client import REGISTRY

from services.common import logs, tracing
from services.common.kafka import Consumed, DeadLetters, create_broker, durable_subscriber
from services.common.settings import ServiceSettings
from tests.support.kafka import create_topics, produce
from tests.support.stack import ensure_stack

MODES = ("bare", "metrics", "tracing")


class _Drop(SpanExporter):
    def __init__(self) -> None:
        self.spans = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans += len(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


async def _consume(bootstrap: str, topic: str, records: int, mode: str) -> tuple[float, float, int]:
    exporter = _Drop()
    if mode == "tracing":
        tracing.configure("bench", exporter=exporter, set_global=False)
    try:
        settings = ServiceSettings(kafka_bootstrap_servers=bootstrap)
        registry = None if mode == "bare" else REGISTRY
        broker = create_broker(settings, client_id=f"bench-{mode}", metrics_registry=registry)
        done = asyncio.Event()
        seen = 0
        started = 0.0
        cpu_started = 0.0

        async def handler(items: list[Consumed[dict[str, Any]]]) -> None:
            nonlocal seen, started, cpu_started
            if not started:
                started, cpu_started = time.perf_counter(), time.process_time()
            seen += len(items)
            if seen >= records:
                done.set()

        group = f"bench-{mode}-{uuid.uuid4().hex[:6]}"
        durable_subscriber(
            broker,
            topic=topic,
            group_id=group,
            payload=dict[str, Any],
            handler=handler,
            dead_letters=DeadLetters(broker, consumer=group),
        )
        await broker.start()
        try:
            await asyncio.wait_for(done.wait(), timeout=600)
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu_started
        finally:
            await broker.stop()
    finally:
        provider = tracing.provider()
        if provider is not None:
            provider.force_flush()
        tracing.shutdown()
    return records / elapsed, cpu * 1e6 / records, exporter.spans


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    logs.configure("bench", "WARNING")  # FastStream logs every batch at INFO otherwise
    stack = ensure_stack()
    topic = f"bench.obs-{uuid.uuid4().hex[:8]}"
    await create_topics(stack.kafka_bootstrap, {topic: 12})
    payload = b'{"notice_id": "n-1", "language": "vi", "n": %d}'
    chunk = 20_000
    for start in range(0, args.records, chunk):
        end = min(args.records, start + chunk)
        await produce(
            stack.kafka_bootstrap, topic, [(b"k%d" % (n % 97), payload % n) for n in range(start, end)]
        )
    results: dict[str, list[float]] = {mode: [] for mode in MODES}
    cpu: dict[str, list[float]] = {mode: [] for mode in MODES}
    spans = 0
    for _ in range(args.rounds):
        for mode in MODES:  # interleaved, so drifting machine load hits every mode alike
            rate, micros, exported = await _consume(stack.kafka_bootstrap, topic, args.records, mode)
            results[mode].append(rate)
            cpu[mode].append(micros)
            spans = max(spans, exported)
    print(f"command: .venv/bin/python -m bench.observability_overhead {shlex.join(sys.argv[1:])}".rstrip())
    print(f"records: {args.records} in 12 partitions, batches of up to 500, rounds: {args.rounds}")
    print("CPU time of this process per record (less sensitive to other load than wall-clock rates):")
    bare = statistics.median(cpu["bare"])
    for mode in MODES:
        median = statistics.median(cpu[mode])
        rate = statistics.median(results[mode])
        runs = ", ".join(f"{r:.1f}" for r in cpu[mode])
        print(
            f"{mode:>8}: {median:6.1f} us CPU/record (+{median - bare:5.1f})   "
            f"median {rate:>8,.0f} records/s   CPU runs: {runs}"
        )
    print(f"spans exported per tracing run: {spans}")
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([topic, f"{topic}.dlq"])  # leave the local Kafka as it was
    finally:
        await admin.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
