"""A token bucket for one LINE endpoint class, correct under asyncio concurrency.

Each ``acquire`` reserves the next free slot and sleeps until it: the balance may go negative, which is
the queue of waiters. Reservations happen synchronously between awaits, so concurrent tasks can never
take the same token, and they are served in the order they asked (no thundering herd). A cancelled
waiter gives its token back.

LINE's limits are per channel and per endpoint class (multicast 200 requests/s, push and reply 2,000/s);
replicas of the sender share them by each taking ``rate / replicas`` (see :class:`RateBudget`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class TokenBucket:
    def __init__(
        self,
        rate: float,
        burst: float,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        if burst < 1:
            raise ValueError("burst must be at least one token")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens = burst
        self._updated = clock()
        self._paused_until = 0.0

    def _refill(self, now: float) -> None:
        if now > self._updated:
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now

    def reserve(self, tokens: float = 1.0) -> float:
        """Take ``tokens`` now; return how long the caller must wait before using them."""
        now = self._clock()
        self._refill(now)
        self._tokens -= tokens
        wait = 0.0 if self._tokens >= 0 else -self._tokens / self.rate
        return max(wait, self._paused_until - now)

    def give_back(self, tokens: float = 1.0) -> None:
        self._tokens = min(self.burst, self._tokens + tokens)

    async def acquire(self, tokens: float = 1.0) -> float:
        """Wait for ``tokens``; return the time waited (seconds)."""
        wait = self.reserve(tokens)
        if wait > 0:
            try:
                await self._sleep(wait)
            except asyncio.CancelledError:
                self.give_back(tokens)
                raise
        return wait

    def pause(self, seconds: float) -> None:
        """Nobody gets a token for ``seconds`` (LINE answered 429: everyone backs off, not just one)."""
        until = self._clock() + seconds
        self._paused_until = max(self._paused_until, until)
        self._tokens = min(self._tokens, 0.0)

    @property
    def available(self) -> float:
        self._refill(self._clock())
        return self._tokens


@dataclass(frozen=True, slots=True)
class RateBudget:
    """One replica's share of LINE's per-channel rate for an endpoint class."""

    rate: float
    burst: float

    @classmethod
    def share(cls, channel_rate: float, *, replicas: int, burst_seconds: float) -> RateBudget:
        if replicas < 1:
            raise ValueError("replicas must be at least 1")
        rate = channel_rate / replicas
        return cls(rate=rate, burst=max(1.0, rate * burst_seconds))

    def bucket(self, *, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep) -> TokenBucket:
        return TokenBucket(self.rate, self.burst, clock=clock, sleep=sleep)
