"""POST /v1/employment-events: a JSON batch of employment events, answered event by event.

Good events go through when others are bad: the answer is 200 with a result per event (accepted,
duplicate, or rejected with each field and reason). Only when nothing could be taken (every event
rejected) is it 422, so a client that looks only at the status still notices a batch that failed
entirely.
"""

import json
import re
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError

from services.common.auth import Principal, Role
from services.common.errors import FieldError
from services.common.problems import Problem

from . import metrics, outbox
from .domain import employment
from .domain.feed_json import NAMES_REFUSED, HiredIn, ResidenceChangedIn, SeparatedIn, is_name_field
from .http_common import (
    FieldProblem,
    Ingest,
    feed_source,
    guard,
    json_body,
    json_media_type,
    parse_json,
    problem_responses,
    read_body,
)

_MODELS: dict[str, type[HiredIn | SeparatedIn | ResidenceChangedIn]] = {
    "hired": HiredIn,
    "separated": SeparatedIn,
    "residence_changed": ResidenceChangedIn,
}

Status = Literal["accepted", "duplicate", "rejected"]


class ItemResult(BaseModel):
    index: int = Field(description="Position of the event in the batch, from 0")
    status: Status
    source_event_id: str | None = Field(default=None, description="The feed's event id, when it had one")
    event_id: str | None = Field(default=None, description="The event's id in the system (stable on retries)")
    detail: str | None = None
    errors: list[FieldProblem] | None = None


class BatchResult(BaseModel):
    accepted: int
    duplicates: int
    rejected: int
    results: list[ItemResult]


_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def field_path(loc: Sequence[int | str]) -> str:
    """``events[3].establishment.municipality_code``; odd keys quoted: ``audience[""]``, ``["氏名"]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.startswith(("function-", "tagged-union[")):
            continue  # pydantic's validator names, not fields the sender wrote
        elif _PLAIN_NAME.fullmatch(part):
            out += ("." if out else "") + part
        else:
            out += f"[{json.dumps(part, ensure_ascii=False)}]"
    return out


def pydantic_problems(error: ValidationError, prefix: str) -> list[FieldError]:
    """Field paths under ``prefix``; readable reasons; names refused with their own reason."""
    problems: list[FieldError] = []
    for item in error.errors(include_input=False, include_url=False):
        path = field_path(tuple(item["loc"]))
        reason = str(item["msg"]).removeprefix("Value error, ")
        last = item["loc"][-1] if item["loc"] else ""
        if item["type"] == "extra_forbidden" and isinstance(last, str):
            reason = NAMES_REFUSED if is_name_field(last) else "unknown field (check its spelling)"
        if not path:
            field = prefix or "(body)"
        else:
            field = path if not prefix else prefix + ("" if path.startswith("[") else ".") + path
        problems.append({"field": field, "reason": reason})
    return problems


def validate_event(
    item: Any, index: int, pepper: bytes
) -> HiredIn | SeparatedIn | ResidenceChangedIn | list[FieldError]:
    where = f"events[{index}]"
    if not isinstance(item, dict):
        return [{"field": where, "reason": "must be an object"}]
    kind = item.get("type")
    model = _MODELS.get(kind) if isinstance(kind, str) else None
    if model is None:
        reason = "missing" if kind is None else "must be one of hired, separated, residence_changed"
        return [{"field": f"{where}.type", "reason": reason}]
    try:
        return model.model_validate(item, context={"pepper": pepper})
    except ValidationError as error:
        return pydantic_problems(error, where)


def routes(ingest: Ingest) -> APIRouter:
    router = APIRouter(tags=["employment feed"])
    settings = ingest.settings
    feed_key = Annotated[Principal, Depends(guard(ingest, Role.FEED))]

    @router.post(
        "/v1/employment-events",
        summary="Send a batch of employment events (hired, separated, residence changed)",
        response_model=BatchResult,
        responses=problem_responses(400, 401, 403, 413, 415, 422, 429),
        openapi_extra=json_body("EmploymentBatchIn"),
    )
    async def post_events(request: Request, principal: feed_key) -> JSONResponse:
        """Each event is validated on its own; accepted events are durably recorded (and will reach
        Kafka) before this answers. An event id already accepted is reported as a duplicate."""
        json_media_type(request)
        data = parse_json(await read_body(request, settings.max_json_body_bytes))
        events = _events_of(data, settings.feed_batch_max)
        source = feed_source(principal)
        results: list[ItemResult] = []
        pending: dict[str, tuple[int, employment.Outgoing]] = {}
        for index, item in enumerate(events):
            checked = validate_event(item, index, settings.pepper)
            if isinstance(checked, list):
                results.append(
                    ItemResult(index=index, status="rejected", errors=[FieldProblem(**e) for e in checked])
                )
                continue
            out = employment.outgoing(
                checked.facts(),
                source=source,
                source_event_id=checked.event_id,
                reported_at=checked.reported_at.isoformat(),
            )
            first = pending.get(out.source_event_id)
            if first is not None:
                results.append(
                    ItemResult(
                        index=index,
                        status="duplicate",
                        source_event_id=out.source_event_id,
                        event_id=out.event_id,
                        detail=f"the same event id as events[{first[0]}] in this batch",
                    )
                )
                continue
            pending[out.source_event_id] = (index, out)
            results.append(
                ItemResult(
                    index=index, status="accepted", source_event_id=out.source_event_id, event_id=out.event_id
                )
            )
        items = [out for _, out in pending.values()]
        fresh = await outbox.record(ingest.pool, source=source, topic="employment", items=items)
        replayed = [out for out in items if out.event_id not in fresh]
        if replayed:
            before = await outbox.earlier(ingest.pool, [out.event_id for out in replayed])
            for out in replayed:
                index, _ = pending[out.source_event_id]
                first_seen = before.get(out.event_id)
                same = first_seen is None or first_seen.fingerprint == out.fingerprint
                results[index] = ItemResult(
                    index=index,
                    status="duplicate",
                    source_event_id=out.source_event_id,
                    event_id=out.event_id,
                    detail="already accepted"
                    if same
                    else "already accepted with different content; the first version was kept",
                )
        counts = {s: sum(1 for r in results if r.status == s) for s in ("accepted", "duplicate", "rejected")}
        for status, n in counts.items():
            metrics.count("feed_json", status, n)  # type: ignore[arg-type]
        body = BatchResult(
            accepted=counts["accepted"],
            duplicates=counts["duplicate"],
            rejected=counts["rejected"],
            results=results,
        )
        if counts["rejected"] and not counts["accepted"] and not counts["duplicate"]:
            problems = [e.model_dump() for r in results for e in r.errors or ()]
            raise Problem(
                422,
                "No event could be accepted",
                "; ".join(f"{p['field']}: {p['reason']}" for p in problems[:5]),
                errors=problems,  # type: ignore[arg-type]
                results=[r.model_dump(exclude_none=True) for r in results],
            )
        return JSONResponse(body.model_dump(exclude_none=True))

    return router


def _events_of(data: Any, limit: int) -> list[Any]:
    if not isinstance(data, dict):
        raise Problem(
            422,
            "Invalid request",
            'send an object: {"events": [...]}',
            errors=[{"field": "(body)", "reason": "must be an object with an events list"}],
        )
    unknown = sorted(set(data) - {"events"})
    if unknown:
        raise Problem(
            422,
            "Invalid request",
            f"unknown field {unknown[0]!r}",
            errors=[
                {"field": field_path([name]), "reason": "unknown field (the body has only events)"}
                for name in unknown
            ],
        )
    events = data.get("events")
    if not isinstance(events, list):
        reason = "missing" if events is None else "must be a list"
        raise Problem(
            422, "Invalid request", f"events: {reason}", errors=[{"field": "events", "reason": reason}]
        )
    if len(events) > limit:
        reason = f"at most {limit} events per batch, got {len(events)}: split the batch"
        raise Problem(
            422, "Batch too large", f"events: {reason}", errors=[{"field": "events", "reason": reason}]
        )
    return events
