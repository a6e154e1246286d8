"""The per-batch send loop against a scripted LINE: retries, 409, quota, reply fallback, giving up."""

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, cast

import orjson
import pytest
from pydantic import SecretStr

from services.common.contracts import DeliveryStatus, SendMode
from services.sender.delivery import Deliverer
from services.sender.domain.classify import Answer
from services.sender.domain.decisions import Endpoint, QuotaStatus
from services.sender.domain.retry_keys import retry_key_for
from services.sender.settings import SenderSettings

from .factories import ready


def line_error(status: int, message: str, **headers: str) -> Answer:
    return Answer(status, headers, orjson.dumps({"message": message}).decode())


OK = Answer(200, {"x-line-request-id": "req-ok"}, "")
TIMEOUT = Answer(None, {}, transport_error="timed out after 1 s")


class ScriptedLine:
    """Answers from a script, recording every call (endpoint, retry key)."""

    def __init__(self, *answers: Answer, quota: QuotaStatus | None = None) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, str | None]] = []
        self.quota_status = quota or QuotaStatus(limited=False, limit=None, used=0)

    def _next(self, endpoint: str, key: str | None) -> Answer:
        self.calls.append((endpoint, key))
        return self.answers.pop(0) if self.answers else OK

    async def multicast(self, to: Sequence[str], messages: Any, *, retry_key: str, batch_id: str) -> Answer:
        return self._next("multicast", retry_key)

    async def push(self, to: str, messages: Any, *, retry_key: str, batch_id: str) -> Answer:
        return self._next("push", retry_key)

    async def reply(self, token: str, messages: Any, *, batch_id: str) -> Answer:
        return self._next("reply", None)

    async def quota(self) -> QuotaStatus:
        return self.quota_status


def deliverer(line: ScriptedLine, **overrides: Any) -> Deliverer:
    settings = SenderSettings(
        line_channel_access_token=SecretStr("t"),
        retry_initial_seconds=0.001,
        retry_max_seconds=0.005,
        rate_limited_pause_seconds=0.001,
        rate_limits_enabled=False,
        **overrides,
    )
    return Deliverer(cast(Any, line), settings)


async def test_accepted_on_first_try_with_the_batch_retry_key() -> None:
    line = ScriptedLine(OK)
    batch = ready(recipients=5)
    outcome = await deliverer(line).deliver(batch)
    assert outcome.status is DeliveryStatus.SENT
    assert outcome.request_id == "req-ok"
    assert outcome.attempts == 1
    assert line.calls == [("multicast", str(retry_key_for(batch.batch_id)))]


async def test_5xx_and_timeouts_are_retried_with_the_same_key() -> None:
    line = ScriptedLine(line_error(500, "Internal server error"), TIMEOUT, line_error(503, "busy"), OK)
    batch = ready()
    outcome = await deliverer(line).deliver(batch)
    assert outcome.status is DeliveryStatus.SENT
    assert outcome.attempts == 4
    assert {key for _, key in line.calls} == {str(retry_key_for(batch.batch_id))}


async def test_409_with_accepted_request_id_is_success_without_sending_again() -> None:
    line = ScriptedLine(
        TIMEOUT,
        line_error(409, "The retry key is already accepted", **{"x-line-accepted-request-id": "first"}),
    )
    outcome = await deliverer(line).deliver(ready())
    assert outcome.status is DeliveryStatus.SENT
    assert outcome.request_id == "first"
    assert outcome.http_status == 409
    assert len(line.calls) == 2


async def test_a_400_is_permanent_and_not_retried() -> None:
    body = orjson.dumps(
        {
            "message": "The request body has 1 error(s)",
            "details": [{"message": "Length must be between 0 and 5000", "property": "messages[0].text"}],
        }
    ).decode()
    line = ScriptedLine(Answer(400, {"x-line-request-id": "r400"}, body))
    outcome = await deliverer(line).deliver(ready())
    assert outcome.status is DeliveryStatus.FAILED
    assert outcome.failure_kind == "rejected"
    assert "messages[0].text: Length must be between 0 and 5000" in (outcome.error or "")
    assert len(line.calls) == 1


async def test_rate_limit_429_backs_off_and_retries() -> None:
    rate = line_error(429, "The API rate limit has been exceeded. Try again later.")
    line = ScriptedLine(rate, rate, OK)
    outcome = await deliverer(line).deliver(ready())
    assert outcome.status is DeliveryStatus.SENT
    assert outcome.attempts == 3


async def test_monthly_quota_429_holds_the_batch_and_closes_the_gate() -> None:
    quota = line_error(429, "You have reached your monthly limit.")
    line = ScriptedLine(quota, quota=QuotaStatus(limited=True, limit=100, used=100))
    sender = deliverer(line, quota_probe_seconds=3600)
    outcome = await sender.deliver(ready())
    assert outcome.held
    assert sender.gate.closed
    # While closed, nothing is sent: the next batch is held without a request.
    again = await sender.deliver(ready())
    assert again.held
    assert len(line.calls) == 1


async def test_the_gate_reopens_when_line_reports_room_again() -> None:
    quota = line_error(429, "You have reached your monthly limit.")
    line = ScriptedLine(quota, quota=QuotaStatus(limited=True, limit=100, used=100))
    sender = deliverer(line, quota_probe_seconds=0.001)
    assert (await sender.deliver(ready())).held
    line.quota_status = QuotaStatus(limited=True, limit=10_000, used=100)
    await asyncio.sleep(0.01)  # past the probe interval
    outcome = await sender.deliver(ready())
    assert outcome.status is DeliveryStatus.SENT
    assert not sender.gate.closed


async def test_giving_up_after_the_bounded_time() -> None:
    line = ScriptedLine(*[line_error(500, "down")] * 10_000)
    outcome = await deliverer(line, give_up_after_seconds=0.05).deliver(ready())
    assert outcome.status is DeliveryStatus.FAILED
    assert outcome.failure_kind == "gave_up"
    assert outcome.in_doubt
    assert (outcome.error or "").startswith("gave up after")


async def test_an_expired_reply_token_falls_back_to_push() -> None:
    line = ScriptedLine(line_error(400, "Invalid reply token"), OK)
    batch = ready(recipients=1, mode=SendMode.REPLY, reply_token="tok", reply_in=timedelta(seconds=50))
    outcome = await deliverer(line).deliver(batch)
    assert outcome.status is DeliveryStatus.SENT
    assert outcome.endpoint is Endpoint.PUSH
    assert [c[0] for c in line.calls] == ["reply", "push"]


async def test_a_reply_whose_answer_was_lost_is_not_pushed_again() -> None:
    # The first reply timed out (maybe delivered); the retry finds the single-use token used: no push.
    line = ScriptedLine(TIMEOUT, line_error(400, "Invalid reply token"))
    batch = ready(recipients=1, mode=SendMode.REPLY, reply_token="tok", reply_in=timedelta(seconds=50))
    outcome = await deliverer(line).deliver(batch)
    assert outcome.status is DeliveryStatus.SENT
    assert outcome.endpoint is Endpoint.REPLY
    assert "already used" in (outcome.error or "")
    assert [c[0] for c in line.calls] == ["reply", "reply"]


async def test_a_reply_attempted_before_a_crash_is_not_pushed() -> None:
    line = ScriptedLine(line_error(400, "Invalid reply token"))
    batch = ready(recipients=1, mode=SendMode.REPLY, reply_token="tok", reply_in=timedelta(seconds=50))
    outcome = await deliverer(line).deliver(batch, attempted_before=True)
    assert outcome.status is DeliveryStatus.SENT
    assert [c[0] for c in line.calls] == ["reply"]


@pytest.mark.parametrize("rate_limits", [True, False])
async def test_many_batches_are_in_flight_at_once(rate_limits: bool) -> None:
    in_flight = 0
    peak = 0

    class SlowLine(ScriptedLine):
        async def multicast(
            self, to: Sequence[str], messages: Any, *, retry_key: str, batch_id: str
        ) -> Answer:
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.02)
            in_flight -= 1
            return OK

    settings = SenderSettings(
        line_channel_access_token=SecretStr("t"), max_in_flight=16, rate_limits_enabled=rate_limits
    )
    sender = Deliverer(cast(Any, SlowLine()), settings)
    outcomes = await asyncio.gather(*(sender.deliver(ready()) for _ in range(64)))
    assert all(o.status is DeliveryStatus.SENT for o in outcomes)
    assert 8 <= peak <= 16  # many at once, never more than the bound
