"""POST /line/webhook: LINE's webhooks, verified, deduplicated on webhookEventId, answered fast.

LINE waits at most 2 seconds. The work before the 200 is: read the body, check the signature, map the
events, and one PostgreSQL statement (dedupe + outbox). The relay, woken by that commit, has the events
in Kafka a few milliseconds later. An event that can never be mapped (malformed) is acknowledged and
counted rather than refused: refusing would make LINE redeliver the whole webhook, good events too.
"""

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from services.common.problems import Problem

from . import metrics, outbox
from .domain import line_webhook
from .domain.employment import Outgoing
from .domain.line_webhook import Ignored, Invalid
from .http_common import Ingest, parse_json, problem_responses, read_body

log = logging.getLogger(__name__)


class WebhookResult(BaseModel):
    accepted: int
    duplicates: int
    ignored: int
    invalid: int


def routes(ingest: Ingest) -> APIRouter:
    router = APIRouter(tags=["LINE"])
    settings = ingest.settings
    secret = settings.line_channel_secret.get_secret_value().encode()

    @router.post(
        "/line/webhook",
        summary="LINE Messaging API webhook",
        response_model=WebhookResult,
        responses=problem_responses(400, 401, 413, 422),
        openapi_extra={
            "requestBody": {
                "required": True,
                "description": "LINE's webhook body (destination, events), signed in X-Line-Signature.",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["destination", "events"],
                            "properties": {
                                "destination": {"type": "string"},
                                "events": {"type": "array", "items": {"type": "object"}},
                            },
                        }
                    }
                },
            }
        },
    )
    async def webhook(
        request: Request,
        x_line_signature: Annotated[
            str | None, Header(description="Base64 HMAC-SHA256 of the raw body under the channel secret")
        ] = None,
    ) -> JSONResponse:
        """200 with an empty events list is LINE's verification call."""
        body = await read_body(request, settings.max_webhook_body_bytes)
        if not x_line_signature:
            raise Problem(
                401,
                "Signature required",
                "the X-Line-Signature header is missing",
                errors=[{"field": "header: X-Line-Signature", "reason": "missing"}],
            )
        if not line_webhook.signature_valid(secret, body, x_line_signature):
            raise Problem(
                401,
                "Invalid signature",
                "X-Line-Signature does not match the body under this channel's secret",
                errors=[{"field": "header: X-Line-Signature", "reason": "does not match the body"}],
            )
        data = parse_json(body)
        events = _events_of(data)
        items: dict[str, Outgoing] = {}
        ignored = invalid = duplicates = 0
        for position, event in enumerate(events):
            mapped = line_webhook.to_contract(event, pepper=settings.pepper)
            if isinstance(mapped, Ignored):
                ignored += 1
                metrics.LINE_IGNORED.labels(mapped.reason).inc()
                continue
            if isinstance(mapped, Invalid):
                invalid += 1
                metrics.count("line", "rejected")
                log.warning(
                    "LINE event could not be mapped",
                    extra={
                        "position": position,
                        "errors": [f"{e['field']}: {e['reason']}" for e in mapped.errors],
                    },
                )
                continue
            out = line_webhook.outgoing(mapped)
            if out.source_event_id in items:
                duplicates += 1
                continue
            items[out.source_event_id] = out
        fresh = await outbox.record(
            ingest.pool, source=line_webhook.SOURCE, topic="line_events", items=list(items.values())
        )
        duplicates += len(items) - len(fresh)
        metrics.count("line", "accepted", len(fresh))
        metrics.count("line", "duplicate", duplicates)
        result = WebhookResult(accepted=len(fresh), duplicates=duplicates, ignored=ignored, invalid=invalid)
        return JSONResponse(result.model_dump())

    return router


def _events_of(data: Any) -> list[Any]:
    if not isinstance(data, dict):
        raise Problem(
            422,
            "Invalid webhook",
            "the body must be an object",
            errors=[{"field": "(body)", "reason": "must be an object"}],
        )
    events = data.get("events")
    if not isinstance(events, list):
        reason = "missing" if events is None else "must be a list"
        raise Problem(
            422, "Invalid webhook", f"events: {reason}", errors=[{"field": "events", "reason": reason}]
        )
    return events
