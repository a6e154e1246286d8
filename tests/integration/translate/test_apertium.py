"""Against a real Apertium APY server (started by the harness): routes, chaining en→es→pt-BR,
placeholders and glossary terms surviving, the memory saving the second call."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from services.common.contracts import NoticeCategory, NoticeContent
from services.common.db import Pool
from services.translate.backends.apertium import ApertiumBackend
from services.translate.backends.engine import Engine

from .harness import engine_for, notice_content, translator_for


class Counted:
    def __init__(self) -> None:
        self.translate_requests = 0

    async def __call__(self, request: httpx.Request) -> None:
        if request.url.path == "/translate":
            self.translate_requests += 1


@pytest.fixture
async def apertium(apertium_url: str, pool: Pool) -> AsyncIterator[tuple[Engine, Counted]]:
    counted = Counted()
    async with httpx.AsyncClient(
        base_url=apertium_url, timeout=30, event_hooks={"request": [counted]}
    ) as client:
        yield engine_for(ApertiumBackend(client), pool), counted


async def test_pairs_and_routes(apertium: tuple[Engine, Counted]) -> None:
    engine, _ = apertium
    assert await engine.route("en", "es") == [("en", "es")]
    assert await engine.route("en", "pt-BR") == [("en", "es"), ("es", "pt-BR")]
    assert await engine.route("en", "vi") is None


async def test_spanish_keeps_placeholders_and_glossary_terms(
    apertium: tuple[Engine, Counted], pool: Pool
) -> None:
    engine, counted = apertium
    translator = translator_for(pool, {"apertium": engine}, {"es": "apertium", "pt-BR": "apertium"})
    source = notice_content()
    row = await translator.resolve(uuid.uuid4(), source, "es")
    assert (row.source, row.text_language, row.engine) == ("machine", "es", "apertium")
    assert "{date}" in row.title
    assert row.body.count("{date}") == 2 and "{city}" in row.body
    assert "tarjeta de residencia" in row.body
    assert "Oficina Regional de Servicios de Inmigración" in row.body
    assert "periodo" in row.body.lower()  # Apertium's Spanish, not the English source
    assert counted.translate_requests == 3  # title and two paragraphs, one request each


async def test_portuguese_chains_through_spanish_and_reuses_the_memory(
    apertium: tuple[Engine, Counted], pool: Pool
) -> None:
    engine, counted = apertium
    translator = translator_for(pool, {"apertium": engine}, {"es": "apertium", "pt-BR": "apertium"})
    marker = uuid.uuid4().hex[:8]
    source = NoticeContent(
        title=f"Your period of stay ends on {{date}} ({marker})",
        body=f"Renew your residence card before {{date}} ({marker}).\n\nAsk in {{city}} ({marker}).",
        source_language="en",
        category=NoticeCategory.IMMIGRATION,
    )
    portuguese = await translator.resolve(uuid.uuid4(), source, "pt-BR")
    assert portuguese.source == "machine" and portuguese.text_language == "pt-BR"
    assert "{date}" in portuguese.title and "{city}" in portuguese.body
    assert "cartão de residência" in portuguese.body
    hops = counted.translate_requests
    assert hops == 6  # three segments, two hops
    # Spanish for another notice with the same text: the en→es hop is in the memory already
    spanish = await translator.resolve(uuid.uuid4(), source, "es")
    assert spanish.source == "memory"
    assert counted.translate_requests == hops
