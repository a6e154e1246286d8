"""A backend made dependable: routes, chunking, retries, circuit breaker, budget and metrics."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

from services.translate import metrics
from services.translate.budget import BudgetStore

from .base import Backend, BackendError, BackendUnavailable, QuotaExhausted, RequestRejected, RetryableError
from .breaker import CircuitBreaker

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 4
    initial_seconds: float = 0.5
    max_seconds: float = 8.0


def chunks(texts: Sequence[str], *, max_texts: int, max_chars: int) -> list[list[int]]:
    """Indexes of ``texts`` grouped into requests within the provider's count and size limits."""
    groups: list[list[int]] = []
    current: list[int] = []
    size = 0
    for index, text in enumerate(texts):
        if current and (len(current) >= max_texts or size + len(text) > max_chars):
            groups.append(current)
            current, size = [], 0
        current.append(index)
        size += len(text)
    if current:
        groups.append(current)
    return groups


def shortest_route(pairs: set[tuple[str, str]], source: str, target: str) -> list[tuple[str, str]] | None:
    """The fewest hops from ``source`` to ``target`` over direct pairs (breadth-first)."""
    if (source, target) in pairs:
        return [(source, target)]
    previous: dict[str, str] = {source: source}
    queue = deque([source])
    while queue:
        here = queue.popleft()
        for a, b in sorted(pairs):
            if a == here and b not in previous:
                previous[b] = here
                if b == target:
                    route: list[tuple[str, str]] = []
                    node = target
                    while node != source:
                        route.append((previous[node], node))
                        node = previous[node]
                    return list(reversed(route))
                queue.append(b)
    return None


class Engine:
    def __init__(
        self,
        backend: Backend,
        *,
        breaker: CircuitBreaker,
        budget: BudgetStore | None,
        retry: RetryPolicy = RetryPolicy(),
        concurrency: int = 4,
        quota_cooldown_seconds: float = 3600.0,
    ) -> None:
        self.backend = backend
        self.breaker = breaker
        self.budget = budget
        self.retry = retry
        self.quota_cooldown_seconds = quota_cooldown_seconds
        self._semaphore = asyncio.Semaphore(concurrency)
        self._backoff = wait_exponential_jitter(
            multiplier=retry.initial_seconds, max=retry.max_seconds, jitter=retry.initial_seconds
        )

    @property
    def name(self) -> str:
        return self.backend.name

    async def route(self, source: str, target: str) -> list[tuple[str, str]] | None:
        """The hops from ``source`` to ``target`` with this backend, or None if it cannot."""
        if not (self.backend.supports(source) and self.backend.supports(target)):
            return None
        try:
            pairs = await self.backend.pairs()
        except httpx.TransportError as error:
            raise RetryableError(self.name, f"{type(error).__name__} while listing pairs") from error
        if pairs is None:
            return [(source, target)]
        return shortest_route(pairs, source, target)

    async def translate(self, texts: Sequence[str], source: str, target: str) -> list[str]:
        """Translate ``texts``; raises a :class:`BackendError` subclass when it cannot."""
        if not texts:
            return []
        if not self.breaker.allow():
            metrics.ENGINE_CALLS.labels(self.name, "unavailable").inc()
            raise BackendUnavailable(
                self.name, f"circuit open for another {self.breaker.retry_in():.0f} s after repeated failures"
            )
        started = time.perf_counter()
        groups = chunks(texts, max_texts=self.backend.max_texts, max_chars=self.backend.max_chars)
        try:
            results = await asyncio.gather(
                *(self._chunk([texts[i] for i in group], source, target) for group in groups)
            )
        except QuotaExhausted as error:
            metrics.ENGINE_CALLS.labels(self.name, "quota").inc()
            if error.status is not None:  # the provider's quota, not our own budget
                self.breaker.trip(self.quota_cooldown_seconds)
                if self.budget is not None:
                    await self.budget.exhaust(self.name)
                log.error("backend quota exhausted", extra={"backend": self.name, "error": str(error)})
            else:
                self.breaker.record_success()  # the backend is fine; we chose not to spend
            metrics.BUDGET_EXHAUSTED.labels(self.name, "provider" if error.status else "budget").inc()
            raise
        except RequestRejected as error:
            metrics.ENGINE_CALLS.labels(self.name, "rejected").inc()
            if error.status in (401, 403):
                self.breaker.record_failure()  # a bad key fails every call: stop asking
            else:
                self.breaker.record_success()
            raise
        except BackendError:
            metrics.ENGINE_CALLS.labels(self.name, "failed").inc()
            self.breaker.record_failure()
            raise
        finally:
            metrics.ENGINE_SECONDS.labels(self.name).observe(time.perf_counter() - started)
        self.breaker.record_success()
        metrics.ENGINE_CALLS.labels(self.name, "ok").inc()
        out: list[str] = [""] * len(texts)
        for group, translated in zip(groups, results, strict=True):
            for index, text in zip(group, translated, strict=True):
                out[index] = text
        return out

    async def _chunk(self, texts: list[str], source: str, target: str) -> list[str]:
        async with self._semaphore:
            characters = sum(len(t) for t in texts)
            month: date | None = None
            if self.budget is not None:
                month = await self.budget.reserve(self.name, characters)
                if month is None:
                    raise QuotaExhausted(
                        self.name, f"monthly budget of {self.budget.limit(self.name)} characters used up"
                    )
            try:
                translated = await self._with_retries(texts, source, target)
            except BaseException:
                if self.budget is not None and month is not None:
                    await asyncio.shield(self.budget.release(self.name, month, characters))
                raise
            metrics.CHARACTERS.labels(self.name).inc(characters)
            return translated

    def _wait(self, state: RetryCallState) -> float:
        backoff = self._backoff(state)
        error = state.outcome.exception() if state.outcome else None
        hinted = getattr(error, "retry_after", None)
        if isinstance(hinted, int | float):
            return float(min(self.retry.max_seconds, max(backoff, hinted)))
        return float(backoff)

    async def _with_retries(self, texts: list[str], source: str, target: str) -> list[str]:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.retry.attempts),
            wait=self._wait,
            retry=retry_if_exception_type(RetryableError),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                try:
                    result = await self.backend.request(texts, source, target)
                except httpx.TimeoutException as error:
                    metrics.ENGINE_REQUESTS.labels(self.name, "timeout").inc()
                    raise RetryableError(self.name, f"timed out ({type(error).__name__})") from error
                except httpx.TransportError as error:
                    metrics.ENGINE_REQUESTS.labels(self.name, "transport_error").inc()
                    raise RetryableError(self.name, f"{type(error).__name__}: {error}"[:300]) from error
                except BackendError as error:
                    result_label = f"{error.status // 100}xx" if error.status else type(error).__name__
                    metrics.ENGINE_REQUESTS.labels(self.name, result_label).inc()
                    raise
                metrics.ENGINE_REQUESTS.labels(self.name, "2xx").inc()
                return result
        raise AssertionError("unreachable: tenacity reraises the last error")
