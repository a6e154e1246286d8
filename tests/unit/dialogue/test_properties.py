"""Properties over random conversations: determinism, LINE's limits, privacy, serialisable state."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.common.contracts import (
    MessageReceived,
    PostbackReceived,
    SubscriberFollowed,
    SubscriberUnfollowed,
)
from services.router.dialogue import (
    CONSENT_VERSION,
    LinkWorker,
    Outcome,
    SubscriberState,
    handle,
)
from services.router.dialogue.line_messages import label_length

from .chat import CONFIG, OTHER_CODE, REVOKED_CODE, VALID_CODE, WORKER, Chat, consent_data, display

TEXTS = [
    "hello",
    "help",
    "ayuda",
    "言語",
    "ngôn ngữ",
    "stop",
    "再開",
    "delete",
    "xóa",
    "topics",
    "reminders",
    "Việt Nam",
    "Brasil",
    "特定技能１号",
    "Tiếng Việt",
    "日本語",
    display(VALID_CODE),
    display(OTHER_CODE),
    display(REVOKED_CODE),
    "GM-1234-5678",
    VALID_CODE,
    "AB1234",
    "Where do I put the garbage?",
    "😀",
]
POSTBACKS = [
    "cmd=language",
    "cmd=language&page=1",
    "cmd=set_language&lang=vi",
    "cmd=set_language&lang=ja-x-easy",
    "cmd=set_language&lang=ar",
    "cmd=skip&step=employer_code",
    "cmd=skip&step=nationality",
    "cmd=skip&step=residence_status",
    "cmd=skip&step=card",
    "cmd=nationality&page=1",
    "cmd=set_nationality&c=PH",
    "cmd=set_nationality&c=ZZ",
    "cmd=set_status&s=student",
    consent_data("yes"),
    consent_data("no"),
    consent_data("yes", "reminders-v0"),
    "cmd=topics",
    "cmd=topic&c=tax&on=0",
    "cmd=topic&c=disaster&on=0",
    "cmd=topics_done",
    "cmd=stop",
    "cmd=start",
    "cmd=delete",
    "cmd=delete_confirm",
    "cmd=delete_cancel",
    "cmd=help",
    "cmd=reminders",
    "garbage&&==",
]

steps = st.one_of(
    st.tuples(st.just("say"), st.sampled_from(TEXTS)),
    st.tuples(st.just("tap"), st.sampled_from(POSTBACKS)),
    st.tuples(st.just("card"), st.sampled_from([WORKER, "cd" * 32])),
    st.tuples(st.just("sticker"), st.none()),
    st.tuples(st.just("follow"), st.booleans()),
    st.tuples(st.just("unfollow"), st.none()),
    st.tuples(st.just("wait"), st.integers(min_value=1, max_value=7200)),
)
profiles = st.sampled_from([None, "en", "vi", "pt-BR", "ne", "zh-TW", "de"])


def play(profile: str | None, script: list[tuple[str, Any]]) -> list[tuple[SubscriberState | None, Outcome]]:
    chat = Chat(profile_language=profile)
    trace = []
    for kind, value in script:
        if kind == "wait":
            chat.clock += timedelta(seconds=value)
            continue
        before = chat.state
        if kind == "say":
            chat.say(value)
        elif kind == "tap":
            chat.tap(value)
        elif kind == "card":
            chat.card(value)
        elif kind == "sticker":
            chat.sticker()
        elif kind == "follow":
            chat.follow(unblocked=value)
        else:
            chat.unfollow()
        trace.append((before, chat.history[-1]))
    return trace


def check_line_limits(outcome: Outcome) -> None:
    assert len(outcome.replies) <= 5
    for i, message in enumerate(outcome.replies):
        assert message["type"] == "text" and 0 < len(message["text"]) <= 5000
        quick = message.get("quickReply")
        if quick is None:
            continue
        assert i == len(outcome.replies) - 1, "quick replies only on the last message"
        items = quick["items"]
        assert 1 <= len(items) <= 13
        for item in items:
            action = item["action"]
            assert item["type"] == "action" and action["type"] == "postback"
            assert 1 <= label_length(action["label"]) <= 20
            assert len(action["data"].encode()) <= 300
            assert len(action.get("displayText", "")) <= 300


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profiles, st.lists(steps, max_size=25))
def test_random_conversations_are_deterministic_and_within_lines_limits(
    profile: str | None, script: list[tuple[str, Any]]
) -> None:
    first = play(profile, script)
    second = play(profile, script)
    assert first == second  # same events, same states, replies and effects
    for before, outcome in first:
        check_line_limits(outcome)
        dumped = json.dumps(outcome.replies, ensure_ascii=False)
        # The worker id (a card number's pseudonym) never reaches a message.
        assert WORKER not in dumped and "cd" * 32 not in dumped
        for effect in outcome.effects:
            if isinstance(effect, LinkWorker):
                assert before is not None and before.consent_version == CONSENT_VERSION
                assert (
                    effect.consent_version == CONSENT_VERSION and effect.consented_at == before.consented_at
                )
        if outcome.state is not None:
            again = SubscriberState.from_dict(json.loads(json.dumps(outcome.state.to_dict())))
            assert again == outcome.state
            assert outcome.state.language in CONFIG.languages


@settings(max_examples=60, deadline=None)
@given(profiles, st.lists(steps, max_size=15), st.sampled_from(TEXTS + POSTBACKS))
def test_handle_is_a_pure_function_of_its_inputs(
    profile: str | None, script: list[tuple[str, Any]], last: str
) -> None:
    """Replaying one event on the same state (a redelivered webhook) gives the very same outcome."""
    trace = play(profile, script)
    state = trace[-1][1].state if trace else None
    chat = Chat(profile_language=profile)
    event = (
        chat.event(PostbackReceived, data=last)
        if last.startswith(("cmd", "garbage"))
        else chat.event(MessageReceived, message_type="text", text=last)
    )
    now = chat.clock + timedelta(seconds=2)
    one = handle(state, event, now=now, config=CONFIG, profile_language=profile)
    two = handle(state, event, now=now, config=CONFIG, profile_language=profile)
    assert one == two


def test_follow_and_unfollow_for_nobody() -> None:
    chat = Chat()
    gone = chat.send(chat.event(SubscriberUnfollowed))
    assert gone.state is None and gone.effects == () and gone.replies == ()
    hello = chat.send(chat.event(SubscriberFollowed, is_unblocked=True))
    assert hello.state is not None and hello.replies  # no old row: a normal greeting
