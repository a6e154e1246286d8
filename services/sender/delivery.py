"""Sending one batch through LINE: rate budget, retries within a bounded time, the quota gate.

The loop per batch (``Deliverer.deliver``):

1. choose the endpoint (reply while the token is fresh, push for one recipient, multicast otherwise);
2. wait for the endpoint's token bucket, send with the batch's retry key;
3. 2xx or 409-with-accepted-id: sent. 5xx, timeouts: retry with capped exponential backoff until
   ``give_up_after_seconds``, then failed. Rate-limit 429: everyone pauses, then retry. Monthly-quota 429:
   the gate closes and the batch is *held* (not failed, not committed) until LINE says the quota allows
   sending again. Other 4xx: failed, no retry.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from services.common.contracts import DeliveryReady, DeliveryStatus, SendMode

from . import metrics
from .domain.classify import Answer, Verdict, classify, error_text, may_have_been_accepted
from .domain.decisions import Endpoint, choose_endpoint
from .domain.retry_keys import retry_key_for
from .domain.token_bucket import RateBudget, TokenBucket
from .line_api import InvalidMessages, LineApi, LineUnavailable
from .settings import SenderSettings

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Outcome:
    """What happened to one batch. ``held`` batches have no outcome yet (monthly quota exhausted)."""

    status: DeliveryStatus | None
    endpoint: Endpoint
    request_id: str | None = None
    http_status: int | None = None
    error: str | None = None
    attempts: int = 0
    unreachable: tuple[str, ...] = ()
    #: an attempt may have been accepted by LINE although no success was seen
    in_doubt: bool = False
    #: why a failed batch failed, for the DLQ header (delivery_failed, gave_up, quota, outcome_unknown...)
    failure_kind: str = ""

    @property
    def held(self) -> bool:
        return self.status is None

    @property
    def mode(self) -> SendMode:
        return self.endpoint.mode


class QuotaGate:
    """Closed while LINE's monthly quota is exhausted: nobody sends, someone probes now and then."""

    def __init__(self, api: LineApi, *, probe_seconds: float, clock: Callable[[], float] = time.monotonic):
        self._api = api
        self._probe_seconds = probe_seconds
        self._clock = clock
        self._closed_at: float | None = None
        self._probed_at = 0.0
        self._lock = asyncio.Lock()

    @property
    def closed(self) -> bool:
        return self._closed_at is not None

    def close(self, reason: str) -> None:
        if self._closed_at is None:
            self._closed_at = self._probed_at = self._clock()
            metrics.QUOTA_EXHAUSTED.set(1)
            log.error("LINE monthly message quota reached: sending stops", extra={"reason": reason})

    def reopen(self) -> None:
        if self._closed_at is not None:
            log.warning("LINE monthly quota allows sending again")
        self._closed_at = None
        metrics.QUOTA_EXHAUSTED.set(0)

    async def is_open(self) -> bool:
        """True when sending may go on; while closed, asks LINE at most once per probe interval."""
        if self._closed_at is None:
            return True
        async with self._lock:
            if self._closed_at is None:
                return True
            if self._clock() - self._probed_at < self._probe_seconds:
                return False
            self._probed_at = self._clock()
            try:
                quota = await self._api.quota()
            except LineUnavailable as error:
                log.warning("quota probe failed", extra={"error": str(error)})
                return False
            remaining = quota.remaining
            if remaining is None or remaining > 0:
                self.reopen()
                return True
            return False


@dataclass(slots=True)
class _Crash:
    """TEST ONLY: kill -9 the process at the Nth acceptance (see SenderSettings.test_sigkill_*)."""

    after_accepted: int = 0
    accepted: int = field(default=0)

    def on_accepted(self) -> None:
        if not self.after_accepted:
            return
        self.accepted += 1
        if self.accepted >= self.after_accepted:
            log.error("TEST: SIGKILL after LINE accepted a request (test_sigkill_after_accepted)")
            os.kill(os.getpid(), signal.SIGKILL)


class Deliverer:
    def __init__(
        self,
        api: LineApi,
        settings: SenderSettings,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.api = api
        self.settings = settings
        self._now = now
        self._sleep = sleep
        self.gate = QuotaGate(api, probe_seconds=settings.quota_probe_seconds)
        self._in_flight = asyncio.Semaphore(settings.max_in_flight)
        self._buckets: dict[Endpoint, TokenBucket | None] = {
            Endpoint.MULTICAST: self._bucket(settings.rate_multicast_per_second),
            Endpoint.PUSH: self._bucket(settings.rate_push_per_second),
            Endpoint.REPLY: self._bucket(settings.rate_reply_per_second),
        }
        self._crash = _Crash(settings.test_sigkill_after_accepted)
        self._rate_limited_streak = 0

    def _bucket(self, channel_rate: float) -> TokenBucket | None:
        if not self.settings.rate_limits_enabled:
            return None
        budget = RateBudget.share(
            channel_rate, replicas=self.settings.replicas, burst_seconds=self.settings.rate_burst_seconds
        )
        return budget.bucket()

    def _backoff(self, attempt: int) -> float:
        cap = min(
            self.settings.retry_max_seconds, self.settings.retry_initial_seconds * 2 ** min(attempt, 16)
        )
        return random.uniform(cap / 2, cap)  # noqa: S311 - jitter

    async def deliver(self, ready: DeliveryReady, *, attempted_before: bool = False) -> Outcome:
        """Send one batch until it is sent, failed or held. ``attempted_before``: a record shows an
        earlier attempt (maybe by a process that crashed) whose outcome is unknown."""
        endpoint = choose_endpoint(
            ready, self._now(), reply_margin=timedelta(seconds=self.settings.reply_margin_seconds)
        )
        retry_key = str(retry_key_for(ready.batch_id))
        started = time.monotonic()
        deadline = started + self.settings.give_up_after_seconds
        attempts = 0
        in_doubt = False
        # For a reply, an earlier attempt that may have been accepted used the (single-use) token.
        reply_maybe_used = attempted_before
        last: Answer | None = None
        while True:
            async with self._in_flight:
                bucket = self._buckets[endpoint]
                if bucket is not None:
                    waited = await bucket.acquire()
                    if waited:
                        metrics.RATE_WAIT.labels(endpoint.value).inc(waited)
                # Checked after waiting: the gate may have closed meanwhile, and then nobody sends.
                if not await self.gate.is_open():
                    return Outcome(None, endpoint, attempts=attempts, in_doubt=in_doubt or attempted_before)
                attempts += 1
                try:
                    answer = await self._send(endpoint, ready, retry_key)
                except InvalidMessages as error:
                    return Outcome(
                        DeliveryStatus.FAILED,
                        endpoint,
                        error=f"invalid messages: {error}"[:2000],
                        attempts=attempts,
                        failure_kind="invalid_messages",
                    )
            last = answer
            verdict = classify(answer)
            metrics.REQUESTS.labels(endpoint.value, verdict.value).inc()
            if verdict is Verdict.ACCEPTED:
                self._crash.on_accepted()
                self._rate_limited_streak = 0
                metrics.RECIPIENTS.labels(endpoint.value).inc(len(ready.recipients))
                return Outcome(
                    DeliveryStatus.SENT, endpoint, answer.request_id, answer.status, attempts=attempts
                )
            if verdict is Verdict.ALREADY_ACCEPTED:
                log.info(
                    "LINE had already accepted this batch (409): not sent again",
                    extra={"batch_id": ready.batch_id, "accepted_request_id": answer.accepted_request_id},
                )
                return Outcome(
                    DeliveryStatus.SENT,
                    endpoint,
                    answer.accepted_request_id,
                    answer.status,
                    error="already accepted by LINE (409): delivered by an earlier attempt",
                    attempts=attempts,
                )
            if verdict is Verdict.QUOTA_EXHAUSTED:
                self.gate.close(error_text(answer))
                return Outcome(None, endpoint, attempts=attempts, in_doubt=in_doubt or attempted_before)
            if verdict is Verdict.INVALID_REPLY_TOKEN:
                if reply_maybe_used:
                    # Our own earlier attempt most likely used the single-use token: sending again by push
                    # would deliver twice. Reported as sent, with the doubt spelled out.
                    return Outcome(
                        DeliveryStatus.SENT,
                        endpoint,
                        None,
                        answer.status,
                        error="reply token already used, most likely by an earlier attempt of this batch",
                        attempts=attempts,
                    )
                log.info("reply token no longer valid: pushing instead", extra={"batch_id": ready.batch_id})
                endpoint = Endpoint.PUSH
                continue
            if verdict is Verdict.PERMANENT:
                unreachable = self._unreachable(endpoint, ready, answer)
                return Outcome(
                    DeliveryStatus.FAILED,
                    endpoint,
                    answer.request_id,
                    answer.status,
                    error=error_text(answer),
                    attempts=attempts,
                    unreachable=unreachable,
                    failure_kind="rejected",
                )
            # RETRY or RATE_LIMITED
            if may_have_been_accepted(answer):
                in_doubt = True
                if endpoint is Endpoint.REPLY:
                    reply_maybe_used = True
            if verdict is Verdict.RATE_LIMITED:
                self._rate_limited_streak += 1
                pause = min(
                    self.settings.retry_max_seconds,
                    self.settings.rate_limited_pause_seconds * 2 ** min(self._rate_limited_streak - 1, 6),
                )
                bucket = self._buckets[endpoint]
                if bucket is not None:
                    bucket.pause(pause)
                delay = pause if bucket is None else 0.0
            else:
                delay = self._backoff(attempts)
            if time.monotonic() + delay > deadline:
                metrics.GAVE_UP.labels(endpoint.value).inc()
                return Outcome(
                    DeliveryStatus.FAILED,
                    endpoint,
                    answer.request_id,
                    answer.status,
                    error=(
                        f"gave up after {attempts} attempts in {time.monotonic() - started:.0f} s; "
                        f"last: {error_text(last)}"
                    )[:2000],
                    attempts=attempts,
                    in_doubt=in_doubt,
                    failure_kind="gave_up",
                )
            if delay:
                await self._sleep(delay)

    async def _send(self, endpoint: Endpoint, ready: DeliveryReady, retry_key: str) -> Answer:
        started = time.perf_counter()
        try:
            if endpoint is Endpoint.REPLY:
                assert ready.reply_token is not None  # choose_endpoint checked it
                return await self.api.reply(ready.reply_token, ready.messages, batch_id=ready.batch_id)
            if endpoint is Endpoint.PUSH:
                return await self.api.push(
                    ready.recipients[0], ready.messages, retry_key=retry_key, batch_id=ready.batch_id
                )
            return await self.api.multicast(
                ready.recipients, ready.messages, retry_key=retry_key, batch_id=ready.batch_id
            )
        finally:
            metrics.LATENCY.labels(endpoint.value).observe(time.perf_counter() - started)

    @staticmethod
    def _unreachable(endpoint: Endpoint, ready: DeliveryReady, answer: Answer) -> tuple[str, ...]:
        """A push LINE refused because of its recipient: that user cannot be reached."""
        if endpoint is Endpoint.PUSH and answer.status in (400, 403) and '"to"' in answer.body:
            return (ready.recipients[0],)
        return ()
