import asyncio
import time

import pytest

from services.sender.domain.token_bucket import RateBudget, TokenBucket


class VirtualTime:
    """A clock that stands still unless the test moves it; sleeping only yields to the other tasks, so
    every reservation happens at the same instant: the worst case for concurrent acquirers."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)


async def test_concurrent_acquirers_get_distinct_slots_at_the_rate() -> None:
    vt = VirtualTime()
    bucket = TokenBucket(rate=200, burst=10, clock=vt.clock, sleep=vt.sleep)
    waits = await asyncio.gather(*(bucket.acquire() for _ in range(1000)))
    # 10 immediately (the burst), then one every 5 ms, each task its own slot, in order of asking.
    assert sum(1 for w in waits if w == 0) == 10
    slots = sorted(waits)
    assert len(set(slots)) == 991  # the burst shares 0; everyone else a distinct slot
    assert slots[-1] == pytest.approx(990 / 200)
    # In any window of 1 s at most rate * 1 s + burst requests start.
    starts = sorted(waits)
    for i, t in enumerate(starts):
        within = sum(1 for s in starts[i:] if s < t + 1.0)
        assert within <= 200 + 10


async def test_real_time_rate_is_kept_under_concurrency() -> None:
    bucket = TokenBucket(rate=1000, burst=5)
    started = time.monotonic()
    stamps: list[float] = []

    async def worker() -> None:
        for _ in range(20):
            await bucket.acquire()
            stamps.append(time.monotonic())

    await asyncio.gather(*(worker() for _ in range(10)))
    elapsed = time.monotonic() - started
    assert len(stamps) == 200
    assert elapsed >= (200 - 5) / 1000 * 0.95  # never faster than the rate allows
    assert elapsed < 2.0


async def test_pause_makes_everyone_wait() -> None:
    vt = VirtualTime()
    bucket = TokenBucket(rate=100, burst=100, clock=vt.clock, sleep=vt.sleep)
    bucket.pause(2.0)
    assert await bucket.acquire() == pytest.approx(2.0)
    vt.now = 3.0
    assert await bucket.acquire() == 0.0


async def test_a_cancelled_waiter_gives_its_token_back() -> None:
    bucket = TokenBucket(rate=10, burst=1)
    await bucket.acquire()  # empties the bucket
    waiter = asyncio.create_task(bucket.acquire())
    await asyncio.sleep(0.01)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    # The cancelled reservation was returned: the next caller waits ~0.1 s, not ~0.2 s.
    assert bucket.reserve() <= 0.1


def test_replicas_share_the_channel_budget() -> None:
    budget = RateBudget.share(200, replicas=4, burst_seconds=0.1)
    assert budget.rate == 50
    assert budget.burst == 5
    assert RateBudget.share(200, replicas=1000, burst_seconds=0.1).burst == 1.0
    with pytest.raises(ValueError, match="replicas"):
        RateBudget.share(200, replicas=0, burst_seconds=0.1)


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="rate"):
        TokenBucket(rate=0, burst=1)
    with pytest.raises(ValueError, match="burst"):
        TokenBucket(rate=1, burst=0.5)
