"""The sender's decisions against the real sandbox: permanent 400s, replies, the monthly quota, and
batches LINE may have accepted longer ago than it remembers retry keys."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from services.common import db
from services.common.contracts import DeliveryStatus, SendMode
from services.common.topics import Topics
from services.line_sandbox.client import SandboxClient
from services.sender.domain.retry_keys import retry_key_for
from tests.support.services import ServiceProcess

from .harness import (
    assert_exactly_once,
    dead_letters,
    dlq_headers,
    fresh_topics,
    notice,
    publish,
    results,
    sender_process,
    wait_for,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
async def own_topics(kafka_bootstrap: str, run_id: str) -> Topics:
    return await fresh_topics(kafka_bootstrap, run_id)


@pytest.fixture(scope="module")
def sender(
    sandbox: ServiceProcess,
    service_env: dict[str, str],
    own_topics: Topics,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ServiceProcess]:
    process = sender_process(
        tmp_path_factory.mktemp("sender-logs"),
        service_env,
        own_topics.prefix,
        sandbox.url,
        GUNMA_SENDER_QUOTA_CHECK_THRESHOLD="1000",
        GUNMA_SENDER_QUOTA_PROBE_SECONDS="0.5",
        GUNMA_SENDER_RETRY_KEY_TRUST_SECONDS="600",
        GUNMA_SENDER_GIVE_UP_AFTER_SECONDS="20",
    )
    process.start()
    yield process
    process.stop()


async def test_a_request_line_refuses_is_failed_and_dead_lettered_without_retry(
    kafka_bootstrap: str, own_topics: Topics, sender: ServiceProcess, line: SandboxClient
) -> None:
    too_long = notice(1, 3, messages=({"type": "text", "text": "x" * 5001},))
    await publish(kafka_bootstrap, own_topics, too_long.batches)
    found = await results(kafka_bootstrap, own_topics, batch_ids={too_long.batches[0].batch_id})
    result = found[too_long.batches[0].batch_id]
    assert result.status is DeliveryStatus.FAILED
    assert result.http_status == 400
    assert "messages[0].text" in (result.error or "")
    assert result.attempts == 1
    dlq = [
        r
        for r in await dead_letters(kafka_bootstrap, own_topics, expect=1)
        if r.key == too_long.batches[0].key.encode()
    ]
    assert dlq and dlq_headers(dlq[0])["x-dlq-error-type"] == "rejected"
    assert "messages[0].text" in dlq_headers(dlq[0])["x-dlq-reason"]


async def test_reply_while_the_token_is_fresh_push_after(
    kafka_bootstrap: str, own_topics: Topics, sender: ServiceProcess, line: SandboxClient
) -> None:
    followed = await line.follow(language="vi")
    user = followed["event"]["source"]["userId"]
    token = followed["event"]["replyToken"]
    fresh = notice(
        1,
        1,
        mode=SendMode.REPLY,
        purpose="conversation",
        reply_token=token,
        reply_token_expires_at=datetime.now(UTC) + timedelta(seconds=50),
    )
    stale = notice(
        1,
        1,
        mode=SendMode.REPLY,
        purpose="conversation",
        reply_token="expired-token",
        reply_token_expires_at=datetime.now(UTC) + timedelta(seconds=2),
    )
    fresh.batches[0] = fresh.batches[0].model_copy(update={"recipients": (user,)})
    stale.batches[0] = stale.batches[0].model_copy(update={"recipients": (user,)})
    await publish(kafka_bootstrap, own_topics, [*fresh.batches, *stale.batches])
    found = await results(
        kafka_bootstrap, own_topics, batch_ids={fresh.batches[0].batch_id, stale.batches[0].batch_id}
    )
    assert found[fresh.batches[0].batch_id].mode is SendMode.REPLY
    assert found[stale.batches[0].batch_id].mode is SendMode.PUSH
    assert all(r.status is DeliveryStatus.SENT for r in found.values())
    inbox = await line.inbox(user)
    assert sorted(m["endpoint"] for m in inbox) == ["push", "reply"]


async def test_a_large_notice_the_quota_cannot_carry_is_refused(
    kafka_bootstrap: str, own_topics: Topics, sender: ServiceProcess, line: SandboxClient, pool: db.Pool
) -> None:
    await line.set_quota(limit=1500, used=1000)
    big = notice(3, 10, notice_recipients=5000)
    await publish(kafka_bootstrap, own_topics, big.batches)
    found = await results(kafka_bootstrap, own_topics, batch_ids={b.batch_id for b in big.batches})
    assert {r.status for r in found.values()} == {DeliveryStatus.FAILED}
    assert all(
        (r.error or "").startswith("quota: the notice needs 5000 messages, 500 left") for r in found.values()
    )
    assert (await line.notice(str(big.notice_id)))["requests"] == 0
    dlq = await dead_letters(kafka_bootstrap, own_topics, expect=4)
    kinds = [dlq_headers(r)["x-dlq-error-type"] for r in dlq if r.key == big.batches[0].key.encode()]
    assert kinds.count("quota") == 3
    row = await pool.fetchrow(
        "SELECT admitted, quota_limit, quota_used FROM sender_notice_admissions WHERE notice_id = $1",
        big.notice_id,
    )
    assert row is not None and not row["admitted"] and row["quota_limit"] == 1500


async def test_the_monthly_limit_holds_batches_until_the_quota_allows_sending(
    kafka_bootstrap: str, own_topics: Topics, sender: ServiceProcess, line: SandboxClient
) -> None:
    await line.set_faults(monthly_limit=True)
    held = notice(4, 5)
    await publish(kafka_bootstrap, own_topics, held.batches)

    async def metrics() -> str:
        async with httpx.AsyncClient(trust_env=False) as http:
            return (await http.get(f"{sender.url}/metrics", timeout=5)).text

    async def gate_closed() -> bool:
        return "gunma_sender_quota_exhausted 1.0" in await metrics()

    await wait_for(gate_closed, timeout=30)
    with pytest.raises(TimeoutError):
        await results(kafka_bootstrap, own_topics, batch_ids={b.batch_id for b in held.batches}, timeout=2)
    attempts_while_closed = len([r for r in await line.requests(limit=10_000) if r["status"] == 429])
    await line.set_faults(monthly_limit=False)
    found = await results(
        kafka_bootstrap, own_topics, batch_ids={b.batch_id for b in held.batches}, timeout=60
    )
    assert {r.status for r in found.values()} == {DeliveryStatus.SENT}
    await assert_exactly_once(line, held)
    assert attempts_while_closed <= 8  # it stopped instead of hammering
    assert "gunma_sender_quota_exhausted 0.0" in await metrics()


async def test_a_batch_line_may_have_accepted_too_long_ago_is_not_resent(
    kafka_bootstrap: str, own_topics: Topics, sender: ServiceProcess, line: SandboxClient, pool: db.Pool
) -> None:
    old = notice(1, 4)
    batch = old.batches[0]
    # A crashed attempt 11 minutes ago (the sender under test trusts LINE's key memory for 10 minutes).
    await pool.execute(
        """
        INSERT INTO sender_batches (batch_id, notice_id, language, batch_no, requested_mode, retry_key,
                                    recipients, status, planned_at, first_attempt_at, in_doubt_since)
        VALUES ($1, $2, $3, $4, 'multicast', $5, 4, 'sending', $6, $6, $6)
        """,
        batch.batch_id,
        batch.notice_id,
        batch.language,
        batch.batch_no,
        retry_key_for(batch.batch_id),
        datetime.now(UTC) - timedelta(minutes=11),
    )
    never = notice(1, 4)  # never attempted: sent normally whatever its age
    await publish(kafka_bootstrap, own_topics, [batch, *never.batches])
    found = await results(kafka_bootstrap, own_topics, batch_ids={batch.batch_id, never.batches[0].batch_id})
    unknown = found[batch.batch_id]
    assert unknown.status is DeliveryStatus.FAILED
    assert (unknown.error or "").startswith("outcome unknown")
    assert found[never.batches[0].batch_id].status is DeliveryStatus.SENT
    assert (await line.notice(str(old.notice_id)))["requests"] == 0
    dlq = await dead_letters(kafka_bootstrap, own_topics, expect=5)
    assert any(dlq_headers(r)["x-dlq-error-type"] == "outcome_unknown" for r in dlq)
    status = await pool.fetchval("SELECT status FROM sender_batches WHERE batch_id = $1", batch.batch_id)
    assert status == "failed"


def test_settings_must_name_a_token(tmp_path: Path) -> None:
    """Without a channel token the sender refuses to start and names the variable."""
    import subprocess
    import sys

    from tests.support.stack import REPO

    done = subprocess.run(
        [sys.executable, "-m", "services.sender"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert done.returncode == 2
    assert "GUNMA_SENDER_LINE_CHANNEL_ACCESS_TOKEN" in done.stderr
