"""The router's consumers on real Kafka: LINE follow state, the conversation hook, dead letters."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from services.common import db
from services.common.contracts import (
    LineEvent,
    MessageReceived,
    SubscriberFollowed,
    SubscriberUnfollowed,
)
from services.common.kafka import Consumed
from services.common.topics import Topics
from services.router import registry
from services.router.app import RouterParts
from tests.integration.router.conftest import RunningRouter, caught_up, line_user, publish, wait_for
from tests.support.kafka import produce, read_all

T0 = datetime(2026, 7, 1, 3, 0, tzinfo=UTC)


class Conversation:
    """Stands in for the dialogue: sees each batch inside the consumer's transaction."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, bool | None]] = []

    async def __call__(self, conn: db.Connection, events: Sequence[Consumed[LineEvent]]) -> None:
        for item in events:
            subscriber = await registry.get_subscriber(conn, item.value.line_user_id)
            self.seen.append(
                (item.value.type, item.value.line_user_id, subscriber.followed if subscriber else None)
            )
            if isinstance(item.value, MessageReceived) and item.value.text == "en":
                await registry.set_language(conn, item.value.line_user_id, "en")


@pytest.fixture(scope="module")
def conversation() -> Conversation:
    return Conversation()


@pytest.fixture(scope="module")
async def router(start_router: Any, conversation: Conversation) -> AsyncIterator[RunningRouter]:
    def factory(parts: RouterParts) -> Conversation:
        # The dialogue gets the runtime (to publish replies) and the reminder planner (after a link).
        assert parts.runtime.publisher is not None
        assert parts.reminders is not None
        return conversation

    async with start_router(conversation=factory) as running:
        yield running


def _event(kind: type[Any], user: str, at: datetime, **kw: Any) -> Any:
    return kind(line_user_id=user, webhook_event_id=uuid.uuid4().hex, line_timestamp=at, **kw)


async def test_follow_state_and_the_conversation_hook_in_one_transaction(
    router: RunningRouter,
    pool: db.Pool,
    kafka_bootstrap: str,
    router_topics: Topics,
    conversation: Conversation,
) -> None:
    user = line_user()
    events = [
        _event(SubscriberFollowed, user, T0),
        _event(MessageReceived, user, T0 + timedelta(seconds=5), message_type="text", text="en"),
        _event(SubscriberUnfollowed, user, T0 + timedelta(minutes=1)),
        _event(SubscriberFollowed, user, T0 + timedelta(minutes=2), is_unblocked=True),
    ]
    await publish(kafka_bootstrap, router_topics.line_events, [(user, e) for e in events])
    await caught_up(
        pool, kafka_bootstrap, router_topics.line_events, router_topics.prefix + "router.line-events"
    )
    async with pool.acquire() as conn:
        subscriber = await registry.get_subscriber(conn, user)
    assert subscriber is not None
    assert subscriber.followed, "the re-follow is the newest event"
    assert subscriber.language == "en", "the hook's change committed with the batch"
    mine = [s for s in conversation.seen if s[1] == user]
    assert [s[0] for s in mine] == ["line.followed", "line.message", "line.unfollowed", "line.followed"]
    # Redelivered webhook events (same offsets are skipped; another offset by LINE time) change nothing.
    await publish(kafka_bootstrap, router_topics.line_events, [(user, events[2])])
    await caught_up(
        pool, kafka_bootstrap, router_topics.line_events, router_topics.prefix + "router.line-events"
    )
    async with pool.acquire() as conn:
        assert (await registry.get_subscriber(conn, user)).followed  # type: ignore[union-attr]


async def test_a_notice_that_can_never_be_processed_goes_to_the_dead_letter_topic_with_its_reason(
    router: RunningRouter, kafka_bootstrap: str, router_topics: Topics
) -> None:
    bad = {
        "type": "notice.submitted",
        "notice_id": str(uuid.uuid4()),
        "submitted_by": "x",
        "content": {"title": "t"},
    }
    await produce(kafka_bootstrap, router_topics.notices, [(b"k", orjson.dumps(bad))])
    [dead] = await wait_for(
        lambda: read_all(kafka_bootstrap, router_topics.dlq(router_topics.notices), expect=1, timeout=5)
    )
    headers = {k: v.decode() for k, v in dead.headers}
    assert headers["x-dlq-error-type"] == "invalid"
    assert "content.body" in headers["x-dlq-reason"]
    assert headers["x-dlq-consumer"] == router_topics.prefix + "router.notices"
