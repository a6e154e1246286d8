"""What every service's HTTP side has: health, readiness and Prometheus metrics, and a runner."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable, Mapping
from typing import TypedDict

import uvicorn
from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from . import tracing
from .settings import ServiceSettings

log = logging.getLogger(__name__)

Check = Callable[[], Awaitable[object]]


#: FastAPI arguments for a service whose API is not public: no unauthenticated schema or browsable pages
#: (every endpoint but the health checks needs a key). The schemas are in docs/api/, generated from code.
class _DocsUrls(TypedDict):
    openapi_url: str | None
    docs_url: str | None
    redoc_url: str | None


NO_PUBLIC_DOCS = _DocsUrls(openapi_url=None, docs_url=None, redoc_url=None)


def add_operational_routes(app: FastAPI, checks: Callable[[], Mapping[str, Check]]) -> None:
    """``/healthz`` (the process is alive), ``/readyz`` (its dependencies answer), ``/metrics``.

    ``checks`` is called per request, so it can see what start-up created (pool, broker).
    These three endpoints are the only ones without authentication: they carry no data.
    """

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        results: dict[str, str] = {}
        ready = True
        for name, check in checks().items():
            try:
                await asyncio.wait_for(check(), timeout=3)
                results[name] = "ok"
            except Exception as error:  # any failure means "not ready", with its reason
                ready = False
                results[name] = f"{type(error).__name__}: {error}"[:200]
        return JSONResponse({"ready": ready, "checks": results}, status_code=200 if ready else 503)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    """Run under uvicorn until SIGTERM/SIGINT; in-flight work drains within the grace period.

    Tracing is set up here, before the lifespan creates the broker, if the environment asks for it
    (``OTEL_*``, see :mod:`services.common.tracing`); otherwise nothing is installed.
    """
    try:
        tracing.configure(settings.service_name)
    except ValueError as error:
        print(f"{settings.service_name}: configuration error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    tracing.instrument_app(app)
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
        lifespan="on",
    )
    try:
        uvicorn.Server(config).run()
    finally:
        tracing.shutdown()  # flush the spans still buffered
