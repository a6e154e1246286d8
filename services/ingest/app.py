"""Composition root of the ingest service: settings, infrastructure, handlers and HTTP routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.common import db
from services.common.http import Check, add_operational_routes
from services.common.runtime import Runtime, running

from .settings import IngestSettings


def create_app(settings: IngestSettings) -> FastAPI:
    state: dict[str, Runtime] = {}

    def register(runtime: Runtime) -> None:
        state["runtime"] = runtime

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with running(settings, component="ingest", register=register):
            yield

    app = FastAPI(title="Gunma Model ingest", lifespan=lifespan)

    def checks() -> dict[str, Check]:
        runtime = state.get("runtime")
        if runtime is None:
            return {}
        return {
            "postgres": lambda: db.ping(runtime.pool),
            "kafka": lambda: runtime.broker.ping(timeout=2),
        }

    add_operational_routes(app, checks)
    return app
