"""Every reply the dialogue can produce is a valid LINE reply / push request (LINE's OpenAPI document)."""

from __future__ import annotations

import pytest

from services.line_sandbox.spec import OpenApiDocument
from services.router.dialogue import Outcome
from tests.unit.line_sandbox.specs import spec_path

from .chat import CONFIG, VALID_CODE, Chat, consent_data, display


@pytest.fixture(scope="module")
def document() -> OpenApiDocument:
    # A missing document fails with the path it looked at, never skips the check.
    return OpenApiDocument.load(spec_path())


def conversation(language: str) -> list[Outcome]:
    chat = Chat(profile_language=language)
    chat.follow()
    chat.tap("cmd=language&page=1")
    chat.tap(f"cmd=set_language&lang={language}")
    chat.say("not a code")
    chat.say("GM-1234-5678")
    chat.say(display(VALID_CODE))
    chat.tap("cmd=nationality&page=1")
    chat.say("Atlantis")
    chat.tap("cmd=set_nationality&c=NP")
    chat.say("?")
    chat.tap("cmd=set_status&s=student")
    chat.card()
    chat.tap(consent_data())
    chat.say("AB12")
    chat.card()
    chat.say("thanks")
    chat.tap("cmd=help")
    chat.tap("cmd=topics")
    chat.tap("cmd=topic&c=tax&on=0")
    chat.tap("cmd=topics_done")
    chat.tap("cmd=stop")
    chat.tap("cmd=start")
    chat.tap("cmd=reminders")
    chat.unfollow()
    chat.follow(unblocked=True)
    chat.tap("cmd=delete")
    chat.tap("cmd=delete_confirm")
    return chat.history


@pytest.mark.parametrize("language", CONFIG.languages)
def test_replies_conform_to_lines_reply_and_push_schemas(document: OpenApiDocument, language: str) -> None:
    reply_schema = document.request_schema("/v2/bot/message/reply")
    push_schema = document.request_schema("/v2/bot/message/push")
    checked = 0
    for outcome in conversation(language):
        if not outcome.replies:
            continue
        messages = list(outcome.replies)
        assert document.check(reply_schema, {"replyToken": "r" * 32, "messages": messages}) == []
        assert document.check(push_schema, {"to": "U" + "0" * 32, "messages": messages}) == []
        checked += 1
    assert checked >= 20


def test_the_schema_check_rejects_what_line_would(document: OpenApiDocument) -> None:
    schema = document.request_schema("/v2/bot/message/reply")
    item = {"type": "action", "action": {"type": "postback", "label": "x", "data": "cmd=help"}}
    too_many = {"type": "text", "text": "hi", "quickReply": {"items": [item] * 14}}
    assert document.check(schema, {"replyToken": "r", "messages": [too_many]}) != []
    assert document.check(schema, {"replyToken": "r", "messages": [{"type": "text"}]}) != []
    assert document.check(schema, {"replyToken": "r", "messages": [{"type": "text", "text": "x"}] * 6}) != []
