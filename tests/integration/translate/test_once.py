"""Each (notice, language) is translated once, however many batches, polls and replicas see it;
a redelivered batch is rendered identically. Real PostgreSQL and Kafka; the engine is an HTTP stub."""

from __future__ import annotations

import asyncio
import uuid

from services.common.auth import Principal, Role
from services.common.contracts import NoticeContent, Purpose, SendMode
from services.common.db import Pool
from services.common.kafka import Publisher
from services.translate import store
from services.translate.api import ApiContext, _approve
from services.translate.domain.content import source_hash
from services.translate.handlers import PlannedHandler
from services.translate.store import NoticeRecord

from .harness import EngineStub, consumed, engine_for, notice_content, planned, read_ready, translator_for


def handler(pool: Pool, publisher: Publisher, topic: str, stub: EngineStub) -> PlannedHandler:
    """One 'replica': its own translator, engine and single-flight, sharing the database."""
    translator = translator_for(
        pool, {"libretranslate": engine_for(stub.backend(), pool)}, {"es": "libretranslate"}
    )
    return PlannedHandler(pool=pool, translator=translator, publisher=publisher, topic=topic)


async def test_twenty_batches_of_one_notice_and_language_cause_one_engine_call(
    pool: Pool, kafka_bootstrap: str, kafka_publisher: Publisher, ready_topic: str
) -> None:
    stub = EngineStub(delay=0.2)  # slow enough that the polls overlap
    replica_a = handler(pool, kafka_publisher, ready_topic, stub)
    replica_b = handler(pool, kafka_publisher, ready_topic, stub)
    notice_id = uuid.uuid4()
    source = notice_content()
    batches = [planned(notice_id, "es", n, content=source) for n in range(20)]
    await asyncio.gather(
        replica_a(consumed(batches[0:4])),
        replica_a(consumed(batches[4:8])),
        replica_b(consumed(batches[8:14])),
        replica_a(consumed(batches[14:17])),
        replica_b(consumed(batches[17:20])),
    )
    assert len(stub.requests) == 1  # one request with the title and both paragraphs
    assert len(stub.requests[0]["q"]) == 3
    ready = await read_ready(kafka_bootstrap, ready_topic, expect=20)
    assert sorted(r.batch_no for r in ready) == list(range(20))
    assert {r.translation_source for r in ready} == {"machine"}
    assert len({r.messages[0]["text"] for r in ready}) == 1  # every batch the same text
    text = ready[0].messages[0]["text"]
    assert text.startswith("«es» Your period of stay ends on {date}")
    assert "tarjeta de residencia" in text  # glossary term, inserted after the engine
    assert "Oficina Regional de Servicios de Inmigración" in text
    for r in ready:
        original = next(b for b in batches if b.batch_id == r.batch_id)
        assert r.recipients == original.recipients and r.notice_recipients == original.notice_recipients
        assert r.key == f"{notice_id}:es"
    # the stored translation is the memory: another notice with the same text needs no engine call
    other = handler(pool, kafka_publisher, ready_topic, stub)
    await other(consumed([planned(uuid.uuid4(), "es", 0, content=source)]))
    assert len(stub.requests) == 1
    (again,) = [
        r for r in await read_ready(kafka_bootstrap, ready_topic, expect=21) if r.notice_id != notice_id
    ]
    assert again.translation_source == "memory"


async def test_a_redelivered_batch_is_identical_even_after_an_approval(
    pool: Pool, kafka_bootstrap: str, kafka_publisher: Publisher, ready_topic: str
) -> None:
    stub = EngineStub()
    replica = handler(pool, kafka_publisher, ready_topic, stub)
    notice_id = uuid.uuid4()
    source = notice_content()
    first = planned(notice_id, "es", 0, content=source)
    await replica(consumed([first]))

    # staff approve a human translation between the delivery and its redelivery
    digest = source_hash(source)
    async with pool.acquire() as conn:
        human = await store.submit_human(
            conn,
            notice_id=notice_id,
            language="es",
            source_hash=digest,
            title="Su periodo de estancia termina el {date}",
            body="Su tarjeta de residencia indica que su periodo de estancia termina el {date} ({city}).",
            submitted_by="staff-1",
            note=None,
        )
    notice = NoticeRecord(notice_id, digest, source, (), (), "notice")
    context = ApiContext(pool, None, replica.translator, {}, None, False)  # type: ignore[arg-type]
    await _approve(context, notice, human, _principal(), None)

    await replica(consumed([first]))  # redelivered: same batch id
    await replica(consumed([planned(notice_id, "es", 1, content=source)]))  # a batch not yet rendered
    ready = await read_ready(kafka_bootstrap, ready_topic, expect=3)
    by_no = sorted(ready, key=lambda r: (r.batch_no, r.translation_source))
    original, redelivered = [r for r in ready if r.batch_no == 0]
    assert original.model_dump() == redelivered.model_dump()  # same event id, time, text
    assert original.translation_source == "machine"
    newer = by_no[-1]
    assert newer.batch_no == 1 and newer.translation_source == "approved"
    assert newer.messages[0]["text"].startswith("Su periodo de estancia termina el {date}")
    assert len(stub.requests) == 1


async def test_reminders_translate_the_template_once_and_fill_each_batch(
    pool: Pool, kafka_bootstrap: str, kafka_publisher: Publisher, ready_topic: str
) -> None:
    stub = EngineStub()
    replica = handler(pool, kafka_publisher, ready_topic, stub)
    rule_notice = uuid.uuid4()  # stable per rule template
    template = notice_content()
    reminders = [
        planned(
            rule_notice,
            "es",
            0,
            content=template,
            recipients=1,
            purpose=Purpose.REMINDER,
            values={"date": "2027-03-31", "city": "Maebashi"},
        ),
        planned(
            rule_notice,
            "es",
            1,
            content=template,
            recipients=1,
            purpose=Purpose.REMINDER,
            values={"date": "2027-12-01", "city": "Ota"},
        ),
    ]
    await replica(consumed(reminders))
    assert len(stub.requests) == 1
    ready = sorted(await read_ready(kafka_bootstrap, ready_topic, expect=2), key=lambda r: r.batch_no)
    assert [r.mode for r in ready] == [SendMode.PUSH, SendMode.PUSH]
    first, second = (r.messages[0]["text"] for r in ready)
    assert "31 de marzo de 2027" in first and "Maebashi" in first and "{" not in first
    assert "1 de diciembre de 2027" in second and "Ota" in second


def _principal() -> Principal:
    return Principal("staff-2", "approver", Role.STAFF)


async def test_a_segment_shared_by_concurrent_translations_is_sent_once(pool: Pool) -> None:
    stub = EngineStub(delay=0.2)
    translator = translator_for(
        pool, {"libretranslate": engine_for(stub.backend(), pool)}, {"es": "libretranslate"}
    )
    shared = notice_content()
    other = NoticeContent(
        title=shared.title,
        body=shared.body.split("\n\n")[0] + "\n\nA different second paragraph.",
        source_language="en",
        category=shared.category,
    )
    first, second = await asyncio.gather(
        translator.resolve(uuid.uuid4(), shared, "es"), translator.resolve(uuid.uuid4(), other, "es")
    )
    assert first.source == "machine" and second.source == "machine"
    sent = sorted(text for request in stub.requests for text in request["q"])
    assert len(sent) == len(set(sent)) == 4  # title and first paragraph once, two second paragraphs
    assert first.title == second.title
