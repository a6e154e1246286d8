"""Prometheus metrics of the ingest service (served at /metrics)."""

from __future__ import annotations

from typing import Literal

from prometheus_client import Counter, Gauge, Histogram

#: Where an input came in: the JSON feed, a CSV upload, a LINE webhook, a staff notice.
Source = Literal["feed_json", "feed_csv", "line", "notice"]
Outcome = Literal["accepted", "duplicate", "rejected"]

INPUTS = Counter("gunma_ingest_inputs_total", "Inputs received, by source and outcome", ["source", "outcome"])
LINE_IGNORED = Counter(
    "gunma_ingest_line_ignored_total",
    "LINE webhook events acknowledged but not published (event types the system does not use)",
    ["reason"],
)
RATE_LIMITED = Counter(
    "gunma_ingest_rate_limited_total", "Requests refused by the per-key rate limit", ["role"]
)
CSV_UPLOADS = Counter("gunma_ingest_csv_uploads_total", "CSV uploads by how they ended", ["outcome"])
CSV_ROWS_PER_SECOND = Gauge("gunma_ingest_csv_last_rows_per_second", "Rows per second of the last CSV upload")

OUTBOX_BACKLOG = Gauge(
    "gunma_ingest_outbox_backlog", "Accepted events not yet acknowledged by Kafka (approximate)"
)
OUTBOX_OLDEST = Gauge("gunma_ingest_outbox_oldest_seconds", "Age of the oldest event waiting for Kafka")
RELAYED = Counter("gunma_ingest_relayed_total", "Events published to Kafka by the outbox relay", ["topic"])
RELAY_LEADER = Gauge("gunma_ingest_relay_leader", "1 while this process holds the relay lock")
RELAY_FAILURES = Counter("gunma_ingest_relay_failures_total", "Relay rounds that failed and will be retried")
RELAY_RECOVERED = Counter(
    "gunma_ingest_relay_recovered_total",
    "Events of an interrupted relay round found already in Kafka (so not published again)",
)
RELAY_ROUND_SECONDS = Histogram(
    "gunma_ingest_relay_round_seconds",
    "One relay round: read the outbox, publish, await acks=all, delete",
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
RELAY_DELAY_SECONDS = Histogram(
    "gunma_ingest_relay_delay_seconds",
    "From the commit of an event to its acknowledgement by Kafka (oldest event of each round)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)


def count(source: Source, outcome: Outcome, amount: int = 1) -> None:
    if amount:
        INPUTS.labels(source, outcome).inc(amount)
