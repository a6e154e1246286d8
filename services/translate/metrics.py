"""Prometheus metrics of the translate service (served at /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

ENGINE_CALLS = Counter(
    "gunma_translate_engine_calls_total",
    "Calls to a machine translation engine (one per notice, language and hop that the memory missed)",
    ["backend", "outcome"],
)
ENGINE_REQUESTS = Counter(
    "gunma_translate_engine_requests_total",
    "HTTP requests to a machine translation engine, by HTTP status class or error",
    ["backend", "result"],
)
ENGINE_SECONDS = Histogram(
    "gunma_translate_engine_seconds",
    "Duration of one engine call (all its requests and retries)",
    ["backend"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
CHARACTERS = Counter(
    "gunma_translate_characters_total", "Characters sent to a machine translation engine", ["backend"]
)
BUDGET_REMAINING = Gauge(
    "gunma_translate_budget_remaining_characters",
    "Characters left in this month's budget of a backend (shared by replicas)",
    ["backend"],
)
BUDGET_USED = Gauge(
    "gunma_translate_budget_used_characters",
    "Characters used this month by a backend (shared by replicas)",
    ["backend"],
)
BUDGET_EXHAUSTED = Counter(
    "gunma_translate_budget_exhausted_total",
    "Engine calls refused because the monthly budget or the provider's quota was used up",
    ["backend", "by"],
)
BREAKER_STATE = Gauge(
    "gunma_translate_breaker_state", "Circuit breaker per backend: 0 closed, 1 open, 2 half-open", ["backend"]
)
TRANSLATIONS = Counter(
    "gunma_translate_translations_total",
    "Translations of a (notice, language) stored, by where the text came from",
    ["source"],
)
MEMORY = Counter(
    "gunma_translate_memory_segments_total", "Segments looked up in the translation memory", ["result"]
)
TOKENS_MANGLED = Counter(
    "gunma_translate_tokens_mangled_total",
    "Engine outputs rejected because a placeholder or glossary term did not survive",
    ["backend"],
)
BATCHES = Counter(
    "gunma_translate_batches_total", "DeliveryReady published, by translation source", ["source"]
)
TRUNCATED = Counter(
    "gunma_translate_truncated_total", "Batches whose text did not fit into 5 LINE messages and was cut"
)
UNFILLED = Counter(
    "gunma_translate_unfilled_placeholders_total", "Placeholders a batch had no value for", ["name"]
)
