"""No service serves unauthenticated schema or documentation pages beyond what an issue asks for.

Every HTTP endpoint needs a key except the health checks; ingest also serves its OpenAPI schema at
/openapi.json for the feed's and staff's clients (issue 3). Swagger UI and ReDoc are never served.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from services.common import asyncapi

SECRET = asyncapi.PLACEHOLDER_SECRET


def _ingest() -> FastAPI:
    from services.ingest.app import create_app
    from services.ingest.settings import IngestSettings

    return create_app(
        asyncapi.documentation_settings(IngestSettings, worker_id_pepper=SECRET, line_channel_secret=SECRET)
    )


def _router() -> FastAPI:
    from services.router.app import create_app
    from services.router.settings import RouterSettings

    return create_app(asyncapi.documentation_settings(RouterSettings))


def _translate() -> FastAPI:
    from services.translate.app import create_app
    from services.translate.settings import TranslateSettings

    return create_app(asyncapi.documentation_settings(TranslateSettings))


def _sender() -> FastAPI:
    from services.sender.app import create_app
    from services.sender.settings import SenderSettings

    return create_app(asyncapi.documentation_settings(SenderSettings, line_channel_access_token=SECRET))


def _sandbox() -> FastAPI:
    from services.line_sandbox.app import create_app
    from services.line_sandbox.settings import LineSandboxSettings

    return create_app(
        asyncapi.documentation_settings(
            LineSandboxSettings, channel_access_tokens=SECRET, channel_secret=SECRET, admin_token=SECRET
        )
    )


APPS: dict[str, tuple[Callable[[], FastAPI], set[str]]] = {
    "ingest": (_ingest, {"/openapi.json"}),
    "router": (_router, set()),
    "translate": (_translate, set()),
    "sender": (_sender, set()),
    "line_sandbox": (_sandbox, set()),
}
SCHEMA_AND_PAGES = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


@pytest.mark.parametrize("service", sorted(APPS))
def test_schema_and_documentation_pages_are_not_served_unless_asked_for(service: str) -> None:
    build, allowed = APPS[service]
    app = build()
    paths = {getattr(route, "path", "") for route in app.routes if not isinstance(route, APIRoute)}
    assert paths & SCHEMA_AND_PAGES == allowed
