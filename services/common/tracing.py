"""OpenTelemetry tracing across HTTP and Kafka hops, so one notice can be followed from ingest to LINE.

Off by default, and then free: no tracer provider, no middleware, no instrumentation is installed, and
log lines carry no trace ids. It is turned on with the standard OpenTelemetry variables:

- ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_ENDPOINT`` (OTLP over HTTP/protobuf,
  e.g. ``http://otel-collector:4318``), or ``OTEL_TRACES_EXPORTER=otlp`` / ``console``;
- ``OTEL_SDK_DISABLED=true`` or ``OTEL_TRACES_EXPORTER=none`` keeps it off whatever else is set.

The SDK reads the rest itself: ``OTEL_SERVICE_NAME`` (default ``gunma-<service>``),
``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_TRACES_SAMPLER`` / ``OTEL_TRACES_SAMPLER_ARG``,
``OTEL_EXPORTER_OTLP_HEADERS``, ``OTEL_BSP_*``.

What is traced when on: FastAPI requests (except /healthz, /readyz, /metrics), outgoing httpx and aiohttp
requests (the translation engines, the LINE Messaging API), and every Kafka publish and consume
(FastStream's ``KafkaTelemetryMiddleware``, which propagates W3C ``traceparent`` in record headers).
FastStream starts a new trace for each consumed *batch*, linked to the producers' spans; since our
consumers read batches, :class:`BatchTraceMiddleware` adds a span in the producer's own trace whenever
all the batch's records come from one trace (always true of a batch of one), so the handler's own
publishes continue that trace. Batches that mix traces keep the links.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from faststream import BaseMiddleware
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

if TYPE_CHECKING:
    from fastapi import FastAPI
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

log = logging.getLogger(__name__)

_PROPAGATOR = TraceContextTextMapPropagator()
_EXCLUDED_URLS = "healthz,readyz,metrics"
_INSTRUMENTATION = "services.common.tracing"

_provider: TracerProvider | None = None


def wanted(environ: Mapping[str, str] | None = None) -> str | None:
    """The exporter the environment asks for (``otlp`` or ``console``), or None: tracing stays off."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter in ("none", ""):
        if exporter == "none":
            return None
        endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        return "otlp" if endpoint else None
    first = exporter.split(",")[0].strip()
    if first not in ("otlp", "console"):
        raise ValueError(f"OTEL_TRACES_EXPORTER: {first!r} is not supported here; use otlp, console or none")
    return first


def enabled() -> bool:
    return _provider is not None


def provider() -> TracerProvider | None:
    return _provider


def configure(
    service: str,
    *,
    exporter: SpanExporter | None = None,
    environ: Mapping[str, str] | None = None,
    set_global: bool = True,
    batch: bool = True,
) -> TracerProvider | None:
    """Turn tracing on if the environment (or an explicit ``exporter``, for tests) asks for it.

    Returns the provider, or None when tracing stays off. Call once, before the app and broker exist.
    """
    global _provider
    if _provider is not None:
        return _provider
    kind = "custom" if exporter is not None else wanted(environ)
    if kind is None:
        return None
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        ConsoleSpanExporter,
        SimpleSpanProcessor,
    )

    if exporter is None:
        if kind == "console":
            exporter = ConsoleSpanExporter()
        else:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter()  # endpoint, headers, timeout from OTEL_EXPORTER_OTLP_*
    env = os.environ if environ is None else environ
    resource = Resource.create(
        {SERVICE_NAME: env.get("OTEL_SERVICE_NAME") or f"gunma-{service}", "service.namespace": "gunma"}
    )
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(
        BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
    )
    if set_global:
        trace.set_tracer_provider(tracer_provider)
        _instrument_http_clients(tracer_provider)
    _provider = tracer_provider
    log.info("tracing on", extra={"exporter": kind, "service_name": resource.attributes.get(SERVICE_NAME)})
    return tracer_provider


def shutdown() -> None:
    """Flush and forget the provider (end of process, or of a test)."""
    global _provider
    if _provider is not None:
        _provider.shutdown()
    _provider = None


def _instrument_http_clients(tracer_provider: TracerProvider) -> None:
    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor().instrument(tracer_provider=tracer_provider)
    AioHttpClientInstrumentor().instrument(tracer_provider=tracer_provider)


def instrument_app(app: FastAPI) -> None:
    """Trace the app's requests (health, readiness and metrics excluded); nothing when tracing is off."""
    if _provider is None:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(app, tracer_provider=_provider, excluded_urls=_EXCLUDED_URLS)


def kafka_middlewares() -> list[Any]:
    """FastStream middlewares for the broker: empty when tracing is off."""
    if _provider is None:
        return []
    from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware

    return [KafkaTelemetryMiddleware(tracer_provider=_provider), BatchTraceMiddleware(_provider)]


def current_ids() -> dict[str, str]:
    """``trace_id`` and ``span_id`` of the current span for log lines; empty when off or outside a span."""
    if _provider is None:
        return {}
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return {}
    return {"trace_id": f"{span_context.trace_id:032x}", "span_id": f"{span_context.span_id:016x}"}


def _headers(record: Any) -> dict[str, str]:
    return {
        str(name): (value or b"").decode("latin-1") if isinstance(value, bytes) else str(value)
        for name, value in (getattr(record, "headers", None) or ())
    }


def batch_parent(records: Sequence[Any]) -> tuple[otel_context.Context | None, list[Link]]:
    """The producers' trace context when every record of a batch carries the same trace, plus links.

    Returns (context to parent the batch's span in, or None when the records come from several traces
    or none; one link per distinct producer span).
    """
    contexts: list[otel_context.Context] = []
    trace_ids: set[int] = set()
    links: dict[tuple[int, int], Link] = {}
    for record in records:
        extracted = _PROPAGATOR.extract(_headers(record))
        span_context = trace.get_current_span(extracted).get_span_context()
        if not span_context.is_valid:
            trace_ids.add(0)  # a record without a trace: the batch cannot join one trace
            continue
        contexts.append(extracted)
        trace_ids.add(span_context.trace_id)
        links.setdefault((span_context.trace_id, span_context.span_id), Link(span_context))
    parent = contexts[0] if len(trace_ids) == 1 and contexts else None
    return parent, list(links.values())


class _BatchTraceScope(BaseMiddleware):
    def __init__(self, msg: Any, /, *, context: Any, tracer: trace.Tracer) -> None:
        super().__init__(msg, context=context)
        self._tracer = tracer

    async def consume_scope(self, call_next: Any, msg: Any) -> Any:
        raw = msg.raw_message
        if not isinstance(raw, tuple | list) or not raw:
            return await call_next(msg)  # a single record: FastStream's span already is in its trace
        parent, links = batch_parent(raw)
        batch_span = trace.get_current_span()
        if parent is not None and batch_span.get_span_context().is_valid:
            links.append(Link(batch_span.get_span_context()))
        topic = str(getattr(raw[0], "topic", "?"))
        with self._tracer.start_as_current_span(
            f"{topic} handle",
            context=parent,  # None: a child of FastStream's batch span, which links the producers
            kind=SpanKind.CONSUMER,
            links=links if parent is not None else None,
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": topic,
                "messaging.batch.message_count": len(raw),
            },
        ):
            return await call_next(msg)


class BatchTraceMiddleware:
    """A FastStream middleware: a CONSUMER span per batch, in the producers' trace when there is one.

    Placed after FastStream's telemetry middleware, so its span is current while the handler runs: the
    handler's publishes (and dead letters) carry that trace on to the next topic.
    """

    def __init__(self, tracer_provider: TracerProvider) -> None:
        self._tracer = tracer_provider.get_tracer(_INSTRUMENTATION)

    def __call__(self, msg: Any, /, *, context: Any) -> _BatchTraceScope:
        return _BatchTraceScope(msg, context=context, tracer=self._tracer)
