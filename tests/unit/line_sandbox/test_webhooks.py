"""Simulated phones: events LINE's own SDK parses, signed with the channel secret, redelivered on demand."""

import re
from typing import Any

import httpx
import pytest
from linebot.v3 import WebhookParser
from linebot.v3.exceptions import InvalidSignatureError
from linebot.v3.webhooks import FollowEvent, MessageEvent, PostbackEvent, UnfollowEvent
from pydantic import SecretStr

from services.line_sandbox.platform import Platform
from services.line_sandbox.settings import LineSandboxSettings
from services.line_sandbox.spec import OpenApiDocument
from services.line_sandbox.validation import RequestValidator
from services.line_sandbox.webhooks import WebhookSimulator, sign, ulid

from .specs import spec_path

SECRET = "channel-secret-for-tests"


class Receiver:
    """Stands in for ingest's POST /line/webhook."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status, json={"accepted": 1})


def simulator(receiver: Receiver) -> tuple[WebhookSimulator, Platform]:
    settings = LineSandboxSettings(
        channel_access_tokens=SecretStr("tok"),
        channel_secret=SecretStr(SECRET),
        admin_token=SecretStr("adm"),
        webhook_url="http://ingest.test/line/webhook",
    )
    platform = Platform(settings, RequestValidator(None))
    http = httpx.AsyncClient(transport=httpx.MockTransport(receiver))
    document = OpenApiDocument.load(spec_path("webhook.yml"))
    return WebhookSimulator(platform, settings, document=document, http=http), platform


def parse(request: httpx.Request) -> list[Any]:
    parser = WebhookParser(SECRET)
    return list(parser.parse(request.content.decode(), request.headers["X-Line-Signature"]))


def test_ulids_are_sortable_and_unique() -> None:
    a, b = ulid(1_700_000_000_000), ulid(1_700_000_000_001)
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{26}", a)
    assert a[:10] < b[:10]
    assert len({ulid() for _ in range(1000)}) == 1000


def test_signature_is_what_line_bot_sdk_verifies() -> None:
    body = '{"destination":"U0","events":[]}'
    parser = WebhookParser(SECRET)
    assert parser.parse(body, sign(SECRET, body.encode())) == []
    with pytest.raises(InvalidSignatureError):
        parser.parse(body, sign("another secret", body.encode()))


async def test_follow_message_postback_unfollow_parse_with_the_sdk() -> None:
    receiver = Receiver()
    sim, platform = simulator(receiver)
    followed = await sim.follow(language="vi")
    user = followed["event"]["source"]["userId"]
    assert followed["delivery"]["status"] == 200
    await sim.message(user, "My card: AB1234567CD")
    await sim.postback(user, "action=language&value=vi", {"date": "2026-01-01"})
    await sim.unfollow(user)
    again = await sim.follow(user)
    events = [parse(r)[0] for r in receiver.requests]
    assert [type(e) for e in events] == [FollowEvent, MessageEvent, PostbackEvent, UnfollowEvent, FollowEvent]
    assert events[0].follow.is_unblocked is False
    assert events[4].follow.is_unblocked is True  # a re-follow after a block
    assert again["event"]["follow"]["isUnblocked"] is True
    assert events[1].message.text == "My card: AB1234567CD"
    assert events[2].postback.data == "action=language&value=vi"
    assert all(e.source.user_id == user for e in events)
    assert len({e.webhook_event_id for e in events}) == 5
    assert all(e.delivery_context.is_redelivery is False for e in events)
    assert receiver.requests[0].headers["User-Agent"].startswith("LineBotWebhook/")
    # Reply tokens issued with follow, message and postback events are accepted once by /reply.
    assert events[3].__class__ is UnfollowEvent
    assert platform.users[user].following


async def test_redelivery_sends_the_same_event_flagged() -> None:
    receiver = Receiver(status=500)
    sim, _ = simulator(receiver)
    sent = await sim.message((await sim.follow())["event"]["source"]["userId"], "hello")
    assert sent["delivery"]["status"] == 500
    event_id = sent["event"]["webhookEventId"]
    receiver.status = 200
    again = await sim.redeliver(event_id)
    assert again["delivery"]["status"] == 200
    first, second = parse(receiver.requests[1])[0], parse(receiver.requests[2])[0]
    assert first.webhook_event_id == second.webhook_event_id == event_id
    assert second.delivery_context.is_redelivery is True
    assert second.message.text == "hello"
    log = sim.events(limit=1)[0]
    assert [d["status"] for d in log["deliveries"]] == [500, 200]
    with pytest.raises(KeyError):
        await sim.redeliver("01UNKNOWN")


async def test_no_webhook_url_is_reported_not_raised() -> None:
    sim, _ = simulator(Receiver())
    sim.url = None
    sent = await sim.follow()
    assert sent["delivery"]["status"] is None
    assert "GUNMA_SANDBOX_WEBHOOK_URL" in sent["delivery"]["error"]
