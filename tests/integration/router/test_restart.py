"""The schedule survives a crash: the real router process is killed between scheduling and release."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.common import db
from services.common.contracts import AudienceFilter, DeliveryPlanned, NoticeContent, NoticeSubmitted
from services.common.topics import Topics
from tests.integration.router.conftest import line_user, publish, read_to_end, seed_subscribers, wait_for
from tests.support.services import ServiceProcess
from tests.support.stack import free_port

pytestmark = pytest.mark.slow


async def test_a_notice_scheduled_before_a_sigkill_is_released_once_after_the_restart(
    pool: db.Pool,
    kafka_bootstrap: str,
    database_url: str,
    router_topics: Topics,
    tmp_log_dir: Path,
) -> None:
    tag = f"R{uuid.uuid4().hex[:8].upper()}"
    users = {line_user() for _ in range(3)}
    await seed_subscribers(
        pool, [{"line_user_id": u, "language": "my", "declared_establishment_id": tag} for u in users]
    )
    port = free_port()
    router = ServiceProcess(
        "router",
        env={
            "GUNMA_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "GUNMA_KAFKA_TOPIC_PREFIX": router_topics.prefix,
            "GUNMA_DATABASE_URL": database_url,
            "GUNMA_ROUTER_HTTP_PORT": str(port),
            # Whatever the hour of the test run: no quiet hours, this test is about the restart.
            "GUNMA_ROUTER_QUIET_HOURS_START": "00:00",
            "GUNMA_ROUTER_QUIET_HOURS_END": "00:00",
            "GUNMA_ROUTER_SCHEDULER_POLL_SECONDS": "0.5",
        },
        port=port,
        log_dir=tmp_log_dir,
    )
    submitted = NoticeSubmitted(
        notice_id=uuid.uuid4(),
        content=NoticeContent(
            title="Typhoon", body="Stay indoors.", source_language="en", category="disaster"
        ),
        audience=AudienceFilter(employers=(tag,)),
        send_at=datetime.now(UTC) + timedelta(seconds=12),
        submitted_by="test",
    )

    async def state() -> str | None:
        async with pool.acquire() as conn:
            value: str | None = await conn.fetchval(
                "SELECT state FROM notices WHERE notice_id = $1", submitted.notice_id
            )
            return value

    async def planned() -> bool:
        return await state() == "planned"

    router.start(timeout=90)
    try:
        await publish(kafka_bootstrap, router_topics.notices, [(str(submitted.notice_id), submitted)])
        assert await wait_for(state, timeout=60) == "scheduled"
        router.kill()
        assert submitted.send_at is not None
        # The release time passes while no router runs.
        await asyncio.sleep(max((submitted.send_at - datetime.now(UTC)).total_seconds() + 1, 0))
        assert await state() == "scheduled"
        router.start(timeout=90)
        await wait_for(planned, timeout=60)
        await asyncio.sleep(1.5)  # room for a wrong second release to show up
    finally:
        router.stop()

    records = [
        r
        for r in await read_to_end(kafka_bootstrap, router_topics.deliveries_planned)
        if r.key.decode().startswith(str(submitted.notice_id))
    ]
    assert len(records) == 1, "released exactly once"
    plan = DeliveryPlanned.model_validate_json(records[0].value)
    assert set(plan.recipients) == users
    assert plan.planned_at >= submitted.send_at
