"""Where a text comes from: machine, memory, fallback (with the reader's line), budget, approvals."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from services.common.contracts import NoticeCategory, NoticeContent
from services.common.db import Pool
from services.common.kafka import Publisher
from services.translate import store
from services.translate.domain.content import source_hash
from services.translate.domain.fallback import fallback_line
from services.translate.handlers import PlannedHandler

from .harness import EngineStub, consumed, engine_for, notice_content, planned, read_ready, translator_for


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


async def test_a_language_without_an_engine_falls_back_with_a_line_in_its_own_language(
    pool: Pool, kafka_bootstrap: str, kafka_publisher: Publisher, ready_topic: str
) -> None:
    stub = EngineStub()
    translator = translator_for(
        pool, {"libretranslate": engine_for(stub.backend(), pool)}, {"es": "libretranslate"}
    )
    replica = PlannedHandler(pool=pool, translator=translator, publisher=kafka_publisher, topic=ready_topic)
    notice_id = uuid.uuid4()
    source = notice_content()
    await replica(consumed([planned(notice_id, "ne", n, content=source) for n in range(3)]))
    ready = await read_ready(kafka_bootstrap, ready_topic, expect=3)
    assert {r.translation_source for r in ready} == {"fallback"}
    text = ready[0].messages[0]["text"]
    assert text.startswith(fallback_line("ne", "en") + "\n\n" + source.title)
    assert stub.requests == []  # nothing to call for Nepali
    row = await store.current_translation(pool, (notice_id, "ne", source_hash(source)))
    assert row is not None and row.retry_at is None and "no machine translation" in (row.reason or "")


async def test_budget_exhaustion_falls_back_and_machine_translation_resumes_later(
    pool: Pool, kafka_bootstrap: str, kafka_publisher: Publisher, ready_topic: str
) -> None:
    stub = EngineStub()
    clock = Clock()
    name = f"libre-{uuid.uuid4().hex[:6]}"  # its own budget row
    small = engine_for(stub.backend(name), pool, budgets={name: 50}, clock=clock)
    translator = translator_for(pool, {name: small}, {"es": name}, fallback_retry_seconds=600, clock=clock)
    replica = PlannedHandler(pool=pool, translator=translator, publisher=kafka_publisher, topic=ready_topic)
    notice_id = uuid.uuid4()
    source = notice_content()
    await replica(consumed([planned(notice_id, "es", 0, content=source)]))
    await replica(consumed([planned(notice_id, "es", 1, content=source)]))  # still within the retry delay
    ready = await read_ready(kafka_bootstrap, ready_topic, expect=2)
    assert {r.translation_source for r in ready} == {"fallback"}
    assert all(r.messages[0]["text"].startswith(fallback_line("es", "en")) for r in ready)
    assert stub.requests == []  # the budget refused before any request went out
    row = await store.current_translation(pool, (notice_id, "es", source_hash(source)))
    assert row is not None and "monthly budget of 50 characters used up" in (row.reason or "")
    assert row.retry_at is not None and row.retry_at > clock.now

    # Ten minutes later, with a budget that allows it, the next batch gets the machine translation.
    clock.now += timedelta(minutes=11)
    translator.engines[name] = engine_for(stub.backend(name), pool, budgets={name: 100_000}, clock=clock)
    await replica(consumed([planned(notice_id, "es", 2, content=source)]))
    ready = await read_ready(kafka_bootstrap, ready_topic, expect=3)
    latest = next(r for r in ready if r.batch_no == 2)
    assert latest.translation_source == "machine" and latest.messages[0]["text"].startswith("«es»")
    assert len(stub.requests) == 1
    used = await small.budget.used(name) if small.budget else 0
    assert used == sum(len(q) for q in stub.requests[0]["q"])


async def test_a_fallback_due_for_retry_that_still_fails_keeps_its_revision(pool: Pool) -> None:
    stub = EngineStub()
    stub.fail_with = 503
    clock = Clock()
    translator = translator_for(
        pool, {"libretranslate": engine_for(stub.backend(), pool)}, {"es": "libretranslate"}, clock=clock
    )
    notice_id = uuid.uuid4()
    source = notice_content()
    first = await translator.resolve(notice_id, source, "es")
    assert first.source == "fallback" and "503" in (first.reason or "")
    clock.now += timedelta(hours=1)
    (again,) = (await translator.translations_for([(notice_id, source, "es")])).values()
    assert again.revision == first.revision  # the same text: batches stay identical
    assert again.retry_at is not None and again.retry_at > clock.now
    assert len(stub.requests) == 2 * 2  # two attempts per engine call, two calls an hour apart


async def test_an_engine_that_mangles_a_placeholder_is_not_used(pool: Pool) -> None:
    stub = EngineStub()
    stub.mangle = True
    translator = translator_for(
        pool, {"libretranslate": engine_for(stub.backend(), pool)}, {"es": "libretranslate"}
    )
    source = notice_content()
    row = await translator.resolve(uuid.uuid4(), source, "es")
    assert row.source == "fallback" and row.text_language == "en"
    assert "protected tokens changed" in (row.reason or "")
    assert row.title == source.title  # the English source, placeholders intact
    async with pool.acquire() as conn:
        remembered = await conn.fetchval(
            "SELECT count(*) FROM translate_memory WHERE source_text LIKE $1", f"%{source.body[-14:]}%"
        )
    assert remembered == 0  # a mangled output never enters the memory


async def test_fallback_uses_an_approved_translation_of_the_chain_language(pool: Pool) -> None:
    translator = translator_for(pool, {}, {})
    notice_id = uuid.uuid4()
    source = NoticeContent(
        title="在留カードの更新",
        body="{date}までに更新してください。",
        source_language="ja",
        category=NoticeCategory.IMMIGRATION,
    )
    digest = source_hash(source)
    async with pool.acquire() as conn, conn.transaction():
        human = await store.submit_human(
            conn,
            notice_id=notice_id,
            language="en",
            source_hash=digest,
            title="Renewing your residence card",
            body="Please renew it by {date}.",
            submitted_by="staff",
            note=None,
        )
        await store.decide_human(conn, human.id, status="approved", decided_by="lead", note=None)
    nepali = await translator.resolve(notice_id, source, "ne")
    assert (nepali.source, nepali.text_language, nepali.title) == (
        "fallback",
        "en",
        "Renewing your residence card",
    )
    english = await translator.resolve(notice_id, source, "en")
    assert english.source == "approved"
    japanese = await translator.resolve(notice_id, source, "ja")
    assert (japanese.source, japanese.title) == ("approved", source.title)  # written in it
    easy = await translator.resolve(notice_id, source, "ja-x-easy")
    assert (easy.source, easy.text_language) == ("fallback", "ja")  # Easy Japanese → Japanese first
