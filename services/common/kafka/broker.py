"""The broker factory every service uses.

FastStream's defaults are at-most-once for consumers (``AckPolicy.ACK_FIRST`` commits before the handler
runs) and a non-idempotent producer. Here: the producer is idempotent with ``acks=all``; consumers are
registered through :func:`durable_subscriber`, which commits explicit offsets after the handler
succeeded. Type application is off: durable subscribers decode and validate the payload themselves, so
that one bad record goes to the dead-letter topic instead of failing its whole batch.

Every broker carries FastStream's Prometheus middleware (``faststream_*`` metrics on the process's
registry, served at /metrics) and, when tracing is on (:mod:`services.common.tracing`), its
OpenTelemetry middleware; the caller's ``middlewares`` come after them. FastStream logs through the
root logger (so its lines are JSON like ours, services.common.logs), its per-message lines at DEBUG.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import REGISTRY, CollectorRegistry

from services.common import tracing
from services.common.settings import ServiceSettings


def create_broker(
    settings: ServiceSettings,
    *,
    client_id: str,
    middlewares: Sequence[Any] = (),
    linger_ms: int = 5,
    max_batch_size: int = 512 * 1024,
    metrics_registry: CollectorRegistry | None = REGISTRY,
) -> KafkaBroker:
    """The broker; ``metrics_registry=None`` leaves out the Prometheus middleware."""
    observability: list[Any] = list(tracing.kafka_middlewares())
    if metrics_registry is not None:
        observability.append(KafkaPrometheusMiddleware(registry=metrics_registry, app_name=client_id))
    return KafkaBroker(
        settings.kafka_bootstrap_servers.split(","),
        client_id=client_id,
        apply_types=False,
        enable_idempotence=True,
        acks="all",
        linger_ms=linger_ms,
        max_batch_size=max_batch_size,
        max_request_size=4 * 1024 * 1024,
        request_timeout_ms=30_000,
        # Topics are created explicitly at start-up with their partition counts (see admin.py).
        allow_auto_create_topics=False,
        graceful_timeout=settings.shutdown_grace_seconds,
        middlewares=(*observability, *middlewares),
        # FastStream's default logger has its own coloured stdout handler and logs every batch at INFO.
        logger=logging.getLogger("faststream.kafka"),
        log_level=logging.DEBUG,
    )
