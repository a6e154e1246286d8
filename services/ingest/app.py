"""Composition root of the ingest service: settings, infrastructure, the relay and the HTTP routes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

import asyncpg
from fastapi import FastAPI, Request, Response
from fastapi.openapi.utils import get_openapi

from services.common import auth, db
from services.common.http import Check, add_operational_routes
from services.common.problems import Problem, install_problem_handlers, problem_response
from services.common.runtime import Runtime, running

from . import csv_api, feed_api, line_api, metrics, notices_api
from .csv_readers import ParsePool
from .domain.feed_json import EmploymentBatchIn
from .domain.ids import partition_for
from .domain.notices import NoticeIn
from .http_common import Ingest, ProblemDetail
from .relay import Relay
from .settings import IngestSettings

log = logging.getLogger(__name__)

_DESCRIPTION = """\
Every way into the Gunma Model: the government's employment feed (JSON batches and CSV extracts), staff
notices and LINE webhooks. Everything accepted with a 2xx is durably recorded first (a transactional
outbox in PostgreSQL) and then published to Kafka; re-sent inputs are recognised and reported as
duplicates. Errors are RFC 9457 problem details naming each field. Authentication: an API key
(`Authorization: Bearer <key>` or `X-API-Key`), or LINE's signature for the webhook."""

_API_KEY: list[dict[str, list[str]]] = [{"bearerKey": []}, {"apiKeyHeader": []}]


def create_app(settings: IngestSettings) -> FastAPI:
    ingest = Ingest(settings)
    relay = Relay(settings, hasher=_pool_hasher(ingest)) if settings.relay_enabled else None

    def register(runtime: Runtime) -> None:
        ingest.runtime = runtime
        ingest.keys = auth.KeyStore(runtime.pool, cache_seconds=settings.key_cache_seconds)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with running(settings, component="ingest", register=register) as runtime:
            if settings.csv_workers:
                ingest.parse_pool = ParsePool(settings.csv_workers, settings.pepper)
                await ingest.parse_pool.start()
            if relay is not None:
                relay.start()
            gauges = asyncio.create_task(_outbox_gauges(runtime.pool), name="outbox-gauges")
            try:
                yield
            finally:
                gauges.cancel()
                with suppress(asyncio.CancelledError):
                    await gauges
                if relay is not None:
                    await relay.stop(settings.shutdown_grace_seconds)
                if ingest.parse_pool is not None:
                    ingest.parse_pool.shutdown()

    app = FastAPI(
        title="Gunma Model ingest",
        version="1",
        description=_DESCRIPTION,
        lifespan=lifespan,
        # The schema stays at /openapi.json for the feed's and staff's clients; no browsable pages.
        docs_url=None,
        redoc_url=None,
    )
    install_problem_handlers(app)
    _install_unavailable_handler(app)
    app.include_router(feed_api.routes(ingest))
    app.include_router(csv_api.routes(ingest))
    app.include_router(notices_api.routes(ingest))
    app.include_router(line_api.routes(ingest))

    def checks() -> dict[str, Check]:
        runtime = ingest.runtime
        if runtime is None:
            return {}
        return runtime.readiness_checks()

    add_operational_routes(app, checks)
    app.openapi = _openapi(app)  # type: ignore[method-assign]
    return app


def _install_unavailable_handler(app: FastAPI) -> None:
    """A dependency being unreachable is the service's problem, not the client's: 503, retry later.

    A retry is safe: whatever did commit before the failure comes back as duplicates.
    """

    async def unavailable(request: Request, error: Exception) -> Response:
        log.warning("dependency unavailable", extra={"path": request.url.path, "error": type(error).__name__})
        problem = Problem(
            503,
            "Service unavailable",
            "a service this one depends on cannot be reached; send the same request again shortly "
            "(anything that was accepted before the failure is recognised as a duplicate)",
            headers={"Retry-After": "5"},
        )
        return problem_response(problem, request)

    for error in (
        OSError,
        TimeoutError,
        asyncpg.exceptions.InterfaceError,
        asyncpg.exceptions.PostgresConnectionError,
        asyncpg.exceptions.CannotConnectNowError,
        asyncpg.exceptions.TooManyConnectionsError,
        asyncpg.exceptions.AdminShutdownError,
    ):
        app.add_exception_handler(error, unavailable)


def _pool_hasher(ingest: Ingest) -> Callable[[list[bytes], int], Awaitable[list[int]]]:
    async def partitions(keys: list[bytes], count: int) -> list[int]:
        if ingest.parse_pool is None:
            return [partition_for(key, count) for key in keys]
        return await ingest.parse_pool.partitions(keys, count)

    return partitions


def _openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """FastAPI's schema, plus the bodies read by hand (to answer item by item) and the auth schemes."""

    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        components = schema.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        for model in (EmploymentBatchIn, NoticeIn, ProblemDetail):
            body = model.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(body.pop("$defs", {}))
            schemas[model.__name__] = body
        components["securitySchemes"] = {
            "bearerKey": {"type": "http", "scheme": "bearer", "description": "gmk_<id>_<secret>"},
            "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            "lineSignature": {"type": "apiKey", "in": "header", "name": "X-Line-Signature"},
        }
        for path, operations in schema.get("paths", {}).items():
            for operation in operations.values():
                if path.startswith("/v1/"):
                    operation["security"] = _API_KEY
                elif path == "/line/webhook":
                    operation["security"] = [{"lineSignature": []}]
        app.openapi_schema = schema
        return schema

    return build


async def _outbox_gauges(pool: db.Pool, every: float = 5.0) -> None:
    """Events waiting for Kafka and the age of the oldest (a row per batch: a cheap query)."""
    while True:
        try:
            row = await pool.fetchrow(
                "SELECT coalesce(sum(events), 0)::bigint AS backlog, coalesce(extract(epoch FROM "
                "now() - min(created_at)), 0)::float8 AS oldest FROM ingest_outbox"
            )
            if row is not None:
                metrics.OUTBOX_BACKLOG.set(row["backlog"])
                metrics.OUTBOX_OLDEST.set(max(0.0, row["oldest"]))
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a metric must never take the service down
            log.debug("outbox gauges failed", extra={"error": repr(error)[:200]})
        await asyncio.sleep(every)
