"""Composition root of the LINE sandbox."""

from __future__ import annotations

from fastapi import FastAPI

from services.common.http import add_operational_routes

from .settings import LineSandboxSettings


def create_app(settings: LineSandboxSettings) -> FastAPI:
    app = FastAPI(title="Gunma Model LINE sandbox")
    add_operational_routes(app, dict)
    return app
