"""The sandbox as a real process: line-bot-sdk's own async client against it, spec violations refused,
authentication everywhere, and signed webhooks to a receiver that verifies them with the SDK."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from linebot.v3 import WebhookParser
from linebot.v3.messaging import (
    AsyncApiClient,
    AsyncMessagingApi,
    Configuration,
    MulticastRequest,
    PushMessageRequest,
    ReplyMessageRequest,
    TextMessage,
)
from linebot.v3.messaging.exceptions import ApiException
from linebot.v3.webhooks import FollowEvent, MessageEvent
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from services.line_sandbox.client import SandboxClient, SandboxError
from tests.integration.sender.harness import ADMIN, SECRET, TOKEN, sandbox_process
from tests.support.services import ServiceProcess
from tests.support.stack import free_port


class Ingest:
    """A stand-in for ingest's POST /line/webhook that checks signatures with line-bot-sdk."""

    def __init__(self) -> None:
        self.port = free_port()
        self.events: list[Any] = []
        self.parser = WebhookParser(SECRET)

    async def webhook(self, request: Request) -> JSONResponse:
        body = (await request.body()).decode()
        try:
            self.events.extend(self.parser.parse(body, request.headers.get("x-line-signature", "")))
        except Exception as error:  # any failure is the test's finding
            return JSONResponse({"error": str(error)}, status_code=401)
        return JSONResponse({"ok": True})


@pytest.fixture(scope="module")
async def ingest() -> AsyncIterator[Ingest]:
    receiver = Ingest()
    app = Starlette(routes=[Route("/line/webhook", receiver.webhook, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=receiver.port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event for "started"
        await asyncio.sleep(0.02)
    yield receiver
    server.should_exit = True
    await task


@pytest.fixture(scope="module")
def sandbox(ingest: Ingest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    process = sandbox_process(
        tmp_path_factory.mktemp("sandbox"),
        GUNMA_SANDBOX_WEBHOOK_URL=f"http://127.0.0.1:{ingest.port}/line/webhook",
        GUNMA_SANDBOX_STATE_FILE=str(tmp_path_factory.mktemp("state") / "sandbox.journal"),
        GUNMA_SANDBOX_RATE_MULTICAST_PER_SECOND="5",
        HTTP_PROXY="http://127.0.0.1:9",  # a proxy that does not exist: loopback must not use it
        HTTPS_PROXY="http://127.0.0.1:9",
    )
    process.start()
    yield process
    process.stop()


@pytest.fixture
async def admin(sandbox: ServiceProcess) -> AsyncIterator[SandboxClient]:
    async with SandboxClient(sandbox.url, ADMIN) as client:
        await client.reset()
        yield client


def ids(n: int) -> list[str]:
    return ["U" + uuid.uuid4().hex for _ in range(n)]


async def test_requests_made_by_line_bot_sdk_pass_and_are_delivered(
    sandbox: ServiceProcess, admin: SandboxClient
) -> None:
    followed = await admin.follow(language="ne", display_name="Sita")
    user = followed["event"]["source"]["userId"]
    async with AsyncApiClient(Configuration(host=sandbox.url, access_token=TOKEN)) as client:
        api = AsyncMessagingApi(client)
        text = TextMessage(text="Tax return: by March 15.")
        multicast = await api.multicast_with_http_info(
            MulticastRequest(to=[user, *ids(499)], messages=[text]), x_line_retry_key=str(uuid.uuid4())
        )
        assert multicast.status_code == 200
        assert multicast.headers["x-line-request-id"]
        pushed = await api.push_message(
            PushMessageRequest(to=user, messages=[text]), x_line_retry_key=str(uuid.uuid4())
        )
        assert len(pushed.sent_messages) == 1
        replied = await api.reply_message(
            ReplyMessageRequest(reply_token=followed["event"]["replyToken"], messages=[text])
        )
        assert len(replied.sent_messages) == 1
        profile = await api.get_profile(user)
        assert (profile.user_id, profile.display_name, profile.language) == (user, "Sita", "ne")
        assert (await api.get_message_quota()).type == "none"
        assert (await api.get_message_quota_consumption()).total_usage == 501
        with pytest.raises(ApiException) as refused:
            await api.reply_message(
                ReplyMessageRequest(reply_token=followed["event"]["replyToken"], messages=[text])
            )
        assert refused.value.status == 400
    inbox = await admin.inbox(user)
    assert [m["endpoint"] for m in inbox] == ["multicast", "push", "reply"]
    assert inbox[0]["messages"][0]["text"] == "Tax return: by March 15."


async def test_a_request_that_breaks_the_spec_is_refused_with_details(
    sandbox: ServiceProcess, admin: SandboxClient
) -> None:
    async with httpx.AsyncClient(base_url=sandbox.url, trust_env=False) as http:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        bad = await http.post(
            "/v2/bot/message/push",
            headers=auth,
            json={
                "to": ids(1)[0],
                "messages": [{"type": "sticker", "packageId": "446"}, {"type": "text", "text": 7}],
            },
        )
        assert bad.status_code == 400
        body = bad.json()
        assert body["message"] == f"The request body has {len(body['details'])} error(s)"
        props = {d["property"] for d in body["details"]}
        assert {"messages[0].stickerId", "messages[1].text"} <= props
        too_many = await http.post(
            "/v2/bot/message/multicast",
            headers=auth,
            json={"to": ids(1), "messages": [{"type": "text", "text": "x"}] * 6},
        )
        assert too_many.status_code == 400
        assert {d["property"] for d in too_many.json()["details"]} == {"messages"}
        key_on_reply = await http.post(
            "/v2/bot/message/reply",
            headers={**auth, "X-Line-Retry-Key": str(uuid.uuid4())},
            json={"replyToken": "t", "messages": [{"type": "text", "text": "x"}]},
        )
        assert key_on_reply.status_code == 400
        # LINE's rate limit (5/s here): 429 with LINE's message.
        statuses = [
            (
                await http.post(
                    "/v2/bot/message/multicast",
                    headers=auth,
                    json={"to": ids(1), "messages": [{"type": "text", "text": "x"}]},
                )
            ).status_code
            for _ in range(12)
        ]
        assert 429 in statuses
        assert 0 < statuses.count(200) <= 6  # the bucket holds 5 (one went to the refused multicast)


async def test_everything_but_health_needs_a_token(sandbox: ServiceProcess) -> None:
    async with httpx.AsyncClient(base_url=sandbox.url, trust_env=False) as http:
        unauth = await http.post("/v2/bot/message/push", json={})
        assert unauth.status_code == 401
        assert unauth.json()["message"].startswith("Authentication failed")
        wrong = await http.get("/v2/bot/message/quota", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        admin = await http.get("/admin/stats", headers={"Authorization": f"Bearer {TOKEN}"})
        assert admin.status_code == 401
        assert admin.headers["content-type"] == "application/problem+json"
        assert (await http.get("/healthz")).status_code == 200
    async with SandboxClient(sandbox.url, "wrong") as client:
        with pytest.raises(SandboxError) as error:
            await client.stats()
        assert error.value.status == 401


async def test_signed_webhooks_reach_ingest_and_can_be_redelivered(
    ingest: Ingest, admin: SandboxClient
) -> None:
    before = len(ingest.events)
    followed = await admin.follow(language="vi")
    assert followed["delivery"]["status"] == 200
    user = followed["event"]["source"]["userId"]
    said = await admin.message(user, "xin chào")
    again = await admin.redeliver(said["event"]["webhookEventId"])
    assert again["delivery"]["status"] == 200
    events = ingest.events[before:]
    assert isinstance(events[0], FollowEvent)
    assert isinstance(events[1], MessageEvent) and isinstance(events[2], MessageEvent)
    assert events[1].webhook_event_id == events[2].webhook_event_id
    assert (events[1].delivery_context.is_redelivery, events[2].delivery_context.is_redelivery) == (
        False,
        True,
    )
    assert [e["event"]["type"] for e in await admin.webhooks(user_id=user)] == ["message", "follow"]


async def test_the_journal_survives_a_restart_of_the_sandbox(
    sandbox: ServiceProcess, admin: SandboxClient
) -> None:
    user = ids(1)[0]
    key = str(uuid.uuid4())
    async with httpx.AsyncClient(base_url=sandbox.url, trust_env=False) as http:
        auth = {"Authorization": f"Bearer {TOKEN}", "X-Line-Retry-Key": key}
        body = {"to": user, "messages": [{"type": "text", "text": "before restart"}]}
        assert (await http.post("/v2/bot/message/push", headers=auth, json=body)).status_code == 200
        sandbox.kill()
        sandbox.start()
        again = await http.post("/v2/bot/message/push", headers=auth, json=body)
        assert again.status_code == 409
    assert [m["messages"][0]["text"] for m in await admin.inbox(user)] == ["before restart"]
