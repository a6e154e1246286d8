"""Staff API of the translate service: preview, human translations, glossary, engines.

Every route needs an API key (``Authorization: Bearer gmk_...``). Staff and ops keys read and preview;
staff keys submit, approve and reject human translations and edit the glossary. A staff key limited to
some municipalities sees only notices confined to them (others are a 404, so another city's notice is
not disclosed); reminder templates (known only from deliveries) need a prefecture-wide key. Errors are
RFC 9457 problem details naming the field.
"""

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.common import languages
from services.common.auth import KeyStore, Principal, Role, require
from services.common.contracts import NoticeCategory, NoticeContent
from services.common.db import Pool
from services.common.errors import FieldError
from services.common.problems import Problem

from . import store
from .backends.breaker import State
from .backends.engine import Engine
from .budget import BudgetStore
from .domain.protect import placeholders
from .domain.render import render
from .store import HumanTranslation, NewTranslation, NoticeRecord, TranslationRow
from .translator import Translator, lock_key

ALL_LANGUAGES = tuple(lang.code for lang in languages.DEFAULT_LANGUAGES)
_BREAKER_NAMES: dict[State, Literal["closed", "open", "half_open"]] = {
    State.CLOSED: "closed",
    State.OPEN: "open",
    State.HALF_OPEN: "half_open",
}


@dataclass(slots=True)
class ApiContext:
    pool: Pool
    keys: KeyStore
    translator: Translator
    engines: dict[str, Engine]
    budget: BudgetStore
    four_eyes: bool


def _language(value: str) -> str:
    if value not in languages.LANGUAGE_CODES:
        raise ValueError(f"unsupported language {value!r}; offered: {', '.join(ALL_LANGUAGES)}")
    return value


class StrictContent(BaseModel):
    """A notice's source text, as staff send it (unknown fields are an error)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=20_000)
    source_language: Literal["ja", "en"]
    category: NoticeCategory = NoticeCategory.OTHER


class PreviewOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: languages to preview (default: every offered language)
    languages: list[str] = Field(default_factory=list, max_length=len(languages.LANGUAGE_CODES))
    #: sample placeholder values, e.g. {"date": "2027-03-31", "city": "Maebashi"}
    values: dict[str, str] = Field(default_factory=dict, max_length=50)

    @field_validator("languages")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        return [_language(v) for v in value]


class ContentPreviewRequest(PreviewOptions):
    content: StrictContent


class LanguagePreview(BaseModel):
    language: str
    #: approved, memory, machine or fallback
    translation_source: str
    #: the language the text is in (another one for a fallback)
    text_language: str
    engine: str | None
    #: the stored revision (None for a preview of posted content)
    revision: int | None
    #: why it is a fallback
    reason: str | None
    retry_at: datetime | None
    messages: list[dict[str, Any]]
    truncated: bool


class Preview(BaseModel):
    notice_id: uuid.UUID | None
    source_language: str
    languages: list[LanguagePreview]


class HumanTranslationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=500)
    body: str = Field(min_length=1, max_length=40_000)
    note: str | None = Field(default=None, max_length=2000)
    #: approve at once (refused when four-eyes approval is required)
    approve: bool = False


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=2000)


class HumanTranslationOut(BaseModel):
    id: int
    notice_id: uuid.UUID
    language: str
    status: str
    title: str
    body: str
    submitted_by: str
    submitted_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    note: str | None
    #: False when the notice's text changed after the submission (it can no longer be approved)
    matches_current_text: bool


class TranslationOut(BaseModel):
    language: str
    revision: int
    translation_source: str
    text_language: str
    engine: str | None
    reason: str | None
    retry_at: datetime | None
    title: str
    body: str
    created_at: datetime


class NoticeTranslations(BaseModel):
    notice_id: uuid.UUID
    source_language: str
    title: str
    body: str
    translations: list[TranslationOut]
    human_translations: list[HumanTranslationOut]


class GlossaryEntry(BaseModel):
    source_language: str
    term: str
    translations: dict[str, str]


class GlossaryTermIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    translations: dict[str, Annotated[str, Field(min_length=1, max_length=200)]] = Field(min_length=1)

    @field_validator("translations")
    @classmethod
    def _languages(cls, value: dict[str, str]) -> dict[str, str]:
        for code in value:
            _language(code)
        return {k: v.strip() for k, v in value.items()}


class EngineStatus(BaseModel):
    backend: str
    languages: list[str]
    breaker: Literal["closed", "open", "half_open"]
    month: str
    characters_used: int
    monthly_budget: int | None
    characters_left: int | None


def _visible(principal: Principal, notice: NoticeRecord) -> bool:
    if principal.prefecture_wide:
        return True
    return bool(notice.cities) and set(notice.cities or ()) <= set(principal.cities)


def _human_out(human: HumanTranslation, current_hash: str) -> HumanTranslationOut:
    return HumanTranslationOut(
        id=human.id,
        notice_id=human.notice_id,
        language=human.language,
        status=human.status,
        title=human.title,
        body=human.body,
        submitted_by=human.submitted_by,
        submitted_at=human.submitted_at,
        decided_by=human.decided_by,
        decided_at=human.decided_at,
        note=human.note,
        matches_current_text=human.source_hash == current_hash,
    )


def _preview_of(
    language: str, text: NewTranslation | TranslationRow, values: dict[str, str]
) -> LanguagePreview:
    rendered = render(
        title=text.title,
        body=text.body,
        reader_language=language,
        text_language=text.text_language,
        fallback=text.source == "fallback",
        values=values,
    )
    return LanguagePreview(
        language=language,
        translation_source=text.source,
        text_language=text.text_language,
        engine=text.engine,
        revision=text.revision if isinstance(text, TranslationRow) else None,
        reason=text.reason,
        retry_at=text.retry_at,
        messages=list(rendered.messages),
        truncated=rendered.truncated,
    )


def placeholder_problems(source_title: str, source_body: str, title: str, body: str) -> list[FieldError]:
    """A human translation must keep the source's placeholders, and add none."""
    wanted = set(placeholders(source_title) + placeholders(source_body))
    problems: list[FieldError] = []
    for field, text in (("body.title", title), ("body.body", body)):
        unknown = sorted(set(placeholders(text)) - wanted)
        if unknown:
            problems.append(
                {"field": field, "reason": "unknown placeholders " + ", ".join(f"{{{n}}}" for n in unknown)}
            )
    missing = sorted(wanted - set(placeholders(title) + placeholders(body)))
    if missing:
        problems.append(
            {
                "field": "body.body",
                "reason": "placeholders of the source missing: " + ", ".join(f"{{{n}}}" for n in missing),
            }
        )
    return problems


def build_router(context: Callable[[], ApiContext]) -> APIRouter:
    def keys() -> KeyStore:
        return context().keys

    reader = require(keys, Role.STAFF, Role.OPS)
    staff = require(keys, Role.STAFF)
    router = APIRouter(prefix="/v1")

    async def notice_for(notice_id: uuid.UUID, principal: Principal) -> NoticeRecord:
        notice = await store.get_notice(context().pool, notice_id)
        if notice is None or not _visible(principal, notice):
            raise Problem(
                404,
                "Unknown notice",
                f"notice {notice_id} is not known to the translate service (it learns notices from "
                "notices.v1 and from deliveries), or it is outside your municipalities",
            )
        return notice

    @router.post("/notices/{notice_id}/preview", response_model=Preview, tags=["preview"])
    async def preview_notice(
        notice_id: Annotated[uuid.UUID, Path()],
        principal: Annotated[Principal, Depends(reader)],
        options: Annotated[PreviewOptions | None, Body()] = None,
    ) -> Preview:
        """The notice in each language as its readers will get it. Translates what is missing (once:
        the deliveries reuse it) and shows where each text comes from."""
        notice = await notice_for(notice_id, principal)
        options = options or PreviewOptions()
        wanted = options.languages or list(ALL_LANGUAGES)
        rows = await context().translator.translations_for(
            [(notice_id, notice.content, language) for language in wanted]
        )
        digest = notice.source_hash
        return Preview(
            notice_id=notice_id,
            source_language=notice.content.source_language,
            languages=[_preview_of(lang, rows[(notice_id, lang, digest)], options.values) for lang in wanted],
        )

    @router.post("/preview", response_model=Preview, tags=["preview"])
    async def preview_content(
        request: ContentPreviewRequest, _: Annotated[Principal, Depends(reader)]
    ) -> Preview:
        """A text not yet submitted, in each language (uses and fills the translation memory, so the
        notice submitted later costs no second engine call)."""
        content = NoticeContent(**request.content.model_dump())
        wanted = request.languages or list(ALL_LANGUAGES)
        translator = context().translator
        slots = asyncio.Semaphore(4)  # a few engines at once, without taking the whole pool

        async def one(language: str) -> LanguagePreview:
            async with slots:
                return _preview_of(language, await translator.preview(content, language), request.values)

        previews = list(await asyncio.gather(*(one(language) for language in wanted)))
        return Preview(notice_id=None, source_language=content.source_language, languages=previews)

    @router.get("/notices/{notice_id}/translations", response_model=NoticeTranslations, tags=["translations"])
    async def notice_translations(
        notice_id: Annotated[uuid.UUID, Path()], principal: Annotated[Principal, Depends(reader)]
    ) -> NoticeTranslations:
        """The current translation of every language translated so far, and the human translations."""
        notice = await notice_for(notice_id, principal)
        pool = context().pool
        rows = await store.notice_translations(pool, notice_id, notice.source_hash)
        humans = await store.human_translations(pool, notice_id)
        return NoticeTranslations(
            notice_id=notice_id,
            source_language=notice.content.source_language,
            title=notice.content.title,
            body=notice.content.body,
            translations=[
                TranslationOut(
                    language=r.language,
                    revision=r.revision,
                    translation_source=r.source,
                    text_language=r.text_language,
                    engine=r.engine,
                    reason=r.reason,
                    retry_at=r.retry_at,
                    title=r.title,
                    body=r.body,
                    created_at=r.created_at,
                )
                for r in rows
            ],
            human_translations=[_human_out(h, notice.source_hash) for h in humans],
        )

    @router.post(
        "/notices/{notice_id}/translations/{language}",
        response_model=HumanTranslationOut,
        status_code=201,
        tags=["translations"],
    )
    async def submit_translation(
        notice_id: Annotated[uuid.UUID, Path()],
        language: Annotated[str, Path()],
        submission: HumanTranslationIn,
        principal: Annotated[Principal, Depends(staff)],
    ) -> HumanTranslationOut:
        """Submit a human translation of the notice into ``language`` (approve it with ``approve``
        or later through .../approve). An approved translation wins over the machine's, also for the
        batches not yet rendered."""
        notice = await notice_for(notice_id, principal)
        _check_language(language, notice)
        problems = placeholder_problems(
            notice.content.title, notice.content.body, submission.title, submission.body
        )
        if problems:
            raise Problem(
                422,
                "Invalid request",
                "; ".join(f"{p['field']}: {p['reason']}" for p in problems),
                errors=problems,
            )
        ctx = context()
        if submission.approve and ctx.four_eyes:
            raise Problem(
                409,
                "Second approver required",
                "four-eyes approval is on: another staff member approves through .../approve",
            )
        async with ctx.pool.acquire() as conn, conn.transaction():
            human = await store.submit_human(
                conn,
                notice_id=notice_id,
                language=language,
                source_hash=notice.source_hash,
                title=submission.title.strip(),
                body=submission.body.strip("\n"),
                submitted_by=principal.key_id,
                note=submission.note,
            )
        if submission.approve:
            human = await _approve(ctx, notice, human, principal, None)
        return _human_out(human, notice.source_hash)

    @router.post(
        "/notices/{notice_id}/translations/{language}/{submission_id}/approve",
        response_model=HumanTranslationOut,
        tags=["translations"],
    )
    async def approve_translation(
        notice_id: Annotated[uuid.UUID, Path()],
        language: Annotated[str, Path()],
        submission_id: Annotated[int, Path(ge=1)],
        principal: Annotated[Principal, Depends(staff)],
        decision: Annotated[Decision | None, Body()] = None,
    ) -> HumanTranslationOut:
        """Approve a submitted translation: from now on every batch of this notice and language is
        rendered with it."""
        notice = await notice_for(notice_id, principal)
        ctx = context()
        human = await _submission(ctx, notice, language, submission_id)
        if ctx.four_eyes and human.submitted_by == principal.key_id:
            raise Problem(409, "Second approver required", "four-eyes approval: the submitter cannot approve")
        human = await _approve(ctx, notice, human, principal, decision.note if decision else None)
        return _human_out(human, notice.source_hash)

    @router.post(
        "/notices/{notice_id}/translations/{language}/{submission_id}/reject",
        response_model=HumanTranslationOut,
        tags=["translations"],
    )
    async def reject_translation(
        notice_id: Annotated[uuid.UUID, Path()],
        language: Annotated[str, Path()],
        submission_id: Annotated[int, Path(ge=1)],
        principal: Annotated[Principal, Depends(staff)],
        decision: Annotated[Decision | None, Body()] = None,
    ) -> HumanTranslationOut:
        """Reject a submitted translation (an approved one is replaced by approving another)."""
        notice = await notice_for(notice_id, principal)
        ctx = context()
        human = await _submission(ctx, notice, language, submission_id)
        if human.status != "submitted":
            raise Problem(409, "Already decided", f"submission {submission_id} is {human.status}")
        async with ctx.pool.acquire() as conn, conn.transaction():
            human = await store.decide_human(
                conn,
                human.id,
                status="rejected",
                decided_by=principal.key_id,
                note=decision.note if decision else None,
            )
        return _human_out(human, notice.source_hash)

    @router.get("/glossary", response_model=list[GlossaryEntry], tags=["glossary"])
    async def list_glossary(
        _: Annotated[Principal, Depends(reader)],
        source_language: Annotated[Literal["ja", "en"] | None, Query()] = None,
    ) -> list[GlossaryEntry]:
        """Fixed terms: protected from the engines and inserted in the target language."""
        entries = await store.glossary(context().pool, source_language)
        return [GlossaryEntry(source_language=s, term=t, translations=tr) for (s, t), tr in entries.items()]

    @router.put("/glossary/{source_language}/{term}", response_model=GlossaryEntry, tags=["glossary"])
    async def put_glossary(
        source_language: Annotated[Literal["ja", "en"], Path()],
        term: Annotated[str, Path(min_length=1, max_length=200)],
        entry: GlossaryTermIn,
        principal: Annotated[Principal, Depends(staff)],
    ) -> GlossaryEntry:
        """Set a term's translations (replacing the previous ones). Applies to texts translated from
        now on; translations already stored are kept (approve a human translation to change one)."""
        if source_language in entry.translations:
            raise Problem(
                422,
                "Invalid request",
                f"body.translations: a {source_language} term needs no {source_language} translation",
                errors=[{"field": "body.translations", "reason": "contains the source language"}],
            )
        async with context().pool.acquire() as conn, conn.transaction():
            await store.put_glossary_term(
                conn, source_language, term.strip(), entry.translations, by=principal.key_id
            )
        return GlossaryEntry(
            source_language=source_language, term=term.strip(), translations=entry.translations
        )

    @router.delete("/glossary/{source_language}/{term}", status_code=204, tags=["glossary"])
    async def delete_glossary(
        source_language: Annotated[Literal["ja", "en"], Path()],
        term: Annotated[str, Path(min_length=1, max_length=200)],
        _: Annotated[Principal, Depends(staff)],
    ) -> Response:
        async with context().pool.acquire() as conn:
            found = await store.delete_glossary_term(conn, source_language, term.strip())
        if not found:
            raise Problem(404, "Unknown term", f"{source_language} glossary has no term {term!r}")
        return Response(status_code=204)

    @router.get("/engines", response_model=list[EngineStatus], tags=["engines"])
    async def engines(_: Annotated[Principal, Depends(reader)]) -> list[EngineStatus]:
        """Each configured backend: the languages it serves, its circuit, this month's characters."""
        ctx = context()
        out: list[EngineStatus] = []
        for name, engine in ctx.engines.items():
            used = await ctx.budget.used(name)
            limit = ctx.budget.limit(name)
            served = [code for code in ALL_LANGUAGES if ctx.translator.backend_for(code) == name]
            out.append(
                EngineStatus(
                    backend=name,
                    languages=served,
                    breaker=_BREAKER_NAMES[engine.breaker.state],
                    month=ctx.budget.month().isoformat()[:7],
                    characters_used=used,
                    monthly_budget=limit,
                    characters_left=None if limit is None else max(0, limit - used),
                )
            )
        return out

    return router


def _check_language(language: str, notice: NoticeRecord) -> None:
    if language not in languages.LANGUAGE_CODES:
        raise Problem(
            422,
            "Invalid request",
            f"path.language: unsupported language {language!r}",
            errors=[{"field": "path.language", "reason": f"unsupported language {language!r}"}],
        )
    if language == notice.content.source_language:
        raise Problem(
            422,
            "Invalid request",
            f"path.language: the notice is written in {language}; it needs no translation into it",
            errors=[{"field": "path.language", "reason": "is the notice's source language"}],
        )


async def _submission(
    ctx: ApiContext, notice: NoticeRecord, language: str, submission_id: int
) -> HumanTranslation:
    human = await store.get_human(ctx.pool, submission_id)
    if human is None or human.notice_id != notice.notice_id or human.language != language:
        raise Problem(
            404, "Unknown submission", f"no submission {submission_id} for {notice.notice_id} in {language}"
        )
    return human


async def _approve(
    ctx: ApiContext, notice: NoticeRecord, human: HumanTranslation, principal: Principal, note: str | None
) -> HumanTranslation:
    if human.status not in ("submitted", "approved"):
        raise Problem(409, "Already decided", f"submission {human.id} is {human.status}")
    if human.source_hash != notice.source_hash:
        raise Problem(
            409,
            "Stale translation",
            "the notice's text changed after this translation was submitted; submit a new one",
        )
    key = (notice.notice_id, human.language, human.source_hash)
    async with ctx.pool.acquire() as conn, conn.transaction():
        # The same lock as translation: no batch renders a machine text decided in parallel.
        await conn.execute("SELECT pg_advisory_xact_lock($1)", lock_key(key))
        decided = await store.decide_human(
            conn, human.id, status="approved", decided_by=principal.key_id, note=note
        )
        await store.insert_translation(
            conn,
            key,
            NewTranslation(
                decided.title, decided.body, "approved", decided.language, human_translation_id=decided.id
            ),
        )
        await store.expire_fallbacks(conn, notice.notice_id)
    return decided


__all__ = ["ApiContext", "build_router", "placeholder_problems"]
