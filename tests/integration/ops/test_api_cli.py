"""The CLI's HTTP commands against the real ingest and router processes, Kafka and PostgreSQL.

A CSV extract goes in through ``gunma csv push``; a notice is created with ``gunma notices create``,
reaches the router through ingest's outbox and Kafka, is released as batches, and ``gunma notices status
--watch`` follows it until every batch is reported (the sender's results are played by the test);
``gunma audience count`` and ``gunma stats`` read what the router knows. Topics have a prefix of their
own, so nothing else in the session consumes them.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.common import auth, db
from services.common.contracts import DeliveryPlanned, DeliveryResult, DeliveryStatus, SendMode, derived_id
from services.common.kafka import ensure_topics
from services.common.topics import Topics
from services.ops.cli import main
from tests.integration.router.conftest import line_user, publish, read_to_end, seed_subscribers, wait_for
from tests.support.services import ServiceProcess
from tests.support.stack import Stack, free_port

CSV_HEADER = (
    "届出種別,在留カード番号,国籍・地域,在留資格,在留期間満了日,雇入れ年月日,離職年月日,"
    "雇用保険適用事業所番号,事業所名称,市区町村コード"
)


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


@dataclass(frozen=True)
class Services:
    ingest: ServiceProcess
    router: ServiceProcess
    topics: Topics
    feed_key: str
    staff_key: str
    ops_key: str
    pool: db.Pool  # their database


@pytest.fixture(scope="module")
async def services(
    service_env: dict[str, str],
    stack: Stack,
    kafka_bootstrap: str,
    run_id: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Services]:
    # A database of their own: an ingest or router of another module on the session's database would
    # otherwise relay this ingest's outbox, or release these notices, to its own topics.
    async with stack.own_database(f"gunma_{run_id}_ops_api") as dsn:
        topics = Topics(prefix=f"{run_id}.ops{uuid.uuid4().hex[:6]}.")
        await ensure_topics(kafka_bootstrap, topics)
        logs = tmp_path_factory.mktemp("ops-api-logs")
        common = {**service_env, "GUNMA_KAFKA_TOPIC_PREFIX": topics.prefix, "GUNMA_DATABASE_URL": dsn}
        ingest_port, router_port = free_port(), free_port()
        ingest = ServiceProcess(
            "ingest",
            {
                **common,
                "GUNMA_INGEST_HTTP_PORT": str(ingest_port),
                "GUNMA_INGEST_CSV_WORKERS": "0",
                "GUNMA_INGEST_KEY_CACHE_SECONDS": "0",
                "GUNMA_INGEST_RELAY_POLL_SECONDS": "0.2",
            },
            ingest_port,
            logs,
        )
        router = ServiceProcess(
            "router",
            {
                **common,
                "GUNMA_ROUTER_HTTP_PORT": str(router_port),
                # Whatever the hour of the run: no quiet hours.
                "GUNMA_ROUTER_QUIET_HOURS_START": "00:00",
                "GUNMA_ROUTER_QUIET_HOURS_END": "00:00",
                "GUNMA_ROUTER_SCHEDULER_POLL_SECONDS": "0.3",
                "GUNMA_ROUTER_API_KEY_CACHE_SECONDS": "0",
                "GUNMA_ROUTER_DIALOGUE_ENABLED": "false",
            },
            router_port,
            logs,
        )
        pool = await db.create_pool(dsn, min_size=1, max_size=4, application_name="gunma-tests-ops")
        try:
            async with pool.acquire() as conn:
                feed, _ = await auth.create_key(conn, name="ops-cli feed", role=auth.Role.FEED)
                staff, _ = await auth.create_key(conn, name="ops-cli staff", role=auth.Role.STAFF)
                ops, _ = await auth.create_key(conn, name="ops-cli operator", role=auth.Role.OPS)
            await asyncio.gather(
                asyncio.to_thread(ingest.start, timeout=120), asyncio.to_thread(router.start, timeout=120)
            )
            try:
                yield Services(ingest, router, topics, feed, staff, ops, pool)
            finally:
                ingest.stop()
                router.stop()
        finally:
            await pool.close()


@pytest.fixture
def gunma(
    services: Services, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Awaitable[Run]]:
    monkeypatch.setenv("GUNMA_OPS_INGEST_URL", services.ingest.url)
    monkeypatch.setenv("GUNMA_OPS_ROUTER_URL", services.router.url)
    monkeypatch.setenv("COLUMNS", "200")

    async def invoke(*args: str, key: str) -> Run:
        monkeypatch.setenv("GUNMA_OPS_API_KEY", key)
        capfd.readouterr()

        def call() -> int:
            try:
                main(list(args))
            except SystemExit as exit_:
                return int(exit_.code or 0)
            return 0

        code = await asyncio.to_thread(call)  # the CLI runs its own event loop, and blocks
        captured = capfd.readouterr()
        return Run(code, captured.out, captured.err)

    return invoke


async def test_csv_push_reports_accepted_and_rejected_rows(
    services: Services, gunma: Callable[..., Awaitable[Run]], tmp_path: Path
) -> None:
    base = uuid.uuid4().int % 10**8  # card numbers of this test only
    rows = [
        f"雇入れ,AB{(base + n) % 10**8:08d}ZZ,ベトナム,特定技能１号,令和9年3月31日,R7.4.{n + 1},,"
        f"1234-{n:06d}-1,㈱テスト,10201"
        for n in range(3)
    ]
    rows.append("雇入れ,not-a-card,ベトナム,特定技能１号,令和9年3月31日,R7.4.1,,1234-000009-1,㈱テスト,10201")
    extract = tmp_path / "extract.csv"
    extract.write_bytes((CSV_HEADER + "\r\n" + "\r\n".join(rows) + "\r\n").encode("cp932"))

    run = await gunma("csv", "push", str(extract), key=services.feed_key)
    assert run.code == 1, run  # one row rejected
    assert "accepted" in run.out and "│ 3" in run.out.split("accepted", 1)[1].splitlines()[0]
    assert "在留カード番号" in run.out or "residence_card_number" in run.out, "the rejected row's column"

    again = await gunma("csv", "push", str(extract), key=services.feed_key)
    assert again.code == 1
    assert "duplicates" in again.out and "│ 3" in again.out.split("duplicates", 1)[1].splitlines()[0]

    wrong = await gunma("csv", "push", str(extract), key=services.staff_key)
    assert wrong.code == 2 and "HTTP 403" in wrong.err and "feed" in wrong.err


async def test_a_notice_from_creation_to_every_batch_reported(
    services: Services, gunma: Callable[..., Awaitable[Run]], kafka_bootstrap: str
) -> None:
    pool = services.pool
    tag = f"OPS{uuid.uuid4().hex[:8].upper()}"
    languages = {"vi": 3, "pt-BR": 2}
    await seed_subscribers(
        pool,
        [
            {"line_user_id": line_user(), "language": language, "declared_establishment_id": tag}
            for language, n in languages.items()
            for _ in range(n)
        ],
    )

    counted = await gunma("audience", "count", "--employer", tag, "--cells", key=services.ops_key)
    assert counted.code == 0, counted
    assert "5 subscribers" in counted.out and "60.0%" in counted.out
    as_json = await gunma("audience", "count", "--employer", tag, "--json", key=services.staff_key)
    assert json.loads(as_json.out)["by_language"] == languages

    refused = await gunma(
        "notices", "create", "--category", "tax", "--title", "T", "--body", "B", key=services.ops_key
    )
    assert refused.code == 1 and "HTTP 403" in refused.err and "staff" in refused.err

    created = await gunma(
        "notices", "create", "--category", "tax", "--title", "住民税の納付", "--body", "{date}までに納付",
        "--employer", tag, "--idempotency-key", f"ops-cli-{tag}", key=services.staff_key,
    )  # fmt: skip
    assert created.code == 0, created
    notice_id = created.out.strip()
    assert uuid.UUID(notice_id)
    retried = await gunma(
        "notices", "create", "--category", "tax", "--title", "住民税の納付", "--body", "{date}までに納付",
        "--employer", tag, "--idempotency-key", f"ops-cli-{tag}", key=services.staff_key,
    )  # fmt: skip
    assert retried.code == 0 and retried.out.strip() == notice_id and "already accepted" in retried.err

    # The sender's part: a result for every planned batch of this notice.
    planned_topic = services.topics.deliveries_planned

    async def batches() -> list[DeliveryPlanned]:
        found = [
            DeliveryPlanned.model_validate_json(r.value)
            for r in await read_to_end(kafka_bootstrap, planned_topic)
        ]
        # Keyed by batch id: a re-published batch (at-least-once) is the same batch to later stages.
        mine = list({b.batch_id: b for b in found if str(b.notice_id) == notice_id}.values())
        return mine if sum(len(b.recipients) for b in mine) == 5 else []

    planned = await wait_for(batches, timeout=60, interval=0.3)
    now = datetime.now(UTC)
    await publish(
        kafka_bootstrap,
        services.topics.deliveries_results,
        [
            (
                b.key,
                DeliveryResult(
                    event_id=derived_id("test", "result", b.batch_id),
                    occurred_at=now,
                    batch_id=b.batch_id,
                    notice_id=b.notice_id,
                    language=b.language,
                    batch_no=b.batch_no,
                    recipients=b.recipients,
                    purpose=b.purpose,
                    priority=b.priority,
                    notice_recipients=b.notice_recipients,
                    planned_at=b.planned_at,
                    status=DeliveryStatus.SENT,
                    mode=SendMode.MULTICAST,
                    request_id=f"req-{b.batch_no}",
                    http_status=200,
                    attempts=1,
                    completed_at=now,
                ),
            )
            for b in planned
        ],
    )

    watched = await gunma(
        "notices",
        "status",
        notice_id,
        "--watch",
        "--interval",
        "0.3",
        "--timeout",
        "60",
        key=services.staff_key,
    )
    assert watched.code == 0, watched
    total = next(line for line in watched.out.splitlines() if line.strip("│ ").startswith("total"))
    cells = [cell.strip() for cell in total.strip("│ ").split("│")]
    assert cells[3:5] == ["5", "5"] and cells[-1] == "0", total  # planned, sent; nothing pending

    detail = await gunma("notices", "status", notice_id, "--json", key=services.ops_key)
    status = json.loads(detail.out)
    assert (
        status["state"] == "planned" and {r["language"]: r["sent"] for r in status["languages"]} == languages
    )

    listed = await gunma("notices", "status", "--state", "planned", "--limit", "500", key=services.staff_key)
    assert listed.code == 0 and notice_id in listed.out

    late = await gunma("notices", "cancel", notice_id, key=services.staff_key)
    assert late.code == 1 and "HTTP 409 Too late to cancel" in late.err

    stats = await gunma("stats", "--employers", "5", key=services.ops_key)
    assert stats.code == 0, stats
    assert "registered workers" in stats.out and "by language" in stats.out


async def test_unknown_keys_and_unreachable_services_are_one_line(
    services: Services, gunma: Callable[..., Awaitable[Run]]
) -> None:
    unknown = await gunma("stats", key="gmk_0123456789abcdef_" + "x" * 43)
    assert unknown.code == 1 and "HTTP 401" in unknown.err and "GUNMA_OPS_API_KEY" in unknown.err
    missing = await gunma("notices", "status", str(uuid.uuid4()), key=services.staff_key)
    assert missing.code == 1 and "HTTP 404 Notice not found" in missing.err
    down = await gunma("stats", "--router-url", f"http://127.0.0.1:{free_port()}", key=services.ops_key)
    assert down.code == 1 and "cannot reach router" in down.err
    for run in (unknown, missing, down):
        assert "Traceback" not in run.err and len(run.err.strip().splitlines()) == 1, run
