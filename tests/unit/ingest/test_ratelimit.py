from services.ingest.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_the_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=2.0, burst=3, clock=clock)
    assert [limiter.take("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.take("k")
    assert 0.49 < wait <= 0.5  # one token every half second
    clock.now += 0.5
    assert limiter.take("k") == 0.0
    assert limiter.take("k") > 0


def test_keys_have_their_own_buckets_and_refill_to_the_burst_only() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=1.0, burst=2, clock=clock)
    limiter.take("a")
    limiter.take("a")
    assert limiter.take("a") > 0
    assert limiter.take("b") == 0.0
    clock.now += 3600
    assert [limiter.take("a") for _ in range(3)][2] > 0  # an hour's rest is still only a burst of 2


def test_the_table_of_keys_is_bounded() -> None:
    limiter = RateLimiter(rate=1.0, burst=1, clock=Clock(), max_keys=10)
    for n in range(100):
        limiter.take(f"key-{n}")
    assert len(limiter._buckets) == 10
