"""Every recipient exactly once through the real sender and sandbox: injected 500s, timeouts and 429s,
and a sender killed with SIGKILL between LINE's acceptance and the offset commit."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.common import db
from services.common.contracts import DeliveryStatus
from services.line_sandbox.client import SandboxClient
from services.sender.domain.retry_keys import retry_key_for
from tests.support.services import ServiceProcess

from .harness import (
    assert_exactly_once,
    fresh_topics,
    notice,
    publish,
    results,
    sender_process,
    wait_for,
)

pytestmark = pytest.mark.slow


async def test_every_recipient_once_despite_500s_timeouts_and_429s(
    kafka_bootstrap: str,
    run_id: str,
    service_env: dict[str, str],
    sandbox: ServiceProcess,
    line: SandboxClient,
    tmp_path: Path,
    pool: db.Pool,
) -> None:
    await line.set_faults(
        error_rate=0.15, timeout_rate=0.1, rate_limit_rate=0.1, after_accept_share=0.5, timeout_seconds=2.5
    )
    topics = await fresh_topics(kafka_bootstrap, run_id)
    made = notice(60, 20, languages=("vi", "ne", "id"))
    await publish(kafka_bootstrap, topics, made.batches)
    sender = sender_process(tmp_path, service_env, topics.prefix, sandbox.url)
    sender.start()
    try:
        found = await results(
            kafka_bootstrap, topics, batch_ids={b.batch_id for b in made.batches}, timeout=120
        )
    finally:
        sender.stop()
    assert {r.status for r in found.values()} == {DeliveryStatus.SENT}, [r.error for r in found.values()]
    await assert_exactly_once(line, made)
    stats = await line.stats()
    responses = stats["responses"]
    # The faults really happened, including deliveries whose answer was lost, which retries then met as 409.
    assert responses.get("injected:500", 0) > 0
    assert (
        responses.get("injected:500_after_accept", 0) + responses.get("injected:timeout_after_accept", 0) > 0
    )
    assert responses.get("injected:timeout", 0) + responses.get("injected:timeout_after_accept", 0) > 0
    assert responses.get("injected:429", 0) > 0
    assert responses.get("multicast:409", 0) > 0
    recovered = [r for r in found.values() if r.http_status == 409]
    assert recovered and all(r.request_id for r in recovered)
    assert max(r.attempts for r in found.values()) > 1
    rows = await pool.fetch(
        "SELECT status, retry_key, batch_id FROM sender_batches WHERE notice_id = $1", made.notice_id
    )
    assert len(rows) == 60 and {r["status"] for r in rows} == {"sent"}
    assert all(r["retry_key"] == retry_key_for(r["batch_id"]) for r in rows)


@pytest.mark.parametrize(
    "crash", ["GUNMA_SENDER_TEST_SIGKILL_AFTER_ACCEPTED", "GUNMA_SENDER_TEST_SIGKILL_AFTER_RECORDED"]
)
async def test_kill_9_between_acceptance_and_commit_sends_nothing_twice(
    crash: str,
    kafka_bootstrap: str,
    run_id: str,
    service_env: dict[str, str],
    sandbox: ServiceProcess,
    line: SandboxClient,
    tmp_path: Path,
    pool: db.Pool,
) -> None:
    topics = await fresh_topics(kafka_bootstrap, run_id)
    made = notice(40, 25, languages=("vi", "pt-BR"))
    await publish(kafka_bootstrap, topics, made.batches)
    # Small polls, so the first process dies with most batches still ahead of it.
    env = {"GUNMA_SENDER_CONSUMER_MAX_RECORDS": "10", "GUNMA_SENDER_MAX_IN_FLIGHT": "4"}
    doomed = sender_process(tmp_path, service_env, topics.prefix, sandbox.url, **env, **{crash: "3"})
    doomed.start(wait=False)
    assert doomed.process is not None
    assert doomed.process.wait(90) == -9, doomed.tail()
    before = await line.stats()
    accepted_before = before["responses"].get("multicast:200", 0)
    assert 0 < accepted_before < 40
    in_db = await pool.fetchval("SELECT count(*) FROM sender_batches WHERE notice_id = $1", made.notice_id)
    assert in_db >= 3

    survivor = sender_process(tmp_path, service_env, topics.prefix, sandbox.url, **env)
    survivor.start()
    try:
        found = await results(
            kafka_bootstrap, topics, batch_ids={b.batch_id for b in made.batches}, timeout=120
        )
    finally:
        survivor.stop()
    assert {r.status for r in found.values()} == {DeliveryStatus.SENT}
    summary = await assert_exactly_once(line, made)
    assert summary["requests"] == 40  # one accepted request per batch
    mine = {b.batch_id for b in made.batches}
    statuses = [r["status"] for r in await line.requests(limit=10_000) if r["batch_id"] in mine]
    if crash.endswith("ACCEPTED"):
        # The batches accepted by the killed process were sent again with their retry keys and met 409.
        assert statuses.count(409) >= 1
        assert [r for r in found.values() if r.http_status == 409]
    else:
        # Recorded before the crash: the survivor did not even ask LINE again, it only reported.
        assert statuses.count(409) == 0
    assert statuses.count(200) == 40

    async def all_recorded() -> bool:
        n = await pool.fetchval(
            "SELECT count(*) FROM sender_batches WHERE notice_id = $1 AND status = 'sent'", made.notice_id
        )
        return bool(n == 40)

    await wait_for(all_recorded, timeout=10)
