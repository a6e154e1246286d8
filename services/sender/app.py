"""Composition root of the sender service: settings, infrastructure, handlers and HTTP routes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from services.common.contracts import DeliveryReady
from services.common.http import NO_PUBLIC_DOCS, Check, add_operational_routes
from services.common.kafka import ConsumerPolicy, durable_subscriber
from services.common.runtime import Runtime, running

from .delivery import Deliverer
from .handlers import SendHandler
from .line_api import LineApi
from .quota_sampler import sample_quota
from .settings import SenderSettings


def registration(settings: SenderSettings, api: LineApi, state: dict[str, Any]) -> Callable[[Runtime], None]:
    """Wires the sender's consumer to a runtime; the AsyncAPI document (asyncapi.py) runs the same."""

    def register(runtime: Runtime) -> None:
        state["runtime"] = runtime
        deliverer = Deliverer(api, settings)
        handler = SendHandler(
            settings=settings,
            pool=runtime.pool,
            deliverer=deliverer,
            publisher=runtime.publisher,
            dead_letters=runtime.dead_letters(settings.consumer_group),
        )
        state["handler"] = handler
        # Several members of the group share one handler (and its token buckets): while one records and
        # reports its poll, the others keep sending.
        for _ in range(settings.consumers):
            durable_subscriber(
                runtime.broker,
                topic=settings.topics.deliveries_ready,
                group_id=settings.consumer_group,
                payload=DeliveryReady,
                handler=handler,
                dead_letters=runtime.dead_letters(settings.consumer_group),
                policy=ConsumerPolicy(
                    max_records=settings.consumer_max_records,
                    max_partition_fetch_bytes=settings.consumer_partition_fetch_bytes,
                ),
                title="deliveries.ready",
                description="Rendered LINE messages to send; one DeliveryResult per batch follows.",
            )

    return register


def line_api(settings: SenderSettings) -> LineApi:
    """The LINE client (its session opens in ``start``)."""
    return LineApi(
        base_url=settings.line_api_base_url,
        access_token=settings.line_channel_access_token.get_secret_value(),
        timeout=settings.request_timeout_seconds,
        connections=settings.max_in_flight,
        proxy=settings.line_api_proxy,
        trust_env=settings.line_api_trust_env,
        batch_header=settings.send_batch_header,
    )


def create_app(settings: SenderSettings) -> FastAPI:
    state: dict[str, Any] = {}
    api = line_api(settings)
    register = registration(settings, api, state)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await api.start()  # before the broker starts consuming: handlers need it
        sampler = (
            asyncio.create_task(sample_quota(api, settings.quota_sample_seconds), name="sender-quota")
            if settings.quota_sample_seconds
            else None
        )
        try:
            async with running(settings, component="sender", register=register):
                yield
        finally:
            if sampler is not None:
                sampler.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sampler
            await api.close()

    app = FastAPI(title="Gunma Model sender", lifespan=lifespan, **NO_PUBLIC_DOCS)

    def checks() -> dict[str, Check]:
        runtime: Runtime | None = state.get("runtime")
        if runtime is None:
            return {}
        return runtime.readiness_checks()

    add_operational_routes(app, checks)
    return app
