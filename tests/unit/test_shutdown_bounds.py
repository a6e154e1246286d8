"""A stuck step cannot hang a service's shutdown: every wait on the way out is bounded."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import pytest

from services.common import runtime
from services.common.kafka.lag import LagSampler


class _Stubborn(LagSampler):
    """A sample whose client call loses the cancellation (as asyncio.wait_for could on 3.11)."""

    samples = 0

    async def sample(self) -> dict[Any, int]:
        self.samples += 1
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(10)
        return {}


async def test_a_lag_sampler_that_loses_its_cancellation_still_stops() -> None:
    sampler = _Stubborn(broker=None, interval=0.01, timeout=0.2)  # type: ignore[arg-type]
    sampler.start()
    await asyncio.sleep(0.05)
    task = sampler._task
    started = time.monotonic()
    await sampler.stop()
    assert time.monotonic() - started < 1
    assert task is not None
    await asyncio.wait_for(task, 1)  # and its loop ends by itself at the next turn
    assert sampler.samples == 1


class _Hanging:
    def __init__(self) -> None:
        self.terminated = False

    async def stop(self) -> None:
        await asyncio.sleep(60)

    async def close(self) -> None:
        await asyncio.sleep(60)

    def terminate(self) -> None:
        self.terminated = True


async def test_a_broker_or_pool_that_hangs_is_left_after_its_bound(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(runtime, "STOP_MARGIN_SECONDS", 0.1)
    broker, pool = _Hanging(), _Hanging()
    started = time.monotonic()
    await runtime._bounded_stop(broker, pool, grace=0.1)  # type: ignore[arg-type]
    assert time.monotonic() - started < 1
    assert pool.terminated
    assert "did not stop in time" in caplog.text and "still in use at shutdown" in caplog.text
