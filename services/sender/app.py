"""Composition root of the sender service: settings, infrastructure, handlers and HTTP routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.common import db
from services.common.http import Check, add_operational_routes
from services.common.runtime import Runtime, running

from .settings import SenderSettings


def create_app(settings: SenderSettings) -> FastAPI:
    state: dict[str, Runtime] = {}

    def register(runtime: Runtime) -> None:
        state["runtime"] = runtime

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with running(settings, component="sender", register=register):
            yield

    app = FastAPI(title="Gunma Model sender", lifespan=lifespan)

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
