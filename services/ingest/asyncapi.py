"""The ingest service's AsyncAPI document: what it publishes (it consumes nothing).

Ingest writes Kafka through its outbox relay (a plain producer, see relay.py), not through FastStream
publishers, so its channels are declared here for the document: one per outbox topic of
:func:`services.ingest.relay.topic_names`, with the contract each carries. A topic the relay gains
without a contract here stops the document from being built (and CI with it).

    faststream docs gen --factory services.ingest.asyncapi:asyncapi_app --yaml
    python -m services.ops.apidocs          (writes docs/api/, what CI compares with the code)
"""

from __future__ import annotations

from typing import Any

from faststream import FastStream

from services.common import asyncapi
from services.common.contracts import EmploymentEvent, LineEvent, NoticeSubmitted

from .relay import topic_names
from .settings import IngestSettings

DESCRIPTION = """\
Every way into the system: the government's employment feed (JSON batches, CSV extracts), staff
notices and LINE webhooks (HTTP, see docs/api/openapi/ingest.json). What it accepts is recorded in a
transactional outbox in PostgreSQL first, then published in acceptance order by one relay (idempotent
producer, acks=all); re-sent inputs keep their event ids, so consumers recognise duplicates."""

#: Outbox topic (relay.topic_names) -> the contract of its records and what they are.
CONTRACTS: dict[str, tuple[Any, str]] = {
    "employment": (
        EmploymentEvent,
        "Employment facts from the government feed (WorkerHired, WorkerSeparated, "
        "ResidenceStatusChanged), keyed by worker_id (an HMAC of the residence card number; the "
        "number itself never leaves ingest).",
    ),
    "line_events": (
        LineEvent,
        "LINE webhook events (follow, unfollow, message, postback), keyed by the LINE user id, in the "
        "order LINE sent them; typed residence card numbers arrive only as keyed hashes.",
    ),
    "notices": (
        NoticeSubmitted,
        "Staff notices as accepted (text, audience after the key's city scope, priority, send_at), "
        "keyed by notice_id.",
    ),
}


def asyncapi_app() -> FastStream:
    settings = asyncapi.documentation_settings(
        IngestSettings,
        worker_id_pepper=asyncapi.PLACEHOLDER_SECRET,
        line_channel_secret=asyncapi.PLACEHOLDER_SECRET,
    )
    runtime = asyncapi.documentation_runtime(settings, component="ingest")
    topics = topic_names(settings.topics)
    missing = sorted(set(topics) - set(CONTRACTS))
    if missing:
        raise LookupError(f"outbox topic(s) {', '.join(missing)} have no contract in {__name__}.CONTRACTS")
    asyncapi.declare_publishers(
        runtime.broker,
        [asyncapi.Publishes(topics[kind], *CONTRACTS[kind]) for kind in topics],
    )
    return asyncapi.asyncapi_app(runtime.broker, title="Gunma Model ingest", description=DESCRIPTION)
