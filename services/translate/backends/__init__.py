"""Machine translation engines over HTTP (httpx), and what makes them safe to depend on.

Each backend turns a list of texts into their translations with one HTTP request and classifies
every failure (retry later, quota exhausted, request rejected). :class:`~.engine.Engine` adds what all
of them need: chunking to the provider's limits, retries with backoff (tenacity), a circuit breaker,
the monthly character budget and metrics.
"""

from .base import (
    Backend,
    BackendError,
    BackendUnavailable,
    QuotaExhausted,
    RequestRejected,
    RetryableError,
)

__all__ = [
    "Backend",
    "BackendError",
    "BackendUnavailable",
    "QuotaExhausted",
    "RequestRejected",
    "RetryableError",
]
