"""HTTP routes of the router: audience counts, notice status and cancel, statistics, reminder rules.

Every route needs an API key (``Authorization: Bearer gmk_...``): staff or ops keys read, staff keys
cancel, ops keys manage reminder rules. A staff key limited to some municipalities sees and counts only
subscribers there, and only notices confined to them; anything else is a 404, not a 403, so that the
existence of another city's notice is not disclosed. Errors are RFC 9457 problem details.
"""

import string
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.common.auth import KeyStore, Principal, Role, require
from services.common.codes import ResidenceStatus
from services.common.contracts import AudienceFilter, NoticeCategory
from services.common.db import Pool
from services.common.problems import Problem

from . import audience_store, planning, stats
from .domain.audience import resolve, scope_violations
from .reminders import load_rules, rule_of

Clock = Callable[[], datetime]


@dataclass(slots=True)
class ApiContext:
    pool: Pool
    keys: KeyStore
    clock: Clock
    fallback_language: str | None
    #: printed before registration codes, and the LINE account's basic ID for deep links (None: no links)
    code_prefix: str = "GM"
    line_basic_id: str | None = None


class StrictAudienceFilter(AudienceFilter):
    """The audience filter as staff send it: an unknown field is an error, not silently ignored."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class AudienceCountRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    audience: StrictAudienceFilter = StrictAudienceFilter()
    #: leave out subscribers who opted out of this category, as a notice of it would
    category: NoticeCategory | None = None


class CityCount(BaseModel):
    code: str | None
    name_ja: str | None
    name_en: str | None
    count: int


class CellCount(BaseModel):
    language: str
    city: str | None
    count: int


class AudienceCount(BaseModel):
    total: int
    by_language: dict[str, int]
    by_city: list[CityCount]
    cells: list[CellCount]
    #: the cities this count is limited to (the key's scope), or null for the whole prefecture
    scope_cities: list[str] | None


class LanguageProgress(BaseModel):
    language: str
    batches: int
    published_batches: int
    planned: int
    sent: int
    failed: int
    unreachable: int
    pending: int


class NoticeStatus(BaseModel):
    notice_id: uuid.UUID
    state: str
    priority: str
    category: str
    title: str
    submitted_by: str
    submitted_at: datetime
    send_at: datetime | None
    release_at: datetime
    held_reason: str | None
    released_at: datetime | None
    planned_at: datetime | None
    cancelled_at: datetime | None
    recipients: int | None
    batches: int | None
    dropped_cities: list[str]
    audience: dict[str, Any]
    totals: dict[str, int]
    languages: list[LanguageProgress]


class NoticeSummary(BaseModel):
    notice_id: uuid.UUID
    state: str
    priority: str
    category: str
    title: str
    submitted_at: datetime
    release_at: datetime
    recipients: int | None


_PLACEHOLDERS = frozenset({"date", "city", "employer"})


def _check_placeholders(text: str) -> str:
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as error:
        raise ValueError(f"malformed placeholder: {error}") from None
    unknown = sorted(n for n in names if n not in _PLACEHOLDERS)
    if unknown:
        listed = ", ".join("{" + n + "}" for n in unknown)
        raise ValueError(f"unknown placeholder(s) {listed}; use {{date}}, {{city}}, {{employer}}")
    return text


class ReminderRuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    trigger: Literal["expiry_before", "separation", "hire_in_new_city"]
    days: int = Field(default=0, ge=0, le=366)
    window_days: int = Field(ge=0, le=366)
    category: NoticeCategory
    residence_statuses: list[ResidenceStatus] = Field(default_factory=list)
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=20_000)
    source_language: Literal["ja", "en"]
    enabled: bool = True

    @field_validator("title", "body")
    @classmethod
    def _placeholders(cls, value: str) -> str:
        return _check_placeholders(value)


class ReminderRuleOut(ReminderRuleIn):
    rule_id: str
    notice_id: uuid.UUID


class ReminderRuleReport(BaseModel):
    rule: ReminderRuleOut
    #: reminders raised so far (kept for ``GUNMA_ROUTER_REMINDERS_RETENTION_DAYS`` after their trigger date)
    raised: int
    pending: int
    published: int
    #: not sent at release, by reason (unlinked, unfollowed, unreachable, stopped, opted_out, ...)
    skipped: dict[str, int]
    #: what the sender reported, per language: recipients sent, failed, unreachable
    delivered: dict[str, dict[str, int]]


def _scope(principal: Principal) -> tuple[str, ...] | None:
    return tuple(sorted(principal.cities)) if principal.cities else None


def _visible(principal: Principal, row: Any) -> bool:
    if principal.prefecture_wide:
        return True
    cities = row["cities"]
    return cities is not None and set(cities) <= set(principal.cities)


def build_router(context: Callable[[], ApiContext]) -> APIRouter:
    def keys() -> KeyStore:
        return context().keys

    reader = require(keys, Role.STAFF, Role.OPS)
    staff = require(keys, Role.STAFF)
    ops = require(keys, Role.OPS)
    router = APIRouter(prefix="/v1")

    @router.post("/audience/count", response_model=AudienceCount, tags=["audiences"])
    async def count_audience(
        request: AudienceCountRequest, principal: Annotated[Principal, Depends(reader)]
    ) -> AudienceCount:
        """How many subscribers a notice with this filter would reach now, per language and city."""
        violations = scope_violations(request.audience, principal.cities)
        if violations:
            raise Problem(
                403,
                "Outside your scope",
                "; ".join(f"{v['field']}: {v['reason']}" for v in violations),
                errors=violations,
            )
        audience = resolve(request.audience, scope_cities=principal.cities, category=request.category)
        ctx = context()
        async with ctx.pool.acquire() as conn:
            cells = await audience_store.count(conn, audience, ctx.fallback_language)
            codes = sorted({c.municipality_code for c in cells if c.municipality_code})
            names = {
                r["code"]: (r["name_ja"], r["name_en"])
                for r in await conn.fetch(
                    "SELECT code, name_ja, name_en FROM municipalities WHERE code = ANY($1::text[])", codes
                )
            }
        by_language: dict[str, int] = {}
        by_city: dict[str | None, int] = {}
        for cell in cells:
            by_language[cell.language] = by_language.get(cell.language, 0) + cell.count
            by_city[cell.municipality_code] = by_city.get(cell.municipality_code, 0) + cell.count
        return AudienceCount(
            total=sum(c.count for c in cells),
            by_language=by_language,
            by_city=[
                CityCount(
                    code=code,
                    name_ja=names.get(code, (None, None))[0] if code else None,
                    name_en=names.get(code, (None, None))[1] if code else None,
                    count=n,
                )
                for code, n in sorted(by_city.items(), key=lambda kv: (-kv[1], kv[0] or "~"))
            ],
            cells=[CellCount(language=c.language, city=c.municipality_code, count=c.count) for c in cells],
            scope_cities=list(audience.cities or ()) if principal.cities else None,
        )

    @router.get("/notices", response_model=list[NoticeSummary], tags=["notices"])
    async def list_notices(
        principal: Annotated[Principal, Depends(reader)],
        state: Annotated[Literal["scheduled", "publishing", "planned", "cancelled"] | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> list[NoticeSummary]:
        """The latest notices (newest first), optionally in one state."""
        scope = _scope(principal)
        async with context().pool.acquire() as conn:
            rows = await conn.fetch(
                """
                SELECT notice_id, state, priority, category, content->>'title' AS title, submitted_at,
                       release_at, recipients
                FROM notices
                WHERE ($1::text IS NULL OR state = $1)
                  AND ($2::text[] IS NULL OR (cities IS NOT NULL AND cities <@ $2::text[]))
                ORDER BY submitted_at DESC LIMIT $3
                """,
                state,
                None if scope is None else list(scope),
                limit,
            )
        return [NoticeSummary(**dict(r)) for r in rows]

    @router.get("/notices/{notice_id}", response_model=NoticeStatus, tags=["notices"])
    async def notice_status(
        notice_id: Annotated[uuid.UUID, Path()], principal: Annotated[Principal, Depends(reader)]
    ) -> NoticeStatus:
        """Where a notice stands: schedule, and planned / sent / failed recipients per language."""
        async with context().pool.acquire() as conn:
            row = await planning.notice_row(conn, notice_id)
            if row is None or not _visible(principal, row):
                raise Problem(404, "Notice not found", f"no notice {notice_id} that this key may see")
            progress = await planning.language_status(conn, notice_id)
        languages = [
            LanguageProgress(
                language=p.language,
                batches=p.batches,
                published_batches=p.published_batches,
                planned=p.planned,
                sent=p.sent,
                failed=p.failed,
                unreachable=p.unreachable,
                pending=p.pending,
            )
            for p in progress
        ]
        totals = {
            key: sum(getattr(p, key) for p in languages)
            for key in ("batches", "published_batches", "planned", "sent", "failed", "unreachable", "pending")
        }
        return NoticeStatus(
            notice_id=row["notice_id"],
            state=row["state"],
            priority=row["priority"],
            category=row["category"],
            title=row["content"]["title"],
            submitted_by=row["submitted_by"],
            submitted_at=row["submitted_at"],
            send_at=row["send_at"],
            release_at=row["release_at"],
            held_reason=row["held_reason"],
            released_at=row["released_at"],
            planned_at=row["planned_at"],
            cancelled_at=row["cancelled_at"],
            recipients=row["recipients"],
            batches=row["batches"],
            dropped_cities=list(row["dropped_cities"]),
            audience=row["audience"],
            totals=totals,
            languages=languages,
        )

    @router.post("/notices/{notice_id}/cancel", tags=["notices"])
    async def cancel_notice(
        notice_id: Annotated[uuid.UUID, Path()], principal: Annotated[Principal, Depends(staff)]
    ) -> dict[str, str]:
        """Cancel a notice that has not been released yet (cancelling it again changes nothing)."""
        ctx = context()
        async with ctx.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "SELECT cities, state FROM notices WHERE notice_id = $1 FOR UPDATE", notice_id
            )
            if row is None or not _visible(principal, row):
                raise Problem(404, "Notice not found", f"no notice {notice_id} that this key may see")
            state = await planning.cancel(conn, notice_id, by=principal.key_id, now=ctx.clock())
        if state != "cancelled":
            raise Problem(409, "Too late to cancel", f"the notice is already {state}", state=state)
        return {"notice_id": str(notice_id), "state": "cancelled"}

    @router.get("/stats", tags=["statistics"])
    async def participation(
        principal: Annotated[Principal, Depends(reader)],
        employers: Annotated[int, Query(ge=0, le=10_000, description="how many employers to list")] = 100,
    ) -> dict[str, Any]:
        """Registered workers and companies with at least one, by city, language and employer."""
        ctx = context()
        scope = _scope(principal)
        async with ctx.pool.acquire() as conn, conn.transaction():
            result = await stats.participation(
                conn, cities=scope, fallback_language=ctx.fallback_language, employer_limit=employers
            )
        return {
            "as_of": ctx.clock(),
            "scope_cities": None if scope is None else list(scope),
            "totals": result.totals,
            "by_city": result.by_city,
            "by_language": result.by_language,
            "by_employer": result.by_employer,
            "erasures": result.erasures,
        }

    @router.get("/reminder-rules", response_model=list[ReminderRuleOut], tags=["reminders"])
    async def list_rules(_: Annotated[Principal, Depends(reader)]) -> list[ReminderRuleOut]:
        """Every reminder rule, enabled or not."""
        async with context().pool.acquire() as conn:
            rules = await load_rules(conn, enabled_only=False)
        return [_rule_out(rule) for rule in rules]

    @router.get("/reminder-rules/{rule_id}", response_model=ReminderRuleReport, tags=["reminders"])
    async def rule_report(
        rule_id: Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")],
        principal: Annotated[Principal, Depends(reader)],
    ) -> ReminderRuleReport:
        """A rule and what it did: reminders raised, published, skipped (why), and delivered."""
        if not principal.prefecture_wide:
            raise Problem(403, "Forbidden", "personal reminders are reported for the whole prefecture only")
        async with context().pool.acquire() as conn:
            row = await conn.fetchrow("SELECT * FROM reminder_rules WHERE rule_id = $1", rule_id)
            if row is None:
                raise Problem(404, "Rule not found", f"no reminder rule {rule_id}")
            rule = rule_of(row)
            states = await conn.fetch(
                "SELECT state, COALESCE(skip_reason, '') AS reason, count(*) AS n FROM reminder_deliveries"
                " WHERE rule_id = $1 GROUP BY 1, 2",
                rule_id,
            )
            progress = await planning.language_status(conn, rule.notice_id)
        counts = {"pending": 0, "published": 0, "skipped": 0}
        skipped: dict[str, int] = {}
        for r in states:
            counts[r["state"]] += int(r["n"])
            if r["state"] == "skipped":
                skipped[r["reason"]] = int(r["n"])
        return ReminderRuleReport(
            rule=_rule_out(rule),
            raised=sum(counts.values()),
            pending=counts["pending"],
            published=counts["published"],
            skipped=skipped,
            delivered={
                p.language: {"sent": p.sent, "failed": p.failed, "unreachable": p.unreachable}
                for p in progress
            },
        )

    @router.put("/reminder-rules/{rule_id}", response_model=ReminderRuleOut, tags=["reminders"])
    async def put_rule(
        rule_id: Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")],
        rule: ReminderRuleIn,
        response: Response,
        _: Annotated[Principal, Depends(ops)],
    ) -> ReminderRuleOut:
        """Create a rule, or change its window, category, statuses or enabled flag.

        Its trigger, days and texts cannot change (translations are kept per rule): create a new rule
        and disable this one instead.
        """
        statuses = [s.value for s in rule.residence_statuses]
        async with context().pool.acquire() as conn, conn.transaction():
            existing = await conn.fetchrow(
                "SELECT * FROM reminder_rules WHERE rule_id = $1 FOR UPDATE", rule_id
            )
            if existing is None:
                row = await conn.fetchrow(
                    """
                    INSERT INTO reminder_rules (rule_id, trigger, days, window_days, category,
                        residence_statuses, title, body, source_language, enabled)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *
                    """,
                    rule_id,
                    rule.trigger,
                    rule.days,
                    rule.window_days,
                    rule.category.value,
                    statuses,
                    rule.title,
                    rule.body,
                    rule.source_language,
                    rule.enabled,
                )
                response.status_code = 201
            else:
                fixed = ("trigger", "days", "title", "body", "source_language")
                changed = [f for f in fixed if existing[f] != getattr(rule, f)]
                if changed:
                    raise Problem(
                        409,
                        "Rule texts and trigger are fixed",
                        f"{', '.join(changed)} of rule {rule_id} cannot change; create a new rule and "
                        "disable this one",
                        errors=[
                            {"field": f"body.{f}", "reason": "cannot change once created"} for f in changed
                        ],
                    )
                row = await conn.fetchrow(
                    """
                    UPDATE reminder_rules SET window_days = $2, category = $3, residence_statuses = $4,
                        enabled = $5, updated_at = now()
                    WHERE rule_id = $1 RETURNING *
                    """,
                    rule_id,
                    rule.window_days,
                    rule.category.value,
                    statuses,
                    rule.enabled,
                )
        return _rule_out(rule_of(row))

    return router


def _rule_out(rule: Any) -> ReminderRuleOut:
    return ReminderRuleOut(
        rule_id=rule.rule_id,
        notice_id=rule.notice_id,
        trigger=rule.trigger.value,
        days=rule.days,
        window_days=rule.window_days,
        category=rule.category,
        residence_statuses=sorted(ResidenceStatus(s) for s in rule.residence_statuses),
        title=rule.title,
        body=rule.body,
        source_language=rule.source_language,
        enabled=rule.enabled,
    )
