"""Builders for the translate tests: planned batches, a counting engine stub, a collecting publisher."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from services.common.contracts import (
    DeliveryPlanned,
    DeliveryReady,
    NoticeCategory,
    NoticeContent,
    Purpose,
    batch_id_for,
)
from services.common.db import Pool
from services.common.kafka import Consumed
from services.translate.backends.base import Backend
from services.translate.backends.breaker import CircuitBreaker
from services.translate.backends.engine import Engine, RetryPolicy
from services.translate.backends.libretranslate import LibreTranslateBackend
from services.translate.budget import BudgetStore
from services.translate.translator import Translator
from tests.support.kafka import read_all


def notice_content(marker: str | None = None, *, source_language: str = "en") -> NoticeContent:
    """An English notice with placeholders and glossary terms; a marker makes its text unique (the
    translation memory would otherwise serve it from an earlier test)."""
    marker = marker or uuid.uuid4().hex[:10]
    return NoticeContent(
        title=f"Your period of stay ends on {{date}} ({marker})",
        body=(
            f"Your residence card shows that your period of stay ends on {{date}}. Ref {marker}.\n\n"
            f"Apply at the Regional Immigration Services Bureau in {{city}} before {{date}}. Ref {marker}."
        ),
        source_language=source_language,  # type: ignore[arg-type]
        category=NoticeCategory.IMMIGRATION,
    )


CONTENT = notice_content("fixed")


def users(n: int) -> tuple[str, ...]:
    return tuple("U" + uuid.uuid4().hex for _ in range(n))


def planned(
    notice_id: uuid.UUID,
    language: str,
    batch_no: int,
    *,
    content: NoticeContent | None = None,
    recipients: int = 3,
    purpose: Purpose = Purpose.NOTICE,
    values: Mapping[str, str] | None = None,
) -> DeliveryPlanned:
    return DeliveryPlanned(
        batch_id=batch_id_for(notice_id, language, batch_no),
        notice_id=notice_id,
        language=language,
        batch_no=batch_no,
        recipients=users(recipients),
        purpose=purpose,
        notice_recipients=max(recipients, 1) * (batch_no + 1),
        planned_at=datetime(2027, 1, 4, 9, 0, tzinfo=UTC),
        content=content or CONTENT,
        values=dict(values or {}),
    )


def consumed(values: Sequence[Any], *, topic: str = "t", first_offset: int = 0) -> list[Consumed[Any]]:
    return [
        Consumed(value, SimpleNamespace(topic=topic, partition=0, offset=first_offset + i))  # type: ignore[arg-type]
        for i, value in enumerate(values)
    ]


class EngineStub:
    """A LibreTranslate-shaped HTTP stub: counts requests; "translates" by tagging each text with
    the target language (tokens pass through, like a well-behaved engine); can be told to fail or to
    mangle tokens."""

    def __init__(self, *, delay: float = 0.0) -> None:
        self.requests: list[dict[str, Any]] = []
        self.delay = delay
        self.fail_with: int | None = None
        self.mangle = False

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.requests.append(body)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail_with is not None:
            return httpx.Response(self.fail_with, json={"error": "stub failure"})
        out = []
        for text in body["q"]:
            translated = f"«{body['target']}» {text}"
            out.append(translated.replace("XQZ", "") if self.mangle else translated)
        return httpx.Response(200, json={"translatedText": out})

    def backend(self, name: str = "libretranslate") -> Backend:
        """The stub as a LibreTranslate backend; another ``name`` gives it its own budget row."""
        client = httpx.AsyncClient(transport=httpx.MockTransport(self), base_url="http://engine.test")
        if name == "libretranslate":
            return LibreTranslateBackend(client)
        named: type[LibreTranslateBackend] = type(
            "NamedLibreTranslate", (LibreTranslateBackend,), {"name": name}
        )
        return named(client)


def engine_for(
    backend: Backend,
    pool: Pool,
    *,
    budgets: Mapping[str, int] | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Engine:
    budget_kwargs: dict[str, Any] = {"clock": clock} if clock else {}
    return Engine(
        backend,
        breaker=CircuitBreaker(backend.name, failure_threshold=5, reset_seconds=60),
        budget=BudgetStore(pool, limits=dict(budgets or {}), zone=ZoneInfo("Asia/Tokyo"), **budget_kwargs),
        retry=RetryPolicy(attempts=2, initial_seconds=0.01, max_seconds=0.05),
    )


def translator_for(
    pool: Pool,
    engines: Mapping[str, Engine],
    languages: Mapping[str, str],
    *,
    fallback_retry_seconds: float = 600.0,
    clock: Callable[[], datetime] | None = None,
) -> Translator:
    kwargs: dict[str, Any] = {"clock": clock} if clock else {}
    return Translator(
        pool,
        engines=engines,
        backend_for=lambda language: languages.get(language),
        fallback_retry_seconds=fallback_retry_seconds,
        **kwargs,
    )


async def read_ready(bootstrap: str, topic: str, expect: int, timeout: float = 30) -> list[DeliveryReady]:
    records = await read_all(bootstrap, topic, expect=expect, timeout=timeout)
    return [DeliveryReady.model_validate_json(r.value) for r in records]
