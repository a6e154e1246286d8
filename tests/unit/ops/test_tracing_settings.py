"""Tracing is off unless asked for, and batches join their producers' trace when they share one."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from services.common import tracing


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, None),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ""}, None),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, "otlp"),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, "otlp"),
        ({"OTEL_TRACES_EXPORTER": "console"}, "console"),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, "otlp"),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, None),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, None),
    ],
)
def test_only_an_exporter_turns_tracing_on(environ: dict[str, str], expected: str | None) -> None:
    assert tracing.wanted(environ) == expected


def test_an_unsupported_exporter_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="OTEL_TRACES_EXPORTER"):
        tracing.wanted({"OTEL_TRACES_EXPORTER": "zipkin"})


def test_off_means_nothing_is_installed() -> None:
    assert tracing.configure("router", environ={}) is None
    assert not tracing.enabled()
    assert tracing.kafka_middlewares() == []
    assert tracing.current_ids() == {}


def _record(headers: dict[str, str] | None) -> SimpleNamespace:
    return SimpleNamespace(headers=[(k, v.encode()) for k, v in (headers or {}).items()], topic="t")


def _traceparent(tracer: trace.Tracer) -> dict[str, str]:
    carrier: dict[str, str] = {}
    with tracer.start_as_current_span("publish"):
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        TraceContextTextMapPropagator().inject(carrier)
    return carrier


def test_batch_parent_only_when_every_record_shares_one_trace() -> None:
    tracer = TracerProvider().get_tracer("test")
    one, other = _traceparent(tracer), _traceparent(tracer)
    parent, links = tracing.batch_parent([_record(one), _record(one)])
    assert parent is not None and len(links) == 1
    span_context = trace.get_current_span(parent).get_span_context()
    assert f"{span_context.trace_id:032x}" == one["traceparent"].split("-")[1]

    parent, links = tracing.batch_parent([_record(one), _record(other)])
    assert parent is None and len(links) == 2, "mixed traces: links, no parent"
    parent, links = tracing.batch_parent([_record(one), _record(None)])
    assert parent is None and len(links) == 1, "an untraced record: no single trace"
    assert tracing.batch_parent([_record(None)]) == (None, [])
