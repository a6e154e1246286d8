"""The staff API over real data: audience counts, notice status with delivery results, stats, rules."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from services.common import db
from services.common.auth import Role, create_key
from services.common.contracts import (
    AudienceFilter,
    DeliveryPlanned,
    DeliveryResult,
    DeliveryStatus,
    NoticeContent,
    NoticeSubmitted,
    SendMode,
)
from services.common.topics import Topics
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
NOW = datetime(2026, 6, 1, 14, 0, tzinfo=TOKYO)
OIZUMI, OTA, KIRYU = "105244", "102059", "102032"


@pytest.fixture(scope="module")
async def router(start_router: Any) -> AsyncIterator[RunningRouter]:
    async with start_router(clock=Clock(NOW)) as running:
        yield running


@pytest.fixture(scope="module")
async def keys(pool: db.Pool) -> dict[str, str]:
    async with pool.acquire() as conn:
        return {
            "prefecture": (await create_key(conn, name="gunma staff", role=Role.STAFF))[0],
            "oizumi": (await create_key(conn, name="oizumi staff", role=Role.STAFF, cities=(OIZUMI,)))[0],
            "ops": (await create_key(conn, name="ops", role=Role.OPS))[0],
            "feed": (await create_key(conn, name="feed", role=Role.FEED))[0],
        }


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
async def population(pool: db.Pool) -> dict[str, Any]:
    """Subscribers of two new employers (one in Oizumi, one in Ota) and their establishments."""
    tag = uuid.uuid4().hex[:6].upper()
    oizumi_co, ota_co = f"OZ{tag}", f"OT{tag}"
    async with pool.acquire() as conn:
        await conn.executemany(
            "INSERT INTO establishments (establishment_id, name, municipality_code, reported_at, event_id)"
            " VALUES ($1, $2, $3, now(), $4)",
            [(oizumi_co, "Oizumi Motors", OIZUMI, uuid.uuid4()), (ota_co, "Ota Foods", OTA, uuid.uuid4())],
        )
    rows: list[dict[str, Any]] = []

    def add(n: int, language: str, employer: str, city: str, **kw: Any) -> list[str]:
        users = [line_user() for _ in range(n)]
        rows.extend(
            {
                "line_user_id": u,
                "language": language,
                "declared_establishment_id": employer,
                "declared_municipality_code": city,
                **kw,
            }
            for u in users
        )
        return users

    oizumi_pt = add(6, "pt-BR", oizumi_co, OIZUMI)
    oizumi_vi = add(3, "vi", oizumi_co, OIZUMI)
    ota_vi = add(4, "vi", ota_co, OTA, declared_nationality="VN")
    add(2, "vi", ota_co, OTA, followed=False)
    await seed_subscribers(pool, rows)
    return {
        "oizumi_co": oizumi_co,
        "ota_co": ota_co,
        "oizumi_pt": oizumi_pt,
        "oizumi_vi": oizumi_vi,
        "ota_vi": ota_vi,
    }


async def test_every_route_needs_a_key_of_the_right_role(router: RunningRouter, keys: dict[str, str]) -> None:
    client = router.client
    missing = await client.post("/v1/audience/count", json={})
    assert missing.status_code == 401
    assert missing.headers["content-type"] == "application/problem+json"
    assert (await client.get("/v1/stats", headers=auth("gmk_abc_wrong"))).status_code == 401
    feed = await client.get("/v1/stats", headers=auth(keys["feed"]))
    assert feed.status_code == 403
    assert "staff or ops" in feed.json()["detail"] or "ops or staff" in feed.json()["detail"]
    rule = await client.put("/v1/reminder-rules/x-rule", headers=auth(keys["prefecture"]), json={})
    assert rule.status_code == 403, "staff keys do not manage reminder rules"
    assert (await client.get("/healthz")).status_code == 200


async def test_audience_counts_per_language_and_city_within_the_keys_scope(
    router: RunningRouter, keys: dict[str, str], population: dict[str, Any]
) -> None:
    both = {"employers": [population["oizumi_co"], population["ota_co"]]}
    whole = await router.client.post(
        "/v1/audience/count", headers=auth(keys["prefecture"]), json={"audience": both}
    )
    assert whole.status_code == 200, whole.text
    body = whole.json()
    assert body["total"] == 13
    assert body["by_language"] == {"pt-BR": 6, "vi": 7}
    assert {c["code"]: (c["name_en"], c["count"]) for c in body["by_city"]} == {
        OIZUMI: ("Oizumi", 9),
        OTA: ("Ota", 4),
    }
    assert {"language": "vi", "city": OTA, "count": 4} in body["cells"]
    assert body["scope_cities"] is None

    city = await router.client.post(
        "/v1/audience/count", headers=auth(keys["oizumi"]), json={"audience": both}
    )
    assert city.json()["total"] == 9, "a city key counts its own city only"
    assert city.json()["scope_cities"] == [OIZUMI]

    outside = await router.client.post(
        "/v1/audience/count",
        headers=auth(keys["oizumi"]),
        json={"audience": {**both, "cities": [OIZUMI, OTA]}},
    )
    assert outside.status_code == 403
    assert outside.json()["errors"] == [
        {"field": "audience.cities[1]", "reason": f"municipality {OTA} is outside this key's scope"}
    ]

    narrowed = await router.client.post(
        "/v1/audience/count",
        headers=auth(keys["prefecture"]),
        json={"audience": {**both, "nationalities": ["vn"], "languages": ["vi"]}, "category": "tax"},
    )
    assert narrowed.json()["total"] == 4

    typo = await router.client.post(
        "/v1/audience/count", headers=auth(keys["prefecture"]), json={"audience": {"citys": []}}
    )
    assert typo.status_code == 422
    assert typo.json()["errors"][0]["field"].endswith("audience.citys")
    bad_city = await router.client.post(
        "/v1/audience/count", headers=auth(keys["prefecture"]), json={"audience": {"cities": ["105245"]}}
    )
    assert bad_city.status_code == 422
    assert "check digit" in bad_city.json()["detail"]


async def test_notice_status_counts_results_and_unreachable_users_are_not_targeted_again(
    router: RunningRouter,
    pool: db.Pool,
    kafka_bootstrap: str,
    router_topics: Topics,
    keys: dict[str, str],
    population: dict[str, Any],
) -> None:
    submitted = NoticeSubmitted(
        notice_id=uuid.uuid4(),
        content=NoticeContent(
            title="Tax", body="Residence tax starts in June.", source_language="en", category="tax"
        ),
        audience=AudienceFilter(employers=(population["oizumi_co"],)),
        submitted_by="staff",
        scope_cities=(OIZUMI,),
    )
    await publish(kafka_bootstrap, router_topics.notices, [(str(submitted.notice_id), submitted)])

    async def planned() -> list[DeliveryPlanned]:
        records = await read_to_end(kafka_bootstrap, router_topics.deliveries_planned)
        plans = [DeliveryPlanned.model_validate_json(r.value) for r in records]
        return [p for p in plans if p.notice_id == submitted.notice_id]

    plans = {p.language: p for p in await wait_for(planned, timeout=60)}
    assert set(plans) == {"pt-BR", "vi"}
    gone = population["oizumi_pt"][0]
    completed = NOW.astimezone(UTC) + timedelta(minutes=5)

    def result(
        plan: DeliveryPlanned, status: DeliveryStatus, unreachable: tuple[str, ...] = ()
    ) -> DeliveryResult:
        return DeliveryResult(
            batch_id=plan.batch_id,
            notice_id=plan.notice_id,
            language=plan.language,
            batch_no=plan.batch_no,
            recipients=plan.recipients,
            notice_recipients=plan.notice_recipients,
            planned_at=plan.planned_at,
            status=status,
            mode=SendMode.MULTICAST,
            unreachable=unreachable,
            completed_at=completed,
            http_status=200 if status is DeliveryStatus.SENT else 500,
        )

    sent = result(plans["pt-BR"], DeliveryStatus.SENT, (gone,))
    failed = result(plans["vi"], DeliveryStatus.FAILED)
    stale = failed.model_copy(
        update={"completed_at": completed - timedelta(minutes=1), "status": DeliveryStatus.SENT}
    )
    await publish(
        kafka_bootstrap,
        router_topics.deliveries_results,
        [(sent.key, sent), (failed.key, failed), (failed.key, failed), (stale.key, stale)],
    )
    await caught_up(
        pool,
        kafka_bootstrap,
        router_topics.deliveries_results,
        router_topics.prefix + "router.delivery-results",
    )

    status = await router.client.get(f"/v1/notices/{submitted.notice_id}", headers=auth(keys["oizumi"]))
    assert status.status_code == 200, status.text
    body = status.json()
    assert body["state"] == "planned"
    assert body["recipients"] == 9
    languages = {row["language"]: row for row in body["languages"]}
    assert languages["pt-BR"] | {} == {
        "language": "pt-BR",
        "batches": 1,
        "published_batches": 1,
        "planned": 6,
        "sent": 6,
        "failed": 0,
        "unreachable": 1,
        "pending": 0,
    }
    assert (languages["vi"]["sent"], languages["vi"]["failed"]) == (0, 3), (
        "an older report does not undo a newer one"
    )
    assert body["totals"]["planned"] == 9

    count = await router.client.post(
        "/v1/audience/count",
        headers=auth(keys["prefecture"]),
        json={"audience": {"employers": [population["oizumi_co"]]}},
    )
    assert count.json()["total"] == 8, "the unreachable user is left out from now on"

    # A notice of the whole prefecture is not visible to a city key.
    hidden = await router.client.get(f"/v1/notices/{uuid.uuid4()}", headers=auth(keys["oizumi"]))
    assert hidden.status_code == 404
    listed = await router.client.get("/v1/notices", headers=auth(keys["oizumi"]))
    assert str(submitted.notice_id) in {n["notice_id"] for n in listed.json()}


async def test_a_scheduled_notice_can_be_cancelled_before_its_release_not_after(
    router: RunningRouter, pool: db.Pool, kafka_bootstrap: str, router_topics: Topics, keys: dict[str, str]
) -> None:
    later = NoticeSubmitted(
        notice_id=uuid.uuid4(),
        content=NoticeContent(title="Later", body="Later.", source_language="ja", category="other"),
        send_at=NOW + timedelta(days=2),
        submitted_by="staff",
    )
    await publish(kafka_bootstrap, router_topics.notices, [(str(later.notice_id), later)])
    await caught_up(pool, kafka_bootstrap, router_topics.notices, router_topics.prefix + "router.notices")
    other_city = await router.client.post(
        f"/v1/notices/{later.notice_id}/cancel", headers=auth(keys["oizumi"])
    )
    assert other_city.status_code == 404
    cancelled = await router.client.post(
        f"/v1/notices/{later.notice_id}/cancel", headers=auth(keys["prefecture"])
    )
    assert cancelled.json() == {"notice_id": str(later.notice_id), "state": "cancelled"}
    again = await router.client.post(
        f"/v1/notices/{later.notice_id}/cancel", headers=auth(keys["prefecture"])
    )
    assert again.status_code == 200, "cancelling twice is the same as once"
    released = await router.client.get(
        "/v1/notices", headers=auth(keys["prefecture"]), params={"state": "planned"}
    )
    planned_id = released.json()[0]["notice_id"]
    too_late = await router.client.post(f"/v1/notices/{planned_id}/cancel", headers=auth(keys["prefecture"]))
    assert too_late.status_code == 409
    assert too_late.json()["state"] == "planned"
    async with pool.acquire() as conn:
        assert (
            await conn.fetchval("SELECT state FROM notices WHERE notice_id = $1", later.notice_id)
            == "cancelled"
        )


async def test_stats_count_registered_workers_and_companies_by_city_language_and_employer(
    router: RunningRouter, keys: dict[str, str], population: dict[str, Any]
) -> None:
    whole = await router.client.get(
        "/v1/stats", headers=auth(keys["prefecture"]), params={"employers": 10_000}
    )
    assert whole.status_code == 200, whole.text
    employers = {e["establishment_id"]: e for e in whole.json()["by_employer"]}
    assert employers[population["oizumi_co"]]["registered_workers"] == 9
    assert employers[population["oizumi_co"]]["name"] == "Oizumi Motors"
    assert employers[population["ota_co"]]["registered_workers"] == 4, "unfollowed workers are not registered"

    city = await router.client.get("/v1/stats", headers=auth(keys["oizumi"]))
    body = city.json()
    assert body["scope_cities"] == [OIZUMI]
    assert {c["code"] for c in body["by_city"]} <= {OIZUMI}
    oizumi = next(c for c in body["by_city"] if c["code"] == OIZUMI)
    assert oizumi["name_ja"] == "大泉町"
    assert oizumi["registered_workers"] >= 9
    assert oizumi["companies"] >= 1
    assert body["totals"]["registered_workers"] == oizumi["registered_workers"]
    assert population["ota_co"] not in {e["establishment_id"] for e in body["by_employer"]}


async def test_reminder_rules_are_data_managed_by_ops_with_fixed_texts(
    router: RunningRouter, keys: dict[str, str]
) -> None:
    listed = await router.client.get("/v1/reminder-rules", headers=auth(keys["prefecture"]))
    assert {r["rule_id"] for r in listed.json()} >= {"residence-expiry-90", "separation-notify-14-days"}
    rule_id = f"cycling-{uuid.uuid4().hex[:6]}"
    body = {
        "trigger": "hire_in_new_city",
        "window_days": 30,
        "category": "traffic",
        "title": "Cycling in {city}",
        "body": "Ride on the left. Helmets are expected. From April 2026 offences are fined.",
        "source_language": "en",
    }
    created = await router.client.put(f"/v1/reminder-rules/{rule_id}", headers=auth(keys["ops"]), json=body)
    assert created.status_code == 201, created.text
    assert created.json()["notice_id"] == str(
        uuid.uuid5(uuid.UUID("6f1d3c64-8a51-5e0b-9c1e-7a1b3e2c9d40"), f"reminder\x1f{rule_id}")
    )
    disabled = await router.client.put(
        f"/v1/reminder-rules/{rule_id}", headers=auth(keys["ops"]), json={**body, "enabled": False}
    )
    assert disabled.status_code == 200
    assert disabled.json()["enabled"] is False
    changed = await router.client.put(
        f"/v1/reminder-rules/{rule_id}",
        headers=auth(keys["ops"]),
        json={**body, "title": "Bicycles in {city}"},
    )
    assert changed.status_code == 409
    assert changed.json()["errors"] == [{"field": "body.title", "reason": "cannot change once created"}]
    bad = await router.client.put(
        "/v1/reminder-rules/bad-placeholder", headers=auth(keys["ops"]), json={**body, "body": "Hello {name}"}
    )
    assert bad.status_code == 422
    assert "{name}" in bad.json()["detail"]
