"""Prometheus metrics of the sender (scraped at /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from .domain.decisions import QuotaStatus

REQUESTS = Counter(
    "gunma_sender_line_requests_total",
    "Requests to the LINE Messaging API by verdict",
    ["endpoint", "verdict"],
)
RECIPIENTS = Counter("gunma_sender_recipients_sent_total", "Recipients in accepted requests", ["endpoint"])
LATENCY = Histogram(
    "gunma_sender_line_request_seconds",
    "Round trip of one LINE request",
    ["endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
RATE_WAIT = Counter(
    "gunma_sender_rate_wait_seconds_total", "Time spent waiting for the rate budget", ["endpoint"]
)
GAVE_UP = Counter(
    "gunma_sender_gave_up_total", "Batches failed after retrying for the bounded time", ["endpoint"]
)
BATCHES = Counter("gunma_sender_batches_total", "Batches by final status", ["status", "mode"])
HELD = Counter("gunma_sender_batches_held_total", "Batch attempts held back by the exhausted monthly quota")
#: Alert on this: 1 while LINE's monthly message quota is exhausted and nothing can be sent.
QUOTA_EXHAUSTED = Gauge("gunma_sender_quota_exhausted", "1 while LINE's monthly quota is exhausted")
#: LINE's monthly message quota as last reported (GET /v2/bot/message/quota and /quota/consumption, read
#: every ``quota_sample_seconds`` and whenever the sender checks it); +Inf when the channel has no limit.
QUOTA_REMAINING = Gauge("gunma_sender_quota_remaining", "LINE monthly messages left, as last reported")
QUOTA_LIMIT = Gauge("gunma_sender_quota_limit", "LINE monthly message limit, as last reported")
QUOTA_USED = Gauge("gunma_sender_quota_used", "LINE messages counted this month, as last reported")


def record_quota(quota: QuotaStatus) -> None:
    remaining = quota.remaining
    QUOTA_REMAINING.set(float("inf") if remaining is None else remaining)
    QUOTA_LIMIT.set(float("inf") if not quota.limited or quota.limit is None else quota.limit)
    QUOTA_USED.set(quota.used)


NOTICES_REFUSED = Counter(
    "gunma_sender_notices_refused_total", "Large notices refused because the quota cannot carry them"
)
OUTCOME_UNKNOWN = Counter(
    "gunma_sender_outcome_unknown_total",
    "Batches not resent because LINE may have accepted them more than the retry-key window ago",
)
PHASE = Histogram(
    "gunma_sender_poll_phase_seconds",
    "Time per phase of handling one consumed poll",
    ["phase"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
