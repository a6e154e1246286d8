"""LINE webhooks: the signature over the raw body, and LINE's events mapped to our contracts."""

import base64
import hashlib
import hmac
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.common import pseudonym
from services.common.contracts import (
    MessageReceived,
    PostbackReceived,
    SubscriberFollowed,
    SubscriberUnfollowed,
    derived_id,
)
from services.ingest.domain import line_webhook
from services.ingest.domain.line_webhook import Ignored, Invalid

PEPPER = b"unit-test-pepper-0123456789abcdef"
SECRET = b"channel-secret"
USER = "U" + "0123456789abcdef" * 2


def event(kind: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "timestamp": 1_712_000_000_123,
        "mode": "active",
        "webhookEventId": "01HQZX3Y4V5W6T7S8R9P0NMLKJ",
        "deliveryContext": {"isRedelivery": True},
        "source": {"type": "user", "userId": USER},
        **extra,
    }


def test_signature_is_the_base64_hmac_of_the_raw_body() -> None:
    body = b'{"destination":"U0","events":[]}'
    signature = base64.b64encode(hmac.new(SECRET, body, hashlib.sha256).digest()).decode()
    assert line_webhook.signature_valid(SECRET, body, signature)
    assert line_webhook.signature_valid(SECRET, body, f" {signature} ")
    assert not line_webhook.signature_valid(SECRET, body + b" ", signature)
    assert not line_webhook.signature_valid(b"other", body, signature)
    assert not line_webhook.signature_valid(SECRET, body, "")
    assert not line_webhook.signature_valid(SECRET, body, "не base64 ✗")


def test_follow_and_unblock() -> None:
    followed = line_webhook.to_contract(
        event("follow", replyToken="r", follow={"isUnblocked": True}), pepper=PEPPER
    )
    assert isinstance(followed, SubscriberFollowed)
    assert followed.is_unblocked and followed.is_redelivery
    assert followed.line_user_id == USER
    assert followed.reply_token == "r"
    assert followed.event_id == derived_id("line", "01HQZX3Y4V5W6T7S8R9P0NMLKJ")  # stable across redeliveries
    assert followed.line_timestamp.timestamp() == 1_712_000_000.123
    assert isinstance(line_webhook.to_contract(event("unfollow"), pepper=PEPPER), SubscriberUnfollowed)


def test_text_other_messages_and_postbacks() -> None:
    text = line_webhook.to_contract(
        event("message", message={"type": "text", "id": "1", "text": "こんにちは"}), pepper=PEPPER
    )
    assert isinstance(text, MessageReceived) and text.text == "こんにちは" and text.card_worker_id is None
    sticker = line_webhook.to_contract(
        event("message", message={"type": "sticker", "id": "2"}), pepper=PEPPER
    )
    assert isinstance(sticker, MessageReceived) and sticker.message_type == "sticker" and sticker.text is None
    postback = line_webhook.to_contract(
        event("postback", postback={"data": "action=lang&code=vi", "params": {"date": "2024-04-01"}}),
        pepper=PEPPER,
    )
    assert isinstance(postback, PostbackReceived)
    assert postback.data == "action=lang&code=vi" and postback.params == {"date": "2024-04-01"}


@pytest.mark.parametrize(
    "typed", ["AB12345678CD", "ab 1234 5678 cd", "ＡＢ１２３４５６７８ＣＤ", "AB-12345678-CD"]
)
def test_a_card_number_in_a_message_travels_only_as_its_hmac(typed: str) -> None:
    mapped = line_webhook.to_contract(
        event("message", message={"type": "text", "id": "1", "text": typed}), pepper=PEPPER
    )
    assert isinstance(mapped, MessageReceived)
    assert mapped.text is None
    assert mapped.card_worker_id == pseudonym.worker_id("AB12345678CD", PEPPER)
    payload = line_webhook.outgoing(mapped).payload.decode()
    assert "AB12345678CD" not in payload and typed not in payload


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (event("join"), "type:join"),
        (event("memberJoined"), "type:memberJoined"),
        (event("unsend"), "type:unsend"),
        (event("message", source={"type": "group", "groupId": "C1", "userId": USER}), "source:group"),
        (event("follow", source={"type": "room", "roomId": "R1"}), "source:room"),
        (event("follow", source=None), "source:other"),
    ],
)
def test_events_the_system_does_not_use_are_acknowledged_and_counted(
    raw: dict[str, Any], reason: str
) -> None:
    assert line_webhook.to_contract(raw, pepper=PEPPER) == Ignored(reason)


@pytest.mark.parametrize(
    "raw",
    [
        "not an object",
        {"timestamp": 1},
        event("follow", webhookEventId=None),
        event("follow", timestamp="yesterday"),
        event("follow", timestamp=10**22),
        event("follow", timestamp=-62_135_596_800_001),
        event("message", message=None),
        event("postback", postback={"data": "x" * 400}),
        event("follow", source={"type": "user", "userId": "not-a-line-id"}),
    ],
)
def test_malformed_events_are_invalid_with_field_reasons(raw: Any) -> None:
    mapped = line_webhook.to_contract(raw, pepper=PEPPER)
    assert isinstance(mapped, Invalid)
    assert mapped.errors and all(e["field"] and e["reason"] for e in mapped.errors)


def test_outgoing_record_is_keyed_by_the_user_and_deduplicated_on_the_webhook_event_id() -> None:
    mapped = line_webhook.to_contract(event("unfollow"), pepper=PEPPER)
    assert isinstance(mapped, SubscriberUnfollowed)
    out = line_webhook.outgoing(mapped)
    assert out.key == USER.encode()
    assert out.source_event_id == "01HQZX3Y4V5W6T7S8R9P0NMLKJ"
    assert out.event_id == str(mapped.event_id)
    assert out.event_type == "line.unfollowed"


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=10)
    | st.sampled_from(
        ["9999-12-31T23:59:59-23:00", "0001-01-01", "R99.99.99", 10**30, -(10**20), 1e308, -1, ""]
    ),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=15,
)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        _json, st.builds(lambda k, v: {**event("message"), k: v}, st.sampled_from(list(event("x"))), _json)
    )
)
def test_any_event_maps_or_is_ignored_or_invalid_never_an_exception(raw: Any) -> None:
    mapped = line_webhook.to_contract(raw, pepper=PEPPER)
    assert isinstance(
        mapped,
        Ignored | Invalid | SubscriberFollowed | SubscriberUnfollowed | MessageReceived | PostbackReceived,
    )
