"""The onboarding conversation in the router on real Kafka and PostgreSQL: LINE events in, replies out.

The router runs in-process with ``conversation_factory`` (what ``python -m services.router`` plugs in);
LINE events are produced to its line-events topic as ingest would, and replies are read from its
deliveries.ready topic. The end-to-end tests (tests/e2e/onboarding) add the sandbox, ingest and sender.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiokafka import AIOKafkaConsumer

from services.common import db
from services.common.codes import ResidenceStatus
from services.common.contracts import (
    DeliveryReady,
    Establishment,
    LineEvent,
    MessageReceived,
    PostbackReceived,
    Purpose,
    SendMode,
    SubscriberFollowed,
    SubscriberUnfollowed,
    WorkerHired,
    derived_id,
)
from services.common.kafka import Publisher, create_broker
from services.common.topics import Topics
from services.router import audience_store, registration_codes, registry, reply_outbox
from services.router.conversation import conversation_factory
from services.router.dialogue import CONSENT_VERSION, DialogueConfig, texts
from services.router.dialogue.employer_code import check_symbol, display
from services.router.dialogue.prompts import Voice
from services.router.domain.audience import Audience
from services.router.reply_outbox import ReplyRelay
from tests.integration.router.conftest import RunningRouter, line_user, publish, wait_for, worker_id

TOKYO = ZoneInfo("Asia/Tokyo")
CONFIG = DialogueConfig()
OTA, MAEBASHI = "102059", "102016"


class Replies:
    """Every DeliveryReady the router publishes, by notice id (one per answered LINE event)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self._consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
        )
        self.by_notice: dict[uuid.UUID, list[DeliveryReady]] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._consumer.start()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()

    async def _run(self) -> None:
        while True:
            batch = await self._consumer.getmany(timeout_ms=100)
            for records in batch.values():
                for record in records:
                    ready = DeliveryReady.model_validate_json(record.value)
                    self.by_notice.setdefault(ready.notice_id, []).append(ready)

    async def to(self, event: LineEvent, timeout: float = 30) -> DeliveryReady:
        notice_id = derived_id("conversation", event.line_user_id, event.webhook_event_id)

        async def arrived() -> DeliveryReady | None:
            found = self.by_notice.get(notice_id)
            return found[0] if found else None

        ready: DeliveryReady = await wait_for(arrived, timeout=timeout, interval=0.05)
        return ready

    def count(self, event: LineEvent) -> int:
        return len(
            self.by_notice.get(derived_id("conversation", event.line_user_id, event.webhook_event_id), [])
        )


@pytest.fixture(scope="module")
async def router(start_router: Any) -> AsyncIterator[RunningRouter]:
    async with start_router(
        conversation=conversation_factory,
        quiet_hours_start="00:00",
        quiet_hours_end="00:00",
        line_basic_id="@gunma-test",
        dialogue_relay_poll_seconds=0.2,
    ) as running:
        yield running


@pytest.fixture(scope="module")
async def replies(
    router: RunningRouter, kafka_bootstrap: str, router_topics: Topics
) -> AsyncIterator[Replies]:
    collector = Replies(kafka_bootstrap, router_topics.deliveries_ready)
    await collector.start()
    yield collector
    await collector.stop()


class Phone:
    """One worker's LINE events, produced to line-events.v1 as ingest would."""

    def __init__(self, bootstrap: str, topics: Topics, replies: Replies, user: str | None = None) -> None:
        self.bootstrap, self.topics, self.replies = bootstrap, topics, replies
        self.user = user or line_user()

    def event(self, kind: type[Any], **fields: Any) -> LineEvent:
        event: LineEvent = kind(
            line_user_id=self.user,
            webhook_event_id=uuid.uuid4().hex[:26].upper(),
            line_timestamp=datetime.now(UTC),
            reply_token=None if kind is SubscriberUnfollowed else uuid.uuid4().hex,
            **fields,
        )
        return event

    async def send(self, event: LineEvent) -> LineEvent:
        await publish(self.bootstrap, self.topics.line_events, [(self.user, event)])
        return event

    async def turn(self, kind: type[Any], **fields: Any) -> DeliveryReady:
        return await self.replies.to(await self.send(self.event(kind, **fields)))

    async def follow(self, **fields: Any) -> DeliveryReady:
        return await self.turn(SubscriberFollowed, **fields)

    async def say(self, text: str) -> DeliveryReady:
        return await self.turn(MessageReceived, message_type="text", text=text)

    async def tap(self, data: str) -> DeliveryReady:
        return await self.turn(PostbackReceived, data=data)

    async def card(self, worker: str) -> DeliveryReady:
        return await self.turn(MessageReceived, message_type="text", text=None, card_worker_id=worker)


def texts_of(ready: DeliveryReady) -> list[str]:
    return [m["text"] for m in ready.messages]


async def establishment_with_code(pool: db.Pool, city: str) -> tuple[str, str]:
    ident = f"E{uuid.uuid4().hex[:10].upper()}"
    async with pool.acquire() as conn, conn.transaction():
        await registration_codes.enter_establishment(
            conn, ident, name="Test Works", municipality_code=city, address=None, by="test"
        )
        code = await registration_codes.issue(conn, ident, by="test", now=datetime.now(UTC))
    return ident, code.code


async def subscriber_row(pool: db.Pool, user: str) -> dict[str, Any] | None:
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT * FROM subscribers WHERE line_user_id = $1", user)
    return dict(row) if row is not None else None


@pytest.fixture
def phone(kafka_bootstrap: str, router_topics: Topics, replies: Replies) -> Phone:
    return Phone(kafka_bootstrap, router_topics, replies)


async def test_onboarding_links_employer_consent_and_card_and_raises_the_reminder_due(
    router: RunningRouter, pool: db.Pool, kafka_bootstrap: str, router_topics: Topics, phone: Phone
) -> None:
    vi = Voice(CONFIG, "vi")
    establishment, code = await establishment_with_code(pool, OTA)
    # The feed knows the worker: hired in Maebashi (another city than the code's), stay ends in 75 days.
    worker = worker_id()
    today = datetime.now(TOKYO).date()
    expires = today + timedelta(days=75)
    async with pool.acquire() as conn, conn.transaction():
        await registry.apply_employment(
            conn,
            [
                WorkerHired(
                    worker_id=worker,
                    source="test",
                    source_event_id=uuid.uuid4().hex,
                    reported_at=datetime.now(UTC) - timedelta(days=30),
                    establishment=Establishment(
                        establishment_id=f"R{uuid.uuid4().hex[:8]}", municipality_code=MAEBASHI
                    ),
                    nationality="VN",
                    residence_status=ResidenceStatus.SPECIFIED_SKILLED_WORKER_1,
                    period_expires_on=expires,
                    hired_on=today - timedelta(days=40),
                )
            ],
        )

    greeting = await phone.follow()
    assert greeting.mode is SendMode.REPLY and greeting.reply_token is not None, "a fresh token: reply"
    assert greeting.purpose is Purpose.CONVERSATION and greeting.translation_source == "catalog"
    assert greeting.language == "en" and len(texts_of(greeting)) == 2

    chosen = await phone.tap("cmd=set_language&lang=vi")
    assert chosen.language == "vi"
    assert texts_of(chosen)[0] == vi(texts.LANGUAGE_SET, language="Tiếng Việt")

    accepted = await phone.say(f"mã của tôi: {display(code, 'GM').lower()}")
    assert texts_of(accepted)[0] == vi(texts.CODE_ACCEPTED, city="Ota")

    await phone.tap("cmd=set_nationality&c=VN")
    await phone.tap("cmd=set_status&s=specified_skilled_worker_1")
    consent = await phone.tap(f"cmd=consent&v={CONSENT_VERSION}&a=yes")
    assert texts_of(consent)[-1] == vi(texts.ASK_CARD)
    linked = await phone.card(worker)
    assert vi(texts.CARD_LINKED) in texts_of(linked)

    row = await subscriber_row(pool, phone.user)
    assert row is not None
    assert row["language"] == "vi"
    assert (row["declared_establishment_id"], row["declared_municipality_code"]) == (establishment, OTA)
    assert (row["declared_nationality"], row["declared_residence_status"]) == (
        "VN",
        "specified_skilled_worker_1",
    )
    assert (row["worker_id"], row["consent_version"]) == (worker, CONSENT_VERSION)
    assert row["dialogue"]["step"] == "done" and row["dialogue"]["worker_linked"] is True
    # Consent scope: the audience columns are the declared city, never the record's (Maebashi).
    assert (row["municipality_code"], row["record_municipality_code"]) == (OTA, MAEBASHI)
    async with pool.acquire() as conn:
        consent_rows = await conn.fetch("SELECT * FROM consent_log WHERE line_user_id = $1", phone.user)
        uses = await conn.fetchval("SELECT registrations FROM registration_codes WHERE code = $1", code)
        in_maebashi = await audience_store.count(conn, Audience(cities=(MAEBASHI,)), None)
        in_ota = await audience_store.count(conn, Audience(cities=(OTA,)), None)
    assert [(r["consent_version"], r["language"]) for r in consent_rows] == [(CONSENT_VERSION, "vi")]
    assert uses == 1
    assert phone.user not in str(in_maebashi) and sum(c.count for c in in_ota) >= 1

    # The 90-day reminder was due (its window is open): raised at the link and published at once.
    async def reminder() -> bool:
        async with pool.acquire() as conn:
            state = await conn.fetchval(
                "SELECT state FROM reminder_deliveries"
                " WHERE worker_id = $1 AND rule_id = 'residence-expiry-90'",
                worker,
            )
        return bool(state == "published")

    await wait_for(reminder, timeout=30)


async def test_a_wrong_code_gets_a_helpful_reply_and_another_try_and_a_revoked_one_says_so(
    router: RunningRouter, pool: db.Pool, phone: Phone
) -> None:
    es = Voice(CONFIG, "es")
    _, code = await establishment_with_code(pool, OTA)
    await phone.follow()
    await phone.tap("cmd=set_language&lang=es")
    unknown = "4F7HT2K" + check_symbol("4F7HT2K")
    not_found = await phone.say(display(unknown, "GM"))
    assert texts_of(not_found)[0] == es(texts.CODE_NOT_FOUND)
    typo = await phone.say(display(code[:-1] + ("0" if code[-1] != "0" else "1"), "GM"))
    assert texts_of(typo)[0] == es(texts.CODE_MALFORMED, example=CONFIG.example_code)
    async with pool.acquire() as conn:
        await registration_codes.revoke(conn, code, by="test", now=datetime.now(UTC), reason="leaked")
    revoked = await phone.say(display(code, "GM"))
    assert texts_of(revoked)[0] == es(texts.CODE_REVOKED)
    row = await subscriber_row(pool, phone.user)
    assert row is not None and row["declared_establishment_id"] is None
    assert row["dialogue"]["code_failures"] == 2 and row["dialogue"]["step"] == "employer_code"


async def test_the_same_webhook_event_at_another_offset_changes_nothing_and_sends_nothing_twice(
    router: RunningRouter, pool: db.Pool, replies: Replies, router_topics: Topics, phone: Phone
) -> None:
    await phone.follow()
    await phone.tap("cmd=set_language&lang=en")
    stop = phone.event(MessageReceived, message_type="text", text="stop")
    await replies.to(await phone.send(stop))
    before = await subscriber_row(pool, phone.user)
    # Ingest's relay published it twice (a crash after Kafka's ack): same webhookEventId, new offset.
    await phone.send(stop)
    after_marker = await phone.say("help")  # in order behind the duplicate on the same partition
    assert after_marker.messages
    after = await subscriber_row(pool, phone.user)
    assert before is not None and after is not None
    assert before["stopped_at"] is not None and after["stopped_at"] == before["stopped_at"]
    assert after["dialogue"] == before["dialogue"], "help changes nothing, and the duplicate was skipped"
    await asyncio.sleep(0.5)
    assert replies.count(stop) == 1


async def test_unfollow_stops_everything_and_a_refollow_resumes_with_the_old_preferences(
    router: RunningRouter, pool: db.Pool, replies: Replies, phone: Phone
) -> None:
    th = Voice(CONFIG, "th")
    await phone.follow()
    await phone.tap("cmd=set_language&lang=th")
    await phone.tap("cmd=topic&c=tax&on=0")
    gone = await phone.send(phone.event(SubscriberUnfollowed))

    async def unfollowed() -> bool:
        row = await subscriber_row(pool, phone.user)
        return row is not None and not row["followed"] and row["dialogue"]["followed"] is False

    await wait_for(unfollowed, timeout=30)
    assert replies.count(gone) == 0, "LINE refuses replies to an unfollow"
    async with pool.acquire() as conn:
        reachable = await audience_store.count(conn, Audience(), None)
    assert all(phone.user not in str(cell) for cell in reachable)
    back = await phone.follow(is_unblocked=True)
    assert back.language == "th" and texts_of(back)[0] == th(texts.WELCOME_BACK)
    row = await subscriber_row(pool, phone.user)
    assert row is not None and row["followed"] and row["language"] == "th"
    assert row["opted_out_categories"] == ["tax"] and row["stopped_at"] is None


async def test_delete_my_data_asks_first_then_erases_everything_but_an_anonymous_count(
    router: RunningRouter, pool: db.Pool, phone: Phone
) -> None:
    ko = Voice(CONFIG, "ko")
    _, code = await establishment_with_code(pool, OTA)
    await phone.follow()
    await phone.tap("cmd=set_language&lang=ko")
    await phone.say(display(code, "GM"))
    await phone.tap(f"cmd=consent&v={CONSENT_VERSION}&a=yes")
    await phone.card(worker_id())
    async with pool.acquire() as conn:
        erased_before = await conn.fetchval("SELECT COALESCE(sum(erasures), 0) FROM subscriber_erasures")
    asked = await phone.say("삭제")  # "delete" in Korean
    assert texts_of(asked)[0] == ko(texts.DELETE_CONFIRM)
    assert await subscriber_row(pool, phone.user) is not None, "nothing is erased before the confirmation"
    goodbye = await phone.tap("cmd=delete_confirm")
    assert texts_of(goodbye) == [ko(texts.DELETED)] and goodbye.language == "ko"
    assert await subscriber_row(pool, phone.user) is None
    async with pool.acquire() as conn:
        assert (
            await conn.fetchval("SELECT count(*) FROM consent_log WHERE line_user_id = $1", phone.user) == 0
        )
        erased_after = await conn.fetchval("SELECT COALESCE(sum(erasures), 0) FROM subscriber_erasures")
    assert erased_after == erased_before + 1
    # A later message starts afresh, as a new subscriber.
    again = await phone.say("hello")
    assert again.language == "en" and texts_of(again)[-1] == Voice(CONFIG, "en")(texts.CHOOSE_LANGUAGE)


def _left_behind(phone: Phone, text: str) -> tuple[LineEvent, DeliveryReady]:
    event = phone.event(MessageReceived, message_type="text", text=text)
    notice_id = derived_id("conversation", phone.user, event.webhook_event_id)
    now = datetime.now(UTC)
    return event, DeliveryReady(
        event_id=derived_id("delivery.ready", f"{notice_id}:en:0"),
        batch_id=f"{notice_id}:en:0",
        notice_id=notice_id,
        language="en",
        batch_no=0,
        recipients=(phone.user,),
        purpose=Purpose.CONVERSATION,
        notice_recipients=1,
        planned_at=now,
        mode=SendMode.PUSH,
        messages=({"type": "text", "text": text},),
        translation_source="catalog",
    )


async def test_replies_left_in_the_outbox_by_a_crash_are_relayed_once_even_by_racing_relays(
    router: RunningRouter, pool: db.Pool, replies: Replies, router_topics: Topics, phone: Phone
) -> None:
    # What the consumer writes in its transaction, as if the process died right after the commit:
    # nobody relays these rows after the commit, so the relay loops must.
    staged = [_left_behind(phone, f"left behind {n}") for n in range(20)]
    broker = create_broker(router.settings, client_id="racing-relay")
    await broker.start()
    try:
        relays = [
            ReplyRelay(
                pool=pool, publisher=Publisher(broker), topic=router_topics.deliveries_ready, poll_seconds=60
            )
            for _ in range(2)
        ]
        async with pool.acquire() as conn, conn.transaction():
            ids = await reply_outbox.stage(conn, [ready for _, ready in staged])
        # Two more relays race the router's own loop for the same rows: SKIP LOCKED gives each row to one.
        await asyncio.gather(*(relay.relay(ids) for relay in relays), relays[0].relay())
    finally:
        await broker.stop()
    for event, ready in staged:
        published = await replies.to(event)
        assert published.messages == ready.messages
    async with pool.acquire() as conn:
        assert (
            await conn.fetchval("SELECT count(*) FROM conversation_outbox WHERE id = ANY($1::bigint[])", ids)
            == 0
        )
    await asyncio.sleep(0.6)  # the loop polls every 0.2 s: it would have published a leftover by now
    assert [replies.count(event) for event, _ in staged] == [1] * len(staged)


async def test_a_card_without_consent_is_dropped_and_never_linked(
    router: RunningRouter, pool: db.Pool, phone: Phone
) -> None:
    await phone.follow()
    await phone.tap("cmd=set_language&lang=en")
    answer = await phone.card(worker_id())
    assert Voice(CONFIG, "en")(texts.CARD_NEEDS_CONSENT) in texts_of(answer)
    row = await subscriber_row(pool, phone.user)
    assert row is not None and row["worker_id"] is None
    async with pool.acquire() as conn:
        assert (
            await conn.fetchval("SELECT count(*) FROM consent_log WHERE line_user_id = $1", phone.user) == 0
        )


def test_registration_code_days_are_in_the_prefecture_time_zone() -> None:
    # 2026-03-31 16:00 UTC is 2026-04-01 in Tokyo: the declared employer's day is Tokyo's.
    at = datetime(2026, 3, 31, 16, 0, tzinfo=UTC)
    assert at.astimezone(TOKYO).date() == date(2026, 4, 1)


async def test_a_turn_writes_only_what_it_changed_into_the_registry(
    router: RunningRouter, pool: db.Pool, phone: Phone
) -> None:
    # Another writer of the registry (ops tools, the pipeline tests' shortcut) set values the dialogue
    # never heard of; a first follow's empty state must not erase them, later answers replace them.
    async with pool.acquire() as conn, conn.transaction():
        await registry.ensure_subscriber(conn, phone.user)
        await registry.set_language(conn, phone.user, "th")
        await registry.set_nationality(conn, phone.user, "PH")
        await registry.set_opted_out(conn, phone.user, ["tax"])
    await phone.follow()
    row = await subscriber_row(pool, phone.user)
    assert row is not None and row["dialogue"] is not None
    assert (row["language"], row["declared_nationality"], row["opted_out_categories"]) == (
        "th",
        "PH",
        ["tax"],
    )
    await phone.tap("cmd=set_language&lang=vi")
    await phone.tap("cmd=skip&step=employer_code")
    await phone.tap("cmd=set_nationality&c=VN")
    row = await subscriber_row(pool, phone.user)
    assert row is not None
    assert (row["language"], row["declared_nationality"], row["opted_out_categories"]) == (
        "vi",
        "VN",
        ["tax"],
    )
