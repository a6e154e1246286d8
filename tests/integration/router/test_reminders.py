"""Personal reminders end to end: employment events in, DeliveryPlanned(purpose=reminder) out, once."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from services.common import db
from services.common.contracts import (
    DeliveryPlanned,
    EmploymentEvent,
    Purpose,
    WorkerHired,
    WorkerSeparated,
    derived_id,
)
from services.common.kafka import Publisher
from services.common.topics import Topics
from services.router import registry
from services.router.domain.quiet_hours import QuietHours
from services.router.reminders import ReminderPlanner
from tests.integration.router.conftest import (
    Clock,
    RunningRouter,
    caught_up,
    line_user,
    publish,
    read_to_end,
    wait_for,
    worker_id,
)

TOKYO = ZoneInfo("Asia/Tokyo")
NOW = datetime(2026, 5, 1, 10, 0, tzinfo=TOKYO)
TODAY = NOW.date()
KIRYU, MAEBASHI, OIZUMI = "102032", "102016", "105244"


@pytest.fixture(scope="module")
async def router(start_router: Any) -> AsyncIterator[RunningRouter]:
    async with start_router(clock=Clock(NOW)) as running:
        yield running


def _facts(w: str, est: str, city: str, name: str, **kw: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "worker_id": w,
        "source": "mhlw",
        "source_event_id": uuid.uuid4().hex,
        "reported_at": NOW - timedelta(days=1),
        "establishment": {"establishment_id": est, "municipality_code": city, "name": name},
        "nationality": "VN",
        "residence_status": "technical_intern_2a",
        "period_expires_on": date(2027, 3, 31),
    }
    data.update(kw)
    return data


def hired(w: str, on: date, est: str, city: str, name: str = "Kiryu Textile", **kw: Any) -> WorkerHired:
    return WorkerHired.model_validate({**_facts(w, est, city, name, **kw), "hired_on": on})


def separated(
    w: str, on: date, est: str, city: str, name: str = "Kiryu Textile", **kw: Any
) -> WorkerSeparated:
    return WorkerSeparated.model_validate({**_facts(w, est, city, name, **kw), "separated_on": on})


async def linked_subscriber(
    pool: db.Pool, w: str, *, language: str = "vi", opted_out: tuple[str, ...] = ()
) -> str:
    user = line_user()
    async with pool.acquire() as conn, conn.transaction():
        await registry.ensure_subscriber(conn, user)
        await registry.set_language(conn, user, language)
        await registry.set_opted_out(conn, user, opted_out)
        await registry.link_worker(conn, user, worker_id=w, consent_version="2026-04", at=NOW)
    return user


async def send(bootstrap: str, topics: Topics, events: list[EmploymentEvent]) -> None:
    await publish(bootstrap, topics.employment, [(e.worker_id, e) for e in events])


async def reminders_to(bootstrap: str, topics: Topics, user: str) -> list[DeliveryPlanned]:
    plans = [
        DeliveryPlanned.model_validate_json(r.value)
        for r in await read_to_end(bootstrap, topics.deliveries_planned)
    ]
    return [p for p in plans if p.purpose is Purpose.REMINDER and p.recipients == (user,)]


async def rows_for(pool: db.Pool, w: str) -> list[dict[str, Any]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT rule_id, trigger_on, state, skip_reason FROM reminder_deliveries"
            " WHERE worker_id = $1 ORDER BY rule_id",
            w,
        )
    return [dict(r) for r in rows]


async def test_expiry_in_ninety_days_raises_one_reminder_with_its_values(
    router: RunningRouter, pool: db.Pool, kafka_bootstrap: str, router_topics: Topics
) -> None:
    w = worker_id()
    est = f"K{uuid.uuid4().hex[:8].upper()}"
    user = await linked_subscriber(pool, w, language="vi")
    expires = TODAY + timedelta(days=90)
    event = hired(w, date(2025, 4, 1), est, KIRYU, period_expires_on=expires)
    await send(kafka_bootstrap, router_topics, [event])

    async def published() -> list[DeliveryPlanned]:
        return await reminders_to(kafka_bootstrap, router_topics, user)

    [plan] = await wait_for(published, timeout=60)
    assert plan.notice_id == derived_id("reminder", "residence-expiry-90")
    assert plan.language == "vi"
    assert plan.values == {"date": expires.isoformat(), "city": "Kiryu", "employer": "Kiryu Textile"}
    assert plan.notice_recipients == 1
    assert plan.content.category.value == "immigration"
    assert "{date}" in plan.content.title
    assert plan.key == f"{plan.notice_id}:vi"

    # The same event again, and a full periodic evaluation: still one reminder.
    await send(kafka_bootstrap, router_topics, [event])
    await caught_up(
        pool, kafka_bootstrap, router_topics.employment, router_topics.prefix + "router.employment"
    )
    planner = ReminderPlanner(
        pool=pool,
        publisher=Publisher(router.app),  # type: ignore[arg-type]  # evaluation publishes nothing
        topic=router_topics.deliveries_planned,
        quiet=QuietHours(router.settings.quiet_hours_start, router.settings.quiet_hours_end, TOKYO),
        chunk=10,
        fallback_language=None,
    )
    async with pool.acquire() as conn, conn.transaction():
        await planner.evaluate(conn, router.clock())
        assert await planner.evaluate(conn, router.clock(), [w]) == 0
    assert [r["rule_id"] for r in await rows_for(pool, w)] == ["residence-expiry-90"]
    assert len(await reminders_to(kafka_bootstrap, router_topics, user)) == 1


async def test_a_separation_reminds_of_the_fourteen_day_notification_but_not_an_opted_out_worker(
    router: RunningRouter, pool: db.Pool, kafka_bootstrap: str, router_topics: Topics
) -> None:
    w_in, w_out = worker_id(), worker_id()
    est = f"S{uuid.uuid4().hex[:8].upper()}"
    user_in = await linked_subscriber(pool, w_in, language="id")
    await linked_subscriber(pool, w_out, language="id", opted_out=("immigration",))
    left_on = TODAY - timedelta(days=6)
    events: list[EmploymentEvent] = []
    for w in (w_in, w_out):
        events += [
            hired(w, date(2024, 4, 1), est, KIRYU, name="Gunma Parts"),
            separated(w, left_on, est, KIRYU, name="Gunma Parts"),
        ]
    await send(kafka_bootstrap, router_topics, events)

    async def published() -> list[DeliveryPlanned]:
        return await reminders_to(kafka_bootstrap, router_topics, user_in)

    [plan] = await wait_for(published, timeout=60)
    assert plan.notice_id == derived_id("reminder", "separation-notify-14-days")
    assert plan.values == {
        "date": (left_on + timedelta(days=14)).isoformat(),
        "city": "Kiryu",
        "employer": "Gunma Parts",
    }
    await wait_for(lambda: _applied(pool, w_out), timeout=30)
    assert await rows_for(pool, w_out) == [], "opted out of immigration: nothing raised"


async def _applied(pool: db.Pool, w: str) -> bool:
    async with pool.acquire() as conn:
        return bool(
            await conn.fetchval("SELECT count(*) FROM employments WHERE worker_id = $1 AND NOT active", w)
        )


async def test_a_hire_in_a_new_city_welcomes_with_each_category_the_worker_did_not_opt_out_of(
    router: RunningRouter, pool: db.Pool, kafka_bootstrap: str, router_topics: Topics
) -> None:
    w = worker_id()
    user = await linked_subscriber(pool, w, language="pt-BR", opted_out=("garbage",))
    old, new = f"M{uuid.uuid4().hex[:8].upper()}", f"O{uuid.uuid4().hex[:8].upper()}"
    await send(
        kafka_bootstrap,
        router_topics,
        [
            hired(w, date(2023, 4, 1), old, MAEBASHI, name="Maebashi Foods"),
            separated(w, date(2026, 3, 31), old, MAEBASHI, name="Maebashi Foods"),
            hired(w, TODAY - timedelta(days=10), new, OIZUMI, name="Oizumi Motors"),
        ],
    )

    async def published() -> list[DeliveryPlanned]:
        plans = await reminders_to(kafka_bootstrap, router_topics, user)
        return plans if len(plans) >= 3 else []

    plans = {p.notice_id: p for p in await wait_for(published, timeout=60)}
    welcome = {derived_id("reminder", r) for r in ("welcome-new-city-address", "welcome-new-city-tax")}
    # Leaving Maebashi on 31 March was 31 days ago: the separation rule's window is 60 days.
    separation = derived_id("reminder", "separation-notify-14-days")
    assert set(plans) == welcome | {separation}, "no garbage rules: the worker opted out of them"
    for notice_id in welcome:
        assert plans[notice_id].values == {
            "date": (TODAY - timedelta(days=10)).isoformat(),
            "city": "Oizumi",
            "employer": "Oizumi Motors",
        }
    assert plans[separation].values == {
        "date": "2026-04-14",
        "city": "Maebashi",
        "employer": "Maebashi Foods",
    }
    await caught_up(
        pool, kafka_bootstrap, router_topics.employment, router_topics.prefix + "router.employment"
    )
    assert len(await reminders_to(kafka_bootstrap, router_topics, user)) == 3


async def test_a_reminder_raised_at_night_waits_for_the_morning(
    router: RunningRouter, pool: db.Pool, kafka_bootstrap: str, router_topics: Topics
) -> None:
    w = worker_id()
    user = await linked_subscriber(pool, w, language="ne")
    night = datetime(2026, 5, 1, 22, 0, tzinfo=TOKYO)
    router.clock.now = night
    try:
        await send(
            kafka_bootstrap,
            router_topics,
            [
                hired(
                    w,
                    date(2025, 4, 1),
                    f"N{uuid.uuid4().hex[:8].upper()}",
                    KIRYU,
                    period_expires_on=night.date() + timedelta(days=30),
                )
            ],
        )

        async def raised() -> list[dict[str, Any]]:
            return await rows_for(pool, w)

        [row] = await wait_for(raised, timeout=60)
        assert row["rule_id"] == "residence-expiry-30"
        async with pool.acquire() as conn:
            release_at = await conn.fetchval(
                "SELECT release_at FROM reminder_deliveries WHERE worker_id = $1", w
            )
        assert release_at == datetime(2026, 5, 2, 8, 0, tzinfo=TOKYO)
        with pytest.raises(TimeoutError):
            await wait_for(lambda: reminders_to(kafka_bootstrap, router_topics, user), timeout=2)
        router.clock.now = datetime(2026, 5, 2, 8, 0, tzinfo=TOKYO)
        [plan] = await wait_for(lambda: reminders_to(kafka_bootstrap, router_topics, user), timeout=30)
        assert plan.values["date"] == (night.date() + timedelta(days=30)).isoformat()
    finally:
        router.clock.now = NOW


async def test_a_reminder_is_skipped_when_the_worker_stops_everything_before_its_release(
    router: RunningRouter, pool: db.Pool, kafka_bootstrap: str, router_topics: Topics
) -> None:
    w = worker_id()
    user = await linked_subscriber(pool, w, language="km")
    router.clock.now = datetime(2026, 5, 1, 23, 0, tzinfo=TOKYO)
    try:
        await send(
            kafka_bootstrap,
            router_topics,
            [
                hired(
                    w,
                    date(2025, 4, 1),
                    f"T{uuid.uuid4().hex[:8].upper()}",
                    KIRYU,
                    period_expires_on=date(2026, 5, 14),
                )
            ],
        )
        await wait_for(lambda: rows_for(pool, w), timeout=60)
        async with pool.acquire() as conn:
            await registry.set_stopped(conn, user, True, at=router.clock())
        router.clock.now = datetime(2026, 5, 2, 8, 0, tzinfo=TOKYO)

        async def skipped() -> bool:
            rows = await rows_for(pool, w)
            return bool(rows) and rows[0]["state"] == "skipped"

        await wait_for(skipped, timeout=30)
    finally:
        router.clock.now = NOW
    assert (await rows_for(pool, w))[0]["skip_reason"] == "stopped"
    assert await reminders_to(kafka_bootstrap, router_topics, user) == []


async def test_the_rule_report_counts_what_each_rule_did(
    router: RunningRouter, pool: db.Pool, kafka_bootstrap: str, router_topics: Topics
) -> None:
    from services.common.auth import Role, create_key

    async with pool.acquire() as conn:
        staff, _ = await create_key(conn, name="reminder report", role=Role.STAFF)
        city, _ = await create_key(conn, name="city", role=Role.STAFF, cities=(KIRYU,))
    report = await router.client.get(
        "/v1/reminder-rules/residence-expiry-90", headers={"Authorization": f"Bearer {staff}"}
    )
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["rule"]["trigger"] == "expiry_before"
    assert body["raised"] >= 1
    assert body["published"] >= 1
    assert body["raised"] == body["pending"] + body["published"] + sum(body["skipped"].values())
    forbidden = await router.client.get(
        "/v1/reminder-rules/residence-expiry-90", headers={"Authorization": f"Bearer {city}"}
    )
    assert forbidden.status_code == 403
    missing = await router.client.get(
        "/v1/reminder-rules/no-such-rule", headers={"Authorization": f"Bearer {staff}"}
    )
    assert missing.status_code == 404
