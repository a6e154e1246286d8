"""Tracing follows one piece of work across hops: HTTP request -> Kafka -> consumer -> Kafka -> consumer.

Real Kafka, FastStream's telemetry middleware as every service's broker has it when tracing is on, an
in-memory span exporter. The consumers are the shared durable (batch) subscribers.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.common import tracing
from services.common.kafka import Consumed, DeadLetters, create_broker, durable_subscriber
from services.common.settings import ServiceSettings
from tests.support.kafka import create_topics


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing.configure("trace-test", exporter=exporter, set_global=False, batch=False)
    try:
        yield exporter
    finally:
        tracing.shutdown()  # later tests in this process get brokers without tracing again


async def _until(predicate: Any, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.05)


async def test_publish_and_consume_share_one_trace_across_two_hops(
    spans: InMemorySpanExporter, kafka_bootstrap: str, run_id: str
) -> None:
    first = f"{run_id}.trace-a-{uuid.uuid4().hex[:6]}"
    second = f"{run_id}.trace-b-{uuid.uuid4().hex[:6]}"
    await create_topics(kafka_bootstrap, {first: 2, second: 2})
    settings = ServiceSettings(kafka_bootstrap_servers=kafka_bootstrap)
    broker = create_broker(settings, client_id="gunma-trace-test")
    arrived: list[dict[str, Any]] = []

    async def relay(items: list[Consumed[dict[str, Any]]]) -> None:
        for item in items:
            await broker.publish(
                {"notice_id": item.value["notice_id"], "hop": 2}, topic=second, key=item.record.key
            )

    async def land(items: list[Consumed[dict[str, Any]]]) -> None:
        arrived.extend(item.value for item in items)

    for topic, group, handler in ((first, f"g1-{first}", relay), (second, f"g2-{second}", land)):
        durable_subscriber(
            broker,
            topic=topic,
            group_id=group,
            payload=dict[str, Any],
            handler=handler,
            dead_letters=DeadLetters(broker, consumer=group),
        )

    app = FastAPI()
    tracing.instrument_app(app)

    @app.post("/notices")
    async def submit() -> dict[str, str]:
        await broker.publish({"notice_id": "n-1", "hop": 1}, topic=first, key=b"n-1")
        return {"status": "accepted"}

    await broker.start()
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://ingest.test"
        ) as client:
            response = await client.post("/notices")
        assert response.status_code == 200
        await _until(lambda: arrived)
        await asyncio.sleep(0.3)  # the last consumer span ends after the handler returns
    finally:
        await broker.stop()

    finished = spans.get_finished_spans()
    server = [s for s in finished if s.kind.name == "SERVER"]
    assert server, [s.name for s in finished]
    trace_id = server[0].context.trace_id
    names_in_trace = {s.name for s in finished if s.context.trace_id == trace_id}
    # Both publishes and both handlers (our per-batch span in the producer's trace) are in the request's
    # trace: one notice can be followed from the HTTP request to the last consumer.
    assert f"{first} publish" in names_in_trace, sorted(names_in_trace)
    assert f"{first} handle" in names_in_trace, sorted(names_in_trace)
    assert f"{second} publish" in names_in_trace, sorted(names_in_trace)
    assert f"{second} handle" in names_in_trace, sorted(names_in_trace)
    handle_second = next(s for s in finished if s.name == f"{second} handle")
    publish_second = next(s for s in finished if s.name == f"{second} publish")
    assert handle_second.parent is not None
    assert handle_second.parent.span_id in {
        s.context.span_id for s in finished if s.context.trace_id == trace_id
    }
    assert publish_second.context.trace_id == trace_id
    assert arrived == [{"notice_id": "n-1", "hop": 2}]


async def test_tracing_off_adds_no_middleware(kafka_bootstrap: str) -> None:
    assert not tracing.enabled()
    broker = create_broker(ServiceSettings(kafka_bootstrap_servers=kafka_bootstrap), client_id="t")
    kinds = {type(m).__name__ for m in broker.middlewares}
    assert "KafkaTelemetryMiddleware" not in kinds
    assert "BatchTraceMiddleware" not in kinds
    assert "KafkaPrometheusMiddleware" in kinds
    assert tracing.current_ids() == {}
