"""Composition root of the LINE sandbox: validators, platform state, webhooks, routes.

The sandbox needs neither Kafka nor PostgreSQL: its state is in memory (see :mod:`.inbox` for why that
holds millions of deliveries in little memory), optionally journaled to a file to survive a restart.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.common.http import NO_PUBLIC_DOCS, add_operational_routes
from services.common.problems import Problem, install_problem_handlers, problem_response

from . import api
from .journal import Journal
from .platform import Platform
from .settings import LineSandboxSettings
from .spec import OpenApiDocument
from .validation import RequestValidator
from .webhooks import WebhookError, WebhookSimulator

log = logging.getLogger(__name__)


def create_app(settings: LineSandboxSettings) -> FastAPI:
    # The documents are read and compiled now, so a wrong path stops start-up with a clear message.
    document = OpenApiDocument.load(settings.openapi_spec) if settings.openapi_spec else None
    webhook_document = (
        OpenApiDocument.load(settings.webhook_openapi_spec) if settings.webhook_openapi_spec else None
    )
    if webhook_document is not None:
        webhook_document.validator("CallbackRequest")
    journal = Journal(settings.state_file) if settings.state_file else None
    platform = Platform(settings, RequestValidator(document), journal=journal)
    simulator = WebhookSimulator(platform, settings, document=webhook_document)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if journal is not None:
            restored = platform.restore()
            journal.open()
            log.info("journal replayed", extra={"entries": restored, "path": str(journal.path)})
        # Loopback webhooks must never go through a proxy from the environment.
        async with httpx.AsyncClient(timeout=settings.webhook_timeout_seconds, trust_env=False) as http:
            simulator.http = http
            log.info(
                "LINE sandbox ready",
                extra={
                    "openapi_validation": document is not None,
                    "rate_limits": settings.rate_limits_enabled,
                    "webhook_url": settings.webhook_url,
                },
            )
            try:
                yield
            finally:
                simulator.http = None
                if journal is not None:
                    journal.close()

    app = FastAPI(
        title="Gunma Model LINE sandbox",
        description="A stand-in for the LINE platform: Messaging API, inboxes, simulated workers.",
        lifespan=lifespan,
        **NO_PUBLIC_DOCS,
    )
    install_problem_handlers(app)

    @app.exception_handler(WebhookError)
    async def on_webhook_error(request: Request, problem: WebhookError) -> JSONResponse:
        return problem_response(Problem(400, "Invalid event", str(problem)), request)

    api.install(
        app,
        platform,
        simulator,
        tokens=settings.tokens(),
        admin_token=settings.admin_token.get_secret_value(),
    )
    add_operational_routes(app, dict)
    app.state.platform = platform
    app.state.simulator = simulator
    return app
