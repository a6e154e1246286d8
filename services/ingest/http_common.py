"""What every ingest route shares: the service's state, authentication with rate limiting, body limits."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from fastapi import Request
from pydantic import BaseModel, Field
from starlette.requests import ClientDisconnect

from services.common import auth, db
from services.common.auth import Principal, Role
from services.common.problems import Problem
from services.common.runtime import Runtime

from . import metrics
from .csv_readers import ParsePool
from .ratelimit import RateLimiter
from .settings import IngestSettings


@dataclass
class Ingest:
    """The service's moving parts; start-up fills in what needs connections."""

    settings: IngestSettings
    limiter: RateLimiter = field(init=False)
    runtime: Runtime | None = None
    keys: auth.KeyStore | None = None
    #: worker processes for CSV rows; None: parse in this process
    parse_pool: ParsePool | None = None

    def __post_init__(self) -> None:
        self.limiter = RateLimiter(self.settings.rate_limit_per_second, self.settings.rate_limit_burst)

    @property
    def pool(self) -> db.Pool:
        if self.runtime is None:
            raise Problem(503, "Starting", "the service is not ready yet", headers={"Retry-After": "1"})
        return self.runtime.pool

    def key_store(self) -> auth.KeyStore:
        if self.keys is None:
            raise Problem(503, "Starting", "the service is not ready yet", headers={"Retry-After": "1"})
        return self.keys


def guard(ingest: Ingest, *roles: Role) -> Callable[[Request], Awaitable[Principal]]:
    """Authenticate (401/403, services.common.auth), then apply the key's rate limit (429)."""
    authenticate = auth.require(ingest.key_store, *roles)

    async def dependency(request: Request) -> Principal:
        principal = await authenticate(request)
        wait = ingest.limiter.take(principal.key_id)
        if wait > 0:
            metrics.RATE_LIMITED.labels(principal.role.value).inc()
            raise Problem(
                429,
                "Too many requests",
                f"this key may make {ingest.limiter.rate:g} requests per second (bursts of "
                f"{ingest.limiter.burst}) on each replica; retry in {wait:.1f} s",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
        return principal

    return dependency


def feed_source(principal: Principal) -> str:
    """The feed's name as events carry it: the API key's name (keys of one feed share it)."""
    return principal.name[:64] or principal.key_id


def check_length(request: Request, limit: int) -> None:
    """413 at once when the declared length is too large; 400 when it is not a number."""
    declared = request.headers.get("content-length")
    if declared is None:
        return
    try:
        length = int(declared)
    except ValueError:
        raise Problem(400, "Bad Content-Length", "Content-Length must be a number of bytes") from None
    if length > limit:
        raise Problem(
            413, "Request body too large", f"the body may be at most {limit} bytes, this one is {length}"
        )


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refusing (413) as soon as it passes ``limit`` bytes."""
    check_length(request, limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise Problem(413, "Request body too large", f"the body may be at most {limit} bytes")
            chunks.append(chunk)
    except ClientDisconnect:
        raise Problem(400, "Incomplete request", "the client closed the connection mid-body") from None
    return b"".join(chunks)


def parse_json(body: bytes) -> Any:
    if not body:
        raise Problem(
            400, "Empty body", "a JSON body is required", errors=[{"field": "(body)", "reason": "empty"}]
        )
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise Problem(
            400,
            "Malformed JSON",
            f"the body is not valid JSON: {error}",
            errors=[{"field": "(body)", "reason": f"not valid JSON: {error}"}],
        ) from None


def json_media_type(request: Request) -> None:
    media = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise Problem(415, "Unsupported media type", f"send application/json, not {media!r}")


# -- OpenAPI --


class FieldProblem(BaseModel):
    field: str = Field(description="Where: a JSON path such as events[3].establishment.municipality_code")
    reason: str


class ProblemDetail(BaseModel):
    """RFC 9457 problem details: every 4xx names the field and the reason."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldProblem] = Field(default_factory=list)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    described = {
        400: "Malformed request (not JSON, bad Content-Length)",
        401: "No API key, an unknown or revoked key, or a bad LINE signature",
        403: "The key's role or municipalities do not allow this",
        413: "Body larger than the configured limit",
        415: "Unsupported media type or charset",
        422: "Invalid input: each field and the reason",
        429: "Rate limit of the key exceeded (per replica); see Retry-After",
    }
    return {
        status: {
            "description": described[status],
            "content": {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/ProblemDetail"}}
            },
        }
        for status in statuses
    }


def json_body(schema_name: str, *, required: bool = True) -> dict[str, Any]:
    """``openapi_extra`` for a route that reads its JSON body itself (to answer item by item)."""
    return {
        "requestBody": {
            "required": required,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}},
        }
    }
