"""POST /v1/notices: a staff notice, validated, scoped to the key's cities, recorded, published.

``Idempotency-Key`` (optional, recommended): a retried POST with the same key and the same body gets the
same notice back (202 again, ``Idempotent-Replayed: true``) instead of a second notice; the same key
with a different body is refused (422). Keys are per API key and remembered for the dedupe retention.
"""

import uuid
from datetime import UTC, datetime
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError

from services.common.auth import Principal, Role
from services.common.codes import ResidenceStatus
from services.common.contracts import AudienceFilter, NoticeContent, NoticeSubmitted, Priority
from services.common.problems import Problem

from . import metrics, outbox
from .domain import ids
from .domain.employment import Outgoing
from .domain.notices import NoticeIn, scoped_cities
from .feed_api import pydantic_problems
from .http_common import Ingest, guard, json_body, json_media_type, parse_json, problem_responses, read_body


class NoticeAccepted(BaseModel):
    notice_id: uuid.UUID
    priority: Priority
    send_at: datetime | None
    audience: AudienceFilter = Field(description="The audience as it will be resolved (cities after scoping)")
    scope_cities: list[str] = Field(description="The key's municipalities; empty for a prefecture-wide key")


def _idempotency_key(value: str | None) -> str | None:
    if value is None:
        return None
    if not 1 <= len(value) <= 255 or not value.isascii() or not value.isprintable():
        raise Problem(
            422,
            "Invalid Idempotency-Key",
            "Idempotency-Key must be 1 to 255 printable ASCII characters (a UUID is a good choice)",
            errors=[{"field": "header: Idempotency-Key", "reason": "1 to 255 printable ASCII characters"}],
        )
    return value


def routes(ingest: Ingest) -> APIRouter:
    router = APIRouter(tags=["notices"])
    settings = ingest.settings
    staff_key = Annotated[Principal, Depends(guard(ingest, Role.STAFF))]

    @router.post(
        "/v1/notices",
        summary="Submit a notice for translation and delivery",
        status_code=202,
        response_model=NoticeAccepted,
        responses=problem_responses(400, 401, 403, 413, 415, 422, 429),
        openapi_extra=json_body("NoticeIn"),
    )
    async def submit(
        request: Request,
        principal: staff_key,
        idempotency_key: Annotated[
            str | None, Header(description="Makes a retry safe: the same key and body return the same notice")
        ] = None,
    ) -> JSONResponse:
        """A city-scoped key may target only its own cities; naming none means all of its cities."""
        key = _idempotency_key(idempotency_key)
        json_media_type(request)
        data = parse_json(await read_body(request, settings.max_json_body_bytes))
        try:
            notice = NoticeIn.model_validate(data)
        except ValidationError as error:
            problems = pydantic_problems(error, "")
            metrics.count("notice", "rejected")
            raise Problem(
                422,
                "Invalid notice",
                "; ".join(f"{p['field']}: {p['reason']}" for p in problems[:5]),
                errors=problems,
            ) from None
        now = datetime.now(UTC)
        when = notice.send_at_problem(now)
        if when:
            metrics.count("notice", "rejected")
            raise Problem(
                422, "Invalid notice", f"send_at: {when}", errors=[{"field": "send_at", "reason": when}]
            )
        cities, outside = scoped_cities(notice.audience.cities, principal.cities)
        if outside:
            metrics.count("notice", "rejected")
            scope = ", ".join(principal.cities)
            raise Problem(
                403,
                "City outside the key's scope",
                f"this key may target only {scope}",
                errors=[
                    {
                        "field": f"audience.cities[{i}]",
                        "reason": f"{notice.audience.cities[i]} is outside this key's cities ({scope})",
                    }
                    for i in outside
                ],
            )
        audience = AudienceFilter(
            cities=cities,
            nationalities=tuple(dict.fromkeys(notice.audience.nationalities)),
            languages=tuple(dict.fromkeys(notice.audience.languages)),
            residence_statuses=tuple(
                ResidenceStatus(s) for s in dict.fromkeys(notice.audience.residence_statuses)
            ),
            employers=tuple(dict.fromkeys(notice.audience.employers)),
        )
        fingerprint = ids.digest(
            orjson.dumps(notice.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS).decode()
        )
        notice_id = uuid.UUID(ids.derived_id("notice", principal.key_id, key)) if key else uuid.uuid4()
        event = NoticeSubmitted(
            event_id=uuid.UUID(ids.derived_id("notice.submitted", str(notice_id))),
            occurred_at=now,
            notice_id=notice_id,
            content=NoticeContent(
                title=notice.title,
                body=notice.body,
                source_language=notice.source_language,
                category=notice.category,
            ),
            audience=audience,
            priority=notice.priority,
            send_at=notice.send_at,
            submitted_by=principal.key_id,
            scope_cities=tuple(sorted(principal.cities)),
        )
        source = f"notice:{principal.key_id}"
        item = Outgoing(
            source_event_id=key or str(notice_id),
            event_id=str(event.event_id),
            fingerprint=fingerprint,
            key=str(notice_id).encode(),
            event_type=event.type,
            payload=event.model_dump_json().encode(),
        )
        fresh = await outbox.record(ingest.pool, source=source, topic="notices", items=[item])
        headers: dict[str, str] = {}
        if item.event_id not in fresh:
            first = (await outbox.earlier(ingest.pool, [item.event_id])).get(item.event_id)
            if first is not None and first.fingerprint != fingerprint:
                metrics.count("notice", "rejected")
                raise Problem(
                    422,
                    "Idempotency-Key reused",
                    "this Idempotency-Key was used for a different notice; a new notice needs a new key",
                    errors=[
                        {"field": "header: Idempotency-Key", "reason": "already used with a different body"}
                    ],
                )
            metrics.count("notice", "duplicate")
            headers["Idempotent-Replayed"] = "true"
        else:
            metrics.count("notice", "accepted")
        body = NoticeAccepted(
            notice_id=notice_id,
            priority=event.priority,
            send_at=event.send_at,
            audience=audience,
            scope_cities=list(event.scope_cities),
        )
        return JSONResponse(body.model_dump(mode="json"), status_code=202, headers=headers)

    return router
