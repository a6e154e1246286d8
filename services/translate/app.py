"""Composition root of the translate service: settings, engines, handlers, housekeeping, HTTP routes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from services.common.auth import KeyStore
from services.common.contracts import DeliveryPlanned, NoticeSubmitted
from services.common.http import NO_PUBLIC_DOCS, Check, add_operational_routes
from services.common.kafka import ConsumerPolicy, durable_subscriber
from services.common.problems import Problem, install_problem_handlers
from services.common.runtime import Runtime, running

from .api import ApiContext, build_router
from .backends.apertium import ApertiumBackend
from .backends.base import Backend
from .backends.breaker import CircuitBreaker
from .backends.deepl import DeepLBackend
from .backends.engine import Engine, RetryPolicy
from .backends.google import GoogleBackend
from .backends.libretranslate import LibreTranslateBackend
from .budget import BudgetStore
from .handlers import NoticeHandler, PlannedHandler, purge_loop
from .settings import BackendName, TranslateSettings
from .translator import Translator

log = logging.getLogger(__name__)

USER_AGENT = "gunma-model-translate/0.1"


def http_client(settings: TranslateSettings, base_url: str | None = None) -> httpx.AsyncClient:
    """One client per backend: its own connection pool, timeouts and proxy settings."""
    timeout = httpx.Timeout(settings.request_timeout_seconds, connect=settings.connect_timeout_seconds)
    limits = httpx.Limits(
        max_connections=settings.backend_concurrency * 2,
        max_keepalive_connections=settings.backend_concurrency,
    )
    kwargs: dict[str, Any] = {
        "timeout": timeout,
        "limits": limits,
        "headers": {"User-Agent": USER_AGENT},
        "proxy": settings.proxy,
        "trust_env": settings.trust_env,
    }
    if base_url:
        kwargs["base_url"] = base_url
    return httpx.AsyncClient(**kwargs)


def build_backend(name: BackendName, settings: TranslateSettings, client: httpx.AsyncClient) -> Backend:
    codes = settings.backend_language_codes.get(name)
    if name == "apertium":
        return ApertiumBackend(client, codes=codes)
    if name == "libretranslate":
        key = settings.libretranslate_api_key
        return LibreTranslateBackend(client, api_key=key.get_secret_value() if key else None, codes=codes)
    if name == "deepl":
        assert settings.deepl_auth_key is not None  # checked by the settings
        return DeepLBackend(client, auth_key=settings.deepl_auth_key.get_secret_value(), codes=codes)
    assert settings.google_api_key is not None
    return GoogleBackend(
        client, url=settings.google_url, api_key=settings.google_api_key.get_secret_value(), codes=codes
    )


def _base_url(name: BackendName, settings: TranslateSettings) -> str | None:
    return {
        "apertium": settings.apertium_url,
        "libretranslate": settings.libretranslate_url,
        "deepl": settings.deepl_url,
        "google": None,  # the full URL is used per request
    }[name]


def registration(
    settings: TranslateSettings, clients: dict[str, httpx.AsyncClient], state: dict[str, Any]
) -> Callable[[Runtime], None]:
    """Wires engines, translator and consumers to a runtime (``clients``: one per used backend, filled
    by the lifespan before the runtime starts); the AsyncAPI document (asyncapi.py) runs the same."""

    def register(runtime: Runtime) -> None:
        budget = BudgetStore(
            runtime.pool,
            limits={str(k): v for k, v in settings.monthly_budgets.items()},
            zone=settings.budget_zone,
        )
        engines: dict[str, Engine] = {}
        for name in settings.used_backends():
            engines[name] = Engine(
                build_backend(name, settings, clients[name]),
                breaker=CircuitBreaker(
                    name,
                    failure_threshold=settings.breaker_failures,
                    reset_seconds=settings.breaker_reset_seconds,
                ),
                budget=budget,
                retry=RetryPolicy(
                    attempts=settings.retry_attempts,
                    initial_seconds=settings.retry_initial_seconds,
                    max_seconds=settings.retry_max_seconds,
                ),
                concurrency=settings.backend_concurrency,
                quota_cooldown_seconds=settings.quota_cooldown_seconds,
            )
        translator = Translator(
            runtime.pool,
            engines=engines,
            backend_for=settings.backend_for,
            chains=settings.fallback_chains,
            fallback_retry_seconds=settings.fallback_retry_seconds,
            concurrency=settings.translation_concurrency,
        )
        planned = PlannedHandler(
            pool=runtime.pool,
            translator=translator,
            publisher=runtime.publisher,
            topic=settings.topics.deliveries_ready,
        )
        durable_subscriber(
            runtime.broker,
            topic=settings.topics.deliveries_planned,
            group_id=settings.consumer_group,
            payload=DeliveryPlanned,
            handler=planned,
            dead_letters=runtime.dead_letters(settings.consumer_group),
            policy=ConsumerPolicy(max_records=settings.consumer_max_records),
            title="deliveries.planned",
            description="Batches to render: one DeliveryReady per batch follows, in the batch's language.",
        )
        notices = NoticeHandler(
            pool=runtime.pool,
            translator=translator,
            pretranslate=settings.pretranslate,
            default_languages=settings.pretranslate_languages,
        )
        durable_subscriber(
            runtime.broker,
            topic=settings.topics.notices,
            group_id=settings.notices_consumer_group,
            payload=NoticeSubmitted,
            handler=notices,
            dead_letters=runtime.dead_letters(settings.notices_consumer_group),
            policy=ConsumerPolicy(max_records=50),
            title="notices",
            description="Submitted notices: their text is kept for previews and translated ahead.",
        )
        state["runtime"] = runtime
        state["budget"] = budget
        state["api"] = ApiContext(
            pool=runtime.pool,
            keys=KeyStore(runtime.pool, cache_seconds=settings.api_key_cache_seconds),
            translator=translator,
            engines=engines,
            budget=budget,
            four_eyes=settings.four_eyes,
        )

    return register


def create_app(settings: TranslateSettings) -> FastAPI:
    state: dict[str, Any] = {}
    clients: dict[str, httpx.AsyncClient] = {}

    register = registration(settings, clients, state)

    async def refresh_budgets() -> None:
        budget: BudgetStore = state["budget"]
        while True:
            try:
                await budget.refresh_metrics(list(settings.used_backends()))
            except Exception:  # a metric must never take the service down
                log.warning("budget metrics refresh failed", exc_info=True)
            await asyncio.sleep(60)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        for name in settings.used_backends():
            clients[name] = http_client(settings, _base_url(name, settings))
        tasks: list[asyncio.Task[None]] = []
        try:
            async with running(settings, component="translate", register=register) as runtime:
                tasks.append(asyncio.create_task(refresh_budgets(), name="translate-budgets"))
                tasks.append(
                    asyncio.create_task(
                        purge_loop(runtime.pool, retention_days=settings.rendered_retention_days),
                        name="translate-purge",
                    )
                )
                log.info(
                    "translate ready",
                    extra={"backends": settings.used_backends(), "languages": dict(settings.backends)},
                )
                try:
                    yield
                finally:
                    for task in tasks:
                        task.cancel()
                    for task in tasks:
                        with contextlib.suppress(asyncio.CancelledError):
                            await task
        finally:
            for client in clients.values():
                await client.aclose()

    app = FastAPI(title="Gunma Model translate", lifespan=lifespan, **NO_PUBLIC_DOCS)
    install_problem_handlers(app)

    def api_context() -> ApiContext:
        context = state.get("api")
        if not isinstance(context, ApiContext):
            raise Problem(503, "Starting", "the translate service is not ready yet")
        return context

    app.include_router(build_router(api_context))

    def checks() -> dict[str, Check]:
        runtime: Runtime | None = state.get("runtime")
        if runtime is None:
            return {}
        return runtime.readiness_checks()

    add_operational_routes(app, checks)
    return app
