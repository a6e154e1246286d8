"""Fault injection and LINE's rate limits, as the sandbox applies them to each send request."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from typing import Any


class Fault(StrEnum):
    NONE = "none"
    RATE_LIMIT = "rate_limit"  # 429, nothing happened
    ERROR_BEFORE = "error_before"  # 500, nothing happened
    ERROR_AFTER = "error_after"  # 500, but the messages were delivered (the answer is wrong)
    TIMEOUT_BEFORE = "timeout_before"  # no answer in time, nothing happened
    TIMEOUT_AFTER = "timeout_after"  # no answer in time, but the messages were delivered


@dataclass
class Faults:
    """What the sandbox does wrong on purpose. Rates are shares of send requests (0..1)."""

    error_rate: float = 0.0
    rate_limit_rate: float = 0.0
    timeout_rate: float = 0.0
    after_accept_share: float = 0.5
    timeout_seconds: float = 30.0
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    monthly_limit: bool = False

    def update(self, changes: dict[str, Any]) -> None:
        known = {f.name: f for f in fields(self)}
        for name, value in changes.items():
            if name not in known:
                raise ValueError(f"unknown fault setting {name!r}")
            if name == "monthly_limit":
                if not isinstance(value, bool):
                    raise ValueError("monthly_limit must be true or false")
            else:
                if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                    raise ValueError(f"{name} must be a number >= 0")
                if name.endswith(("_rate", "_share")) and value > 1:
                    raise ValueError(f"{name} must be between 0 and 1")
            setattr(self, name, float(value) if name != "monthly_limit" else value)
        if self.error_rate + self.rate_limit_rate + self.timeout_rate > 1:
            raise ValueError("error_rate + rate_limit_rate + timeout_rate must not exceed 1")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def draw(self, rng: random.Random) -> Fault:
        roll = rng.random()
        if roll < self.rate_limit_rate:
            return Fault.RATE_LIMIT
        roll -= self.rate_limit_rate
        after = rng.random() < self.after_accept_share
        if roll < self.error_rate:
            return Fault.ERROR_AFTER if after else Fault.ERROR_BEFORE
        roll -= self.error_rate
        if roll < self.timeout_rate:
            return Fault.TIMEOUT_AFTER if after else Fault.TIMEOUT_BEFORE
        return Fault.NONE

    def latency(self, rng: random.Random) -> float:
        """Seconds to add to this request."""
        if not self.latency_ms and not self.latency_jitter_ms:
            return 0.0
        return max(0.0, self.latency_ms + rng.uniform(-1, 1) * self.latency_jitter_ms) / 1000


class RateLimit:
    """LINE's per-endpoint-class limit: a bucket of ``rate * window`` requests, refilled at ``rate``/s.
    Non-blocking: a request that finds it empty is answered 429."""

    def __init__(self, rate: float, window: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate * window)
        self._clock = clock
        self._tokens = self.capacity
        self._updated = clock()

    def try_take(self) -> bool:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False
