"""The sandbox plays LINE: validation, retry keys, rate limit, quota, reply tokens, faults, journal."""

import uuid
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from services.line_sandbox.journal import Journal
from services.line_sandbox.platform import Platform
from services.line_sandbox.settings import LineSandboxSettings
from services.line_sandbox.spec import OpenApiDocument
from services.line_sandbox.validation import RequestValidator, SendEndpoint

from .specs import spec_path

TEXT = [{"type": "text", "text": "Garbage: burnables on Tuesday"}]


def settings(**overrides: Any) -> LineSandboxSettings:
    return LineSandboxSettings(
        channel_access_tokens=SecretStr("tok"),
        channel_secret=SecretStr("sec"),
        admin_token=SecretStr("adm"),
        fault_seed=7,
        **overrides,
    )


@pytest.fixture(scope="module")
def document() -> OpenApiDocument:
    return OpenApiDocument.load(spec_path())


def platform(document: OpenApiDocument | None = None, **overrides: Any) -> Platform:
    return Platform(settings(**overrides), RequestValidator(document))


def ids(n: int) -> list[str]:
    return ["U" + uuid.uuid4().hex for _ in range(n)]


async def test_multicast_is_accepted_and_lands_in_each_inbox(document: OpenApiDocument) -> None:
    line = platform(document)
    users = ids(3)
    result = await line.send(
        SendEndpoint.MULTICAST,
        {"to": users, "messages": TEXT},
        retry_key=str(uuid.uuid4()),
        batch_id="n1:vi:0",
    )
    assert result.status == 200
    assert result.body == {}
    assert uuid.UUID(result.headers["x-line-request-id"])
    received = line.inbox.received_by(users[1])
    assert [(r["notice_id"], r["language"], r["batch_no"]) for r in received] == [("n1", "vi", 0)]
    assert received[0]["messages"] == [{"type": "text", "text": "Garbage: burnables on Tuesday"}]


async def test_a_repeated_retry_key_gets_409_with_the_first_request_id() -> None:
    line = platform()
    key = str(uuid.uuid4())
    body = {"to": ids(2), "messages": TEXT}
    first = await line.send(SendEndpoint.MULTICAST, body, retry_key=key, batch_id="n:vi:0")
    second = await line.send(SendEndpoint.MULTICAST, body, retry_key=key, batch_id="n:vi:0")
    assert second.status == 409
    assert second.headers["x-line-accepted-request-id"] == first.headers["x-line-request-id"]
    assert second.headers["x-line-request-id"] != first.headers["x-line-request-id"]
    assert line.inbox.duplicates() == []


async def test_a_retry_key_is_forgotten_after_its_ttl() -> None:
    now = [1000.0]
    line = Platform(settings(retry_key_ttl_seconds=60), RequestValidator(None), clock=lambda: now[0])
    key = str(uuid.uuid4())
    body = {"to": ids(1), "messages": TEXT}
    assert (await line.send(SendEndpoint.MULTICAST, body, retry_key=key, batch_id="n:vi:0")).status == 200
    now[0] += 61
    assert (await line.send(SendEndpoint.MULTICAST, body, retry_key=key, batch_id="n:vi:0")).status == 200
    assert len(line.inbox.duplicates()) == 1  # exactly what LINE would do: a duplicate


async def test_retry_key_rules() -> None:
    line = platform()
    bad = await line.send(
        SendEndpoint.PUSH, {"to": ids(1)[0], "messages": TEXT}, retry_key="123", batch_id=None
    )
    assert bad.status == 400
    assert bad.body["details"][0]["property"] == "X-Line-Retry-Key"
    on_reply = await line.send(
        SendEndpoint.REPLY, {"replyToken": "x", "messages": TEXT}, retry_key=str(uuid.uuid4()), batch_id=None
    )
    assert on_reply.status == 400
    assert "retry key" in on_reply.body["message"]


async def test_invalid_requests_get_400_with_details(document: OpenApiDocument) -> None:
    line = platform(document)
    result = await line.send(
        SendEndpoint.MULTICAST,
        {"to": ids(501), "messages": [{"type": "text"}, {"type": "text", "text": "x" * 5001}]},
        retry_key=None,
        batch_id=None,
    )
    assert result.status == 400
    assert result.body["message"].startswith("The request body has")
    props = {d["property"] for d in result.body["details"]}
    assert "messages[0].text" in props
    assert "messages[1].text" in props
    bad_ids = await line.send(
        SendEndpoint.MULTICAST,
        {"to": ["U" + "0" * 32, "Uzz", "bob"], "messages": TEXT},
        retry_key=None,
        batch_id=None,
    )
    assert bad_ids.status == 400
    assert [d["property"] for d in bad_ids.body["details"]] == ["to[1]", "to[2]"]
    assert line.inbox.totals()["requests"] == 0


async def test_rate_limit_429() -> None:
    line = platform(rate_multicast_per_second=5, rate_window_seconds=1)
    statuses = [
        (
            await line.send(
                SendEndpoint.MULTICAST, {"to": ids(1), "messages": TEXT}, retry_key=None, batch_id=None
            )
        ).status
        for _ in range(8)
    ]
    assert statuses == [200] * 5 + [429] * 3
    line.rate_limits_enabled = False
    again = await line.send(
        SendEndpoint.MULTICAST, {"to": ids(1), "messages": TEXT}, retry_key=None, batch_id=None
    )
    assert again.status == 200


async def test_monthly_quota_429_and_consumption() -> None:
    line = platform(quota_limit=5)
    assert line.quota().body == {"type": "limited", "value": 5}
    ok = await line.send(
        SendEndpoint.MULTICAST, {"to": ids(4), "messages": TEXT}, retry_key=None, batch_id=None
    )
    assert ok.status == 200
    assert line.consumption().body == {"totalUsage": 4}
    over = await line.send(
        SendEndpoint.MULTICAST, {"to": ids(2), "messages": TEXT}, retry_key=None, batch_id=None
    )
    assert over.status == 429
    assert over.body == {"message": "You have reached your monthly limit."}
    line.set_quota(limit=None)
    assert line.quota().body == {"type": "none"}


async def test_reply_tokens_are_single_use_and_expire() -> None:
    now = [0.0]
    line = Platform(settings(reply_token_ttl_seconds=60), RequestValidator(None), clock=lambda: now[0])
    user = ids(1)[0]
    line.follow(user, language="vi")
    token = line.issue_reply_token(user)
    first = await line.send(
        SendEndpoint.REPLY, {"replyToken": token, "messages": TEXT}, retry_key=None, batch_id="c:vi:0"
    )
    assert first.status == 200
    assert len(first.body["sentMessages"]) == 1
    second = await line.send(
        SendEndpoint.REPLY, {"replyToken": token, "messages": TEXT}, retry_key=None, batch_id="c:vi:0"
    )
    assert second.status == 400
    assert second.body == {"message": "Invalid reply token"}
    late = line.issue_reply_token(user)
    now[0] += 61
    expired = await line.send(
        SendEndpoint.REPLY, {"replyToken": late, "messages": TEXT}, retry_key=None, batch_id=None
    )
    assert expired.status == 400
    assert [r["endpoint"] for r in line.inbox.received_by(user)] == ["reply"]
    assert line.consumption().body == {"totalUsage": 0}  # replies are free


async def test_a_500_after_acceptance_delivers_and_the_retry_gets_409() -> None:
    line = platform(fault_error_rate=1.0, fault_after_accept_share=1.0)
    key = str(uuid.uuid4())
    body = {"to": ids(3), "messages": TEXT}
    first = await line.send(SendEndpoint.MULTICAST, body, retry_key=key, batch_id="n:vi:0")
    assert first.status == 500
    assert line.inbox.recipients_total == 3  # delivered although the answer says otherwise
    line.faults.update({"error_rate": 0})
    retry = await line.send(SendEndpoint.MULTICAST, body, retry_key=key, batch_id="n:vi:0")
    assert retry.status == 409
    assert line.inbox.recipients_total == 3


async def test_a_500_before_acceptance_delivers_nothing() -> None:
    line = platform(fault_error_rate=1.0, fault_after_accept_share=0.0)
    result = await line.send(
        SendEndpoint.MULTICAST, {"to": ids(3), "messages": TEXT}, retry_key=None, batch_id=None
    )
    assert result.status == 500
    assert line.inbox.recipients_total == 0


def test_fault_settings_are_checked() -> None:
    line = platform()
    with pytest.raises(ValueError, match="unknown"):
        line.faults.update({"explode": 1})
    with pytest.raises(ValueError, match="between 0 and 1"):
        line.faults.update({"error_rate": 2})
    with pytest.raises(ValueError, match="must not exceed 1"):
        line.faults.update({"error_rate": 0.6, "timeout_rate": 0.6})


async def test_blocked_users_are_accepted_but_not_delivered() -> None:
    line = platform()
    users = ids(3)
    line.unfollow(users[0])
    result = await line.send(
        SendEndpoint.MULTICAST, {"to": users, "messages": TEXT}, retry_key=None, batch_id="n:vi:0"
    )
    assert result.status == 200
    assert line.inbox.received_by(users[0]) == []
    assert len(line.inbox.received_by(users[1])) == 1
    assert line.blocked_skipped == 1


async def test_state_survives_a_restart_through_the_journal(tmp_path: Path) -> None:
    journal_path = tmp_path / "sandbox.journal"
    first = Platform(settings(), RequestValidator(None), journal=Journal(journal_path))
    first.journal.open()  # type: ignore[union-attr]
    users = ids(2)
    key = str(uuid.uuid4())
    body = {"to": users, "messages": TEXT}
    accepted = await first.send(SendEndpoint.MULTICAST, body, retry_key=key, batch_id="n:vi:0")
    first.follow(users[0], language="ne")
    first.journal.close()  # type: ignore[union-attr]

    second = Platform(settings(), RequestValidator(None), journal=Journal(journal_path))
    assert second.restore() == 2
    assert len(second.inbox.received_by(users[1])) == 1
    assert second.users[users[0]].language == "ne"
    again = await second.send(SendEndpoint.MULTICAST, body, retry_key=key, batch_id="n:vi:0")
    assert again.status == 409
    assert again.headers["x-line-accepted-request-id"] == accepted.headers["x-line-request-id"]
    assert second.consumption().body == {"totalUsage": 2}


async def test_the_injected_monthly_limit_shows_in_the_quota_endpoints() -> None:
    line = platform(fault_monthly_limit=True)
    refused = await line.send(
        SendEndpoint.PUSH, {"to": ids(1)[0], "messages": TEXT}, retry_key=None, batch_id=None
    )
    assert refused.status == 429
    assert refused.body["message"] == "You have reached your monthly limit."
    limit, used = line.quota().body, line.consumption().body
    assert limit["type"] == "limited"
    assert used["totalUsage"] >= limit["value"]
