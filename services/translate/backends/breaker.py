"""A small circuit breaker per backend (closed → open → half-open → closed).

After ``failure_threshold`` consecutive failed calls the circuit opens and calls fail at once with
:class:`BackendUnavailable` for ``reset_seconds``; then one trial call is let through (half-open): its
success closes the circuit, its failure opens it again. ``trip`` opens it for a given time (a
provider that said its quota is used up is not asked again for an hour).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import IntEnum

from services.translate import metrics


class State(IntEnum):
    CLOSED = 0
    OPEN = 1
    HALF_OPEN = 2


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 5,
        reset_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_seconds = reset_seconds
        self._clock = clock
        self._failures = 0
        self._open_until = 0.0
        self._state = State.CLOSED
        self._trial_in_flight = False
        self._publish()

    @property
    def state(self) -> State:
        if self._state is State.OPEN and self._clock() >= self._open_until:
            return State.HALF_OPEN
        return self._state

    def retry_in(self) -> float:
        """Seconds until a call may be tried again (0 when it may now)."""
        return max(0.0, self._open_until - self._clock()) if self._state is State.OPEN else 0.0

    def allow(self) -> bool:
        """May a call go out now? In half-open state only one trial at a time."""
        state = self.state
        if state is State.CLOSED:
            return True
        if state is State.OPEN:
            return False
        if self._trial_in_flight:
            return False
        self._state = State.HALF_OPEN
        self._trial_in_flight = True
        self._publish()
        return True

    def record_success(self) -> None:
        self._failures = 0
        self._trial_in_flight = False
        self._state = State.CLOSED
        self._publish()

    def record_failure(self) -> None:
        self._trial_in_flight = False
        self._failures += 1
        if self._state is State.HALF_OPEN or self._failures >= self.failure_threshold:
            self._open(self.reset_seconds)

    def trip(self, seconds: float) -> None:
        """Open for ``seconds`` whatever the count (quota exhausted)."""
        self._trial_in_flight = False
        self._open(seconds)

    def _open(self, seconds: float) -> None:
        self._state = State.OPEN
        self._open_until = self._clock() + seconds
        self._publish()

    def _publish(self) -> None:
        metrics.BREAKER_STATE.labels(self.name).set(int(self._state))
