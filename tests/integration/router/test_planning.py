"""Planning on real Kafka and PostgreSQL: batches per language, exactly once, scope, quiet hours, resume."""

from __future__ import annotations

import math
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from services.common import db, languages
from services.common.contracts import (
    AudienceFilter,
    DeliveryPlanned,
    NoticeContent,
    NoticeSubmitted,
    Priority,
    batch_id_for,
)
from services.common.kafka import Publisher, create_broker
from services.common.topics import Topics
from services.router.domain.quiet_hours import QuietHours
from services.router.planning import Planner, record_notices
from services.router.settings import RouterSettings
from tests.integration.router.conftest import (
    Clock,
    RunningRouter,
    caught_up,
    line_user,
    publish,
    read_to_end,
    seed_subscribers,
    wait_for,
)

TOKYO = ZoneInfo("Asia/Tokyo")
DAYTIME = datetime(2026, 5, 1, 10, 0, tzinfo=TOKYO)
OIZUMI, MAEBASHI, OTA = "105244", "102016", "102059"

#: The 24 default languages (Easy Japanese included, Japanese left out), with counts chosen to land on
#: and around the batch boundaries: 500, 501, 1000, 1001, 499, 1, ...; 10,000 in all.
TWENTY_FOUR = [lang.code for lang in languages.DEFAULT_LANGUAGES if lang.code != "ja"]
COUNTS = [
    1001, 1000, 999, 501, 500, 499, 1, 2, 250, 750, 1500, 100,
    200, 300, 400, 350, 150, 250, 180, 120, 90, 60, 40, 757,
]  # fmt: skip


@pytest.fixture(scope="module")
async def router(start_router: Any) -> AsyncIterator[RunningRouter]:
    async with start_router(clock=Clock(DAYTIME)) as running:
        yield running


def notice(audience: AudienceFilter, **kw: Any) -> NoticeSubmitted:
    values: dict[str, Any] = {
        "notice_id": uuid.uuid4(),
        "content": NoticeContent(
            title="Bicycle rules",
            body="From April 2026 cycling offences are fined in {city}.",
            source_language="en",
            category="traffic",
        ),
        "audience": audience,
        "submitted_by": "test-key",
    }
    values.update(kw)
    return NoticeSubmitted(**values)


async def planned_for(bootstrap: str, topics: Topics, notice_id: uuid.UUID) -> list[Any]:
    records = await read_to_end(bootstrap, topics.deliveries_planned)
    return [r for r in records if r.key.decode().startswith(f"{notice_id}:")]


async def state_of(pool: db.Pool, notice_id: uuid.UUID) -> str | None:
    async with pool.acquire() as conn:
        value: str | None = await conn.fetchval("SELECT state FROM notices WHERE notice_id = $1", notice_id)
        return value


async def test_a_notice_to_ten_thousand_subscribers_in_24_languages_is_planned_once(
    router: RunningRouter, pool: db.Pool, kafka_bootstrap: str, router_topics: Topics
) -> None:
    assert len(TWENTY_FOUR) == len(COUNTS) == 24 and sum(COUNTS) == 10_000
    employer = f"E{uuid.uuid4().hex[:10].upper()}"
    audience_rows: list[dict[str, Any]] = []
    expected: dict[str, set[str]] = {}
    for code, n in zip(TWENTY_FOUR, COUNTS, strict=True):
        users = {line_user() for _ in range(n)}
        expected[code] = users
        audience_rows += [
            {"line_user_id": u, "language": code, "declared_establishment_id": employer} for u in users
        ]
    # Same employer, but not to be reached: unfollowed, unreachable, stopped, opted out of traffic.
    now = DAYTIME.astimezone(UTC)
    excluded: list[dict[str, Any]] = [
        {
            "line_user_id": line_user(),
            "language": "vi",
            "declared_establishment_id": employer,
            "followed": False,
        },
        {
            "line_user_id": line_user(),
            "language": "vi",
            "declared_establishment_id": employer,
            "unreachable_at": now,
        },
        {
            "line_user_id": line_user(),
            "language": "en",
            "declared_establishment_id": employer,
            "stopped_at": now,
        },
        {
            "line_user_id": line_user(),
            "language": "en",
            "declared_establishment_id": employer,
            "opted_out_categories": ["traffic"],
        },
        {"line_user_id": line_user(), "language": None, "declared_establishment_id": employer},
        {"line_user_id": line_user(), "language": "tlh", "declared_establishment_id": employer},
        {"line_user_id": line_user(), "language": "en", "declared_establishment_id": "SOMEONE-ELSE"},
    ]
    await seed_subscribers(pool, audience_rows + excluded)

    submitted = notice(AudienceFilter(employers=(employer,)))
    key = str(submitted.notice_id)
    await publish(kafka_bootstrap, router_topics.notices, [(key, submitted)])
    await wait_for(lambda: _is(pool, submitted.notice_id, "planned"), timeout=90)

    records = await planned_for(kafka_bootstrap, router_topics, submitted.notice_id)
    plans = [DeliveryPlanned.model_validate_json(r.value) for r in records]
    by_language: dict[str, list[DeliveryPlanned]] = {}
    for plan in plans:
        by_language.setdefault(plan.language, []).append(plan)
    assert set(by_language) == set(TWENTY_FOUR)
    for code, n in zip(TWENTY_FOUR, COUNTS, strict=True):
        batches = sorted(by_language[code], key=lambda p: p.batch_no)
        assert len(batches) == math.ceil(n / 500), code
        assert [b.batch_no for b in batches] == list(range(len(batches)))
        assert all(len(b.recipients) <= 500 for b in batches)
        assert [b.batch_id for b in batches] == [
            batch_id_for(submitted.notice_id, code, i) for i in range(len(batches))
        ]
        received = [u for b in batches for u in b.recipients]
        assert len(received) == len(set(received)) == n
        assert set(received) == expected[code]
    everyone = [u for p in plans for u in p.recipients]
    assert len(everyone) == len(set(everyone)) == 10_000, "no subscriber twice"
    assert {p.notice_recipients for p in plans} == {10_000}
    assert {r.key.decode() for r in records} == {f"{submitted.notice_id}:{code}" for code in TWENTY_FOUR}
    assert {p.content for p in plans} == {submitted.content}
    assert len({p.event_id for p in plans}) == len(plans)

    # The same NoticeSubmitted again (a producer retry: another offset): nothing more is planned.
    await publish(kafka_bootstrap, router_topics.notices, [(key, submitted)])
    await caught_up(pool, kafka_bootstrap, router_topics.notices, router_topics.prefix + "router.notices")
    again = await planned_for(kafka_bootstrap, router_topics, submitted.notice_id)
    assert len(again) == len(records)
    async with pool.acquire() as conn:
        assert (
            await conn.fetchval("SELECT count(*) FROM notices WHERE notice_id = $1", submitted.notice_id) == 1
        )
        assert await conn.fetchval(
            "SELECT count(*) FROM notice_batches WHERE notice_id = $1", submitted.notice_id
        ) == sum(math.ceil(n / 500) for n in COUNTS)

    response = await router.client.get(f"/v1/notices/{submitted.notice_id}")
    assert response.status_code == 401, "the status endpoint needs a key"


async def _is(pool: db.Pool, notice_id: uuid.UUID, state: str) -> bool:
    return await state_of(pool, notice_id) == state


async def test_a_city_key_reaches_only_its_cities(
    router: RunningRouter, pool: db.Pool, kafka_bootstrap: str, router_topics: Topics
) -> None:
    tag = f"S{uuid.uuid4().hex[:8].upper()}"  # an employer of its own keeps other tests' subscribers out
    rows = []
    for city, n in ((OIZUMI, 7), (MAEBASHI, 5), (OTA, 3)):
        rows += [
            {
                "line_user_id": line_user(),
                "language": "pt-BR",
                "declared_establishment_id": tag,
                "declared_municipality_code": city,
            }
            for _ in range(n)
        ]
    await seed_subscribers(pool, rows)
    submitted = notice(
        AudienceFilter(cities=(OIZUMI, MAEBASHI), employers=(tag,)),
        scope_cities=(OIZUMI, OTA),
        submitted_by="oizumi",
    )
    await publish(kafka_bootstrap, router_topics.notices, [(str(submitted.notice_id), submitted)])
    await wait_for(lambda: _is(pool, submitted.notice_id, "planned"), timeout=60)
    plans = [
        DeliveryPlanned.model_validate_json(r.value)
        for r in await planned_for(kafka_bootstrap, router_topics, submitted.notice_id)
    ]
    assert sum(len(p.recipients) for p in plans) == 7, (
        "Oizumi only: Maebashi is outside the key, Ota was not asked for"
    )
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT cities, dropped_cities FROM notices WHERE notice_id = $1", submitted.notice_id
        )
    assert row is not None
    assert (row["cities"], row["dropped_cities"]) == ([OIZUMI], [MAEBASHI])


async def test_quiet_hours_hold_a_normal_notice_until_eight_and_an_emergency_goes_at_once(
    router: RunningRouter, pool: db.Pool, kafka_bootstrap: str, router_topics: Topics
) -> None:
    tag = f"Q{uuid.uuid4().hex[:8].upper()}"
    await seed_subscribers(
        pool, [{"line_user_id": line_user(), "language": "ne", "declared_establishment_id": tag}]
    )
    router.clock.now = datetime(2026, 5, 1, 22, 30, tzinfo=TOKYO)
    try:
        normal = notice(AudienceFilter(employers=(tag,)))
        urgent = notice(AudienceFilter(employers=(tag,)), priority=Priority.EMERGENCY)
        await publish(
            kafka_bootstrap,
            router_topics.notices,
            [(str(normal.notice_id), normal), (str(urgent.notice_id), urgent)],
        )
        await wait_for(lambda: _is(pool, urgent.notice_id, "planned"), timeout=60)
        async with pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT state, release_at, held_reason FROM notices WHERE notice_id = $1", normal.notice_id
            )
        assert row is not None
        assert row["state"] == "scheduled"
        assert row["held_reason"] == "quiet_hours"
        assert row["release_at"] == datetime(2026, 5, 2, 8, 0, tzinfo=TOKYO)

        router.clock.now = datetime(2026, 5, 2, 7, 59, 59, tzinfo=TOKYO)
        with pytest.raises(TimeoutError):
            await wait_for(lambda: _is(pool, normal.notice_id, "planned"), timeout=1.5)
        router.clock.now = datetime(2026, 5, 2, 8, 0, tzinfo=TOKYO)
        await wait_for(lambda: _is(pool, normal.notice_id, "planned"), timeout=30)
    finally:
        router.clock.now = DAYTIME


class _CrashingPublisher(Publisher):
    """Publishes the first chunk, then fails like a process dying mid-publish."""

    def __init__(self, inner: Publisher) -> None:
        self._inner = inner
        self.calls = 0

    async def publish_many(self, topic: str, events: Any) -> int:
        self.calls += 1
        if self.calls > 1:
            raise ConnectionResetError("the broker went away")
        return await self._inner.publish_many(topic, events)


async def test_a_crash_mid_publish_resumes_from_the_snapshot_with_the_same_batch_ids(
    router: RunningRouter, pool: db.Pool, kafka_bootstrap: str, router_topics: Topics, database_url: str
) -> None:
    tag = f"C{uuid.uuid4().hex[:8].upper()}"
    users = [line_user() for _ in range(2_300)]  # 5 batches of "th"
    await seed_subscribers(
        pool, [{"line_user_id": u, "language": "th", "declared_establishment_id": tag} for u in users]
    )
    submitted = notice(AudienceFilter(employers=(tag,)))
    settings = RouterSettings(
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_topic_prefix=router_topics.prefix,
    )
    broker = create_broker(settings, client_id="crash-test")
    await broker.start()
    try:
        crashing = _CrashingPublisher(Publisher(broker))
        planner_quiet = QuietHours(DAYTIME.time(), DAYTIME.time(), TOKYO)
        planner = Planner(
            pool=pool,
            publisher=crashing,
            topic=router_topics.deliveries_planned,
            quiet=planner_quiet,
            batch_size=500,
            publish_chunk=2,
            fallback_language=None,
        )
        # Recorded as the consumer would, due ten years after the router's clock: only this planner,
        # whose clock says so, releases it.
        later = DAYTIME + timedelta(days=3650)
        async with pool.acquire() as conn, conn.transaction():
            await record_notices(conn, [submitted], now=later, quiet=planner_quiet)
        with pytest.raises(ConnectionResetError):
            await planner.release_next(later)
        assert await state_of(pool, submitted.notice_id) == "publishing"
        # Meanwhile the audience changes: the resumed notice must not notice.
        await seed_subscribers(
            pool, [{"line_user_id": line_user(), "language": "th", "declared_establishment_id": tag}]
        )
        await wait_for(lambda: _is(pool, submitted.notice_id, "planned"), timeout=30)  # the router resumes it
    finally:
        await broker.stop()
    plans = [
        DeliveryPlanned.model_validate_json(r.value)
        for r in await planned_for(kafka_bootstrap, router_topics, submitted.notice_id)
    ]
    assert Counter(p.batch_id for p in plans) == Counter(
        {batch_id_for(submitted.notice_id, "th", i): 1 for i in range(5)}
    ), "the first chunk was marked published before the crash: nothing is sent twice"
    assert sorted(u for p in plans for u in p.recipients) == sorted(users)
