"""gunma_sender_quota_*: LINE's monthly quota as last reported, for the dashboard and alerts.

A small aiohttp server plays LINE's two quota endpoints; the SDK client reads them as in production.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from prometheus_client import REGISTRY

from services.sender import metrics
from services.sender.domain.decisions import QuotaStatus
from services.sender.line_api import LineApi, LineUnavailable
from services.sender.quota_sampler import sample_quota


def gauge(name: str) -> float:
    value = REGISTRY.get_sample_value(name)
    assert value is not None, name
    return value


def test_record_quota_limited_and_unlimited() -> None:
    metrics.record_quota(QuotaStatus(limited=True, limit=15000, used=14000))
    assert gauge("gunma_sender_quota_remaining") == 1000
    assert gauge("gunma_sender_quota_limit") == 15000
    assert gauge("gunma_sender_quota_used") == 14000
    metrics.record_quota(QuotaStatus(limited=True, limit=15000, used=16000))
    assert gauge("gunma_sender_quota_remaining") == 0, "never negative"
    metrics.record_quota(QuotaStatus(limited=False, limit=None, used=52))
    assert math.isinf(gauge("gunma_sender_quota_remaining")), "no limit: +Inf, so 'remaining < N' never fires"
    assert math.isinf(gauge("gunma_sender_quota_limit"))
    assert gauge("gunma_sender_quota_used") == 52


@pytest.fixture
async def line() -> AsyncIterator[dict[str, Any]]:
    """LINE's quota endpoints; ``state`` changes what they answer."""
    state: dict[str, Any] = {
        "quota": {"type": "limited", "value": 5000},
        "used": 1200,
        "status": 200,
        "calls": 0,
    }

    async def quota(request: web.Request) -> web.Response:
        assert request.headers["Authorization"] == "Bearer token"
        state["calls"] += 1
        if state["status"] != 200:
            return web.json_response({"message": "down"}, status=state["status"])
        return web.json_response(state["quota"])

    async def consumption(_: web.Request) -> web.Response:
        return web.json_response({"totalUsage": state["used"]})

    app = web.Application()
    app.router.add_get("/v2/bot/message/quota", quota)
    app.router.add_get("/v2/bot/message/quota/consumption", consumption)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    api = LineApi(base_url=f"http://127.0.0.1:{port}", access_token="token", timeout=2, connections=2)
    await api.start()
    state["api"] = api
    try:
        yield state
    finally:
        await api.close()
        await runner.cleanup()


async def test_every_quota_read_updates_the_gauges(line: dict[str, Any]) -> None:
    api: LineApi = line["api"]
    status = await api.quota()
    assert status == QuotaStatus(limited=True, limit=5000, used=1200)
    assert gauge("gunma_sender_quota_remaining") == 3800
    line["quota"], line["used"] = {"type": "none"}, 7
    await api.quota()
    assert math.isinf(gauge("gunma_sender_quota_remaining")) and gauge("gunma_sender_quota_used") == 7


async def test_the_sampler_reads_periodically_and_survives_failures(line: dict[str, Any]) -> None:
    api: LineApi = line["api"]
    sleeps: list[float] = []
    line["status"] = 500

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 1:  # LINE answered 500 first: recovers on the next round
            line["status"] = 200
            line["used"] = 4999
        if len(sleeps) == 3:
            raise asyncio.CancelledError

    metrics.record_quota(QuotaStatus(limited=True, limit=5000, used=0))
    with pytest.raises(asyncio.CancelledError):
        await sample_quota(api, 600, sleep=sleep)
    assert sleeps == [600, 600, 600] and line["calls"] == 3
    assert gauge("gunma_sender_quota_remaining") == 1
    line["status"] = 503
    with pytest.raises(LineUnavailable):
        await api.quota()
    assert gauge("gunma_sender_quota_remaining") == 1, "a failed read leaves the last report"
