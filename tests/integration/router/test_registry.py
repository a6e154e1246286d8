"""The registry in PostgreSQL: employment facts in any order, establishments, subscribers and links."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from services.common import db
from services.common.contracts import (
    EmploymentEvent,
    ResidenceStatusChanged,
    SubscriberFollowed,
    SubscriberUnfollowed,
    WorkerHired,
    WorkerSeparated,
)
from services.router import registry
from services.router.domain.employment import collapse
from tests.integration.router.conftest import line_user, worker_id

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _facts(worker: str, est_id: str, city: str, reported: datetime, **kw: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "event_id": uuid.uuid4(),
        "worker_id": worker,
        "source": "mhlw",
        "source_event_id": uuid.uuid4().hex,
        "reported_at": reported,
        "establishment": {
            "establishment_id": est_id,
            "municipality_code": city,
            "name": f"Co {est_id}",
        },
        "nationality": "VN",
        "residence_status": "technical_intern_2a",
        "period_expires_on": date(2027, 3, 31),
    }
    data.update(kw)
    return data


def hire(
    worker: str, on: date, est: str = "E1", city: str = "102041", reported: datetime = T0, **kw: Any
) -> WorkerHired:
    return WorkerHired.model_validate({**_facts(worker, est, city, reported, **kw), "hired_on": on})


def leave(
    worker: str, on: date, est: str = "E1", city: str = "102041", reported: datetime = T0, **kw: Any
) -> WorkerSeparated:
    return WorkerSeparated.model_validate({**_facts(worker, est, city, reported, **kw), "separated_on": on})


def change(
    worker: str, on: date, est: str = "E1", city: str = "102041", reported: datetime = T0, **kw: Any
) -> ResidenceStatusChanged:
    return ResidenceStatusChanged.model_validate(
        {**_facts(worker, est, city, reported, **kw), "changed_on": on}
    )


async def _rows(conn: db.Connection, workers: list[str]) -> dict[tuple[str, str], dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT * FROM employments WHERE worker_id = ANY($1::text[])",
        workers,
    )
    return {(r["worker_id"], r["establishment_id"]): dict(r) for r in rows}


def _expected(events: list[EmploymentEvent]) -> dict[tuple[str, str], dict[str, Any]]:
    out = {}
    for s in collapse(events):
        out[s.key] = {
            "active": s.active,
            "municipality_code": s.attrs.municipality_code,
            "residence_status": s.attrs.residence_status,
            "period_expires_on": s.attrs.period_expires_on,
            "attrs_event_id": s.attrs_key.event_id,
            "hired_on": s.hired.on if s.hired else None,
            "hired_event_id": s.hired.event_id if s.hired else None,
            "separated_on": s.separated.on if s.separated else None,
            "separated_event_id": s.separated.event_id if s.separated else None,
        }
    return out


async def test_sql_upsert_agrees_with_the_domain_model_for_every_arrival_order_and_batching(
    pool: db.Pool,
) -> None:
    rnd = random.Random(20260105)
    for trial in range(30):
        workers = [worker_id() for _ in range(3)]
        events: list[EmploymentEvent] = []
        for w in workers:
            for _ in range(rnd.randint(1, 6)):
                kind: Callable[..., Any] = rnd.choice([hire, leave, change])
                est = rnd.choice(["E1", "E2"])
                on = date(2026, 1, 1) + timedelta(days=rnd.randint(0, 60))
                reported = T0 + timedelta(hours=rnd.randint(0, 48))
                status = rnd.choice(["technical_intern_2a", "specified_skilled_worker_1"])
                events.append(kind(w, on, est, reported=reported, residence_status=status))
        arrival = list(events)
        rnd.shuffle(arrival)
        # Apply in random batch sizes, some facts twice (redelivery).
        arrival += rnd.sample(arrival, k=min(3, len(arrival)))
        async with pool.acquire() as conn:
            i = 0
            while i < len(arrival):
                size = rnd.randint(1, 4)
                async with conn.transaction():
                    await registry.apply_employment(conn, arrival[i : i + size])
                i += size
            stored = await _rows(conn, workers)
        expected = _expected(events)
        assert set(stored) == set(expected), f"trial {trial}"
        for key, want in expected.items():
            got = {k: stored[key][k] for k in want}
            assert got == want, f"trial {trial}, employment {key}"


async def test_an_old_separation_does_not_undo_a_newer_hire_and_a_redelivery_changes_nothing(
    pool: db.Pool,
) -> None:
    w = worker_id()
    newer_hire = hire(w, date(2026, 6, 1), reported=T0 + timedelta(days=150))
    old_leave = leave(w, date(2026, 3, 31), reported=T0 + timedelta(days=90))
    async with pool.acquire() as conn, conn.transaction():
        first = await registry.apply_employment(conn, [newer_hire])
        second = await registry.apply_employment(conn, [old_leave])
        again = await registry.apply_employment(conn, [newer_hire, old_leave])
    assert (first.changed, second.changed, again.changed) == (1, 1, 0)
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT active, hired_on, separated_on FROM employments WHERE worker_id = $1", w
        )
    assert row is not None
    assert dict(row) == {"active": True, "hired_on": date(2026, 6, 1), "separated_on": date(2026, 3, 31)}


async def test_establishments_keep_the_newest_report_and_unknown_municipalities_are_stored(
    pool: db.Pool,
) -> None:
    est = f"X{uuid.uuid4().hex[:10].upper()}"
    w = worker_id()
    old = hire(w, date(2026, 1, 1), est=est, city="131016", reported=T0)  # Chiyoda, Tokyo: not seeded
    new = change(
        w,
        date(2026, 2, 1),
        est=est,
        city="131016",
        reported=T0 + timedelta(days=30),
        establishment={"establishment_id": est, "municipality_code": "131016", "name": "Renamed Ltd"},
    )
    async with pool.acquire() as conn, conn.transaction():
        await registry.apply_employment(conn, [new])
        await registry.apply_employment(conn, [old])
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT name, municipality_code FROM establishments WHERE establishment_id = $1", est
        )
    assert row is not None
    assert dict(row) == {"name": "Renamed Ltd", "municipality_code": "131016"}


async def _record(conn: db.Connection, user: str) -> dict[str, object]:
    row = await conn.fetchrow(
        "SELECT record_establishment_id, record_municipality_code, record_nationality,"
        " record_residence_status FROM subscribers WHERE line_user_id = $1",
        user,
    )
    assert row is not None
    return dict(row)


async def test_a_linked_record_feeds_reminders_but_audiences_keep_what_the_worker_declared(
    pool: db.Pool,
) -> None:
    # Consent scope (issue 7): the consent text says the linked employment record is used only for
    # personal reminders. Before it, the audience columns took the record's employer, city, nationality
    # and status once linked; now they are what the worker declared, whatever the feed says, while the
    # record_* columns (read by reminders) follow the feed as before.
    user, w = line_user(), worker_id()
    async with pool.acquire() as conn, conn.transaction():
        await registry.ensure_subscriber(conn, user)
        await registry.set_language(conn, user, "vi")
        await registry.set_nationality(conn, user, "ph")
        await registry.set_employer(
            conn, user, establishment_id="DECL1", municipality_code="10202", on=date(2026, 1, 10)
        )
        await registry.link_worker(conn, user, worker_id=w, consent_version="2026-01", at=T0)
        before = await registry.get_subscriber(conn, user)
        result = await registry.apply_employment(
            conn, [hire(w, date(2025, 12, 1), est="REC1", city="105244")]
        )
        assert result.linked_workers == [w]
        mid = await registry.get_subscriber(conn, user)
        mid_record = await _record(conn, user)
        await registry.apply_employment(conn, [hire(w, date(2026, 2, 1), est="REC2", city="102016")])
        after = await registry.get_subscriber(conn, user)
        after_record = await _record(conn, user)
    assert before is not None and mid is not None and after is not None
    declared = ("DECL1", "102024", "PH", None)
    for seen in (before, mid, after):
        assert (seen.establishment_id, seen.municipality_code, seen.nationality, seen.residence_status) == (
            declared
        ), "audience columns never take the linked record's values"
    assert mid_record == {
        "record_establishment_id": "REC1",
        "record_municipality_code": "105244",
        "record_nationality": "VN",
        "record_residence_status": "technical_intern_2a",
    }
    assert (after_record["record_establishment_id"], after_record["record_municipality_code"]) == (
        "REC2",
        "102016",
    )
    assert after.record_period_expires_on == date(2027, 3, 31)


async def test_linking_moves_a_worker_from_another_account_and_unlinking_forgets_the_record(
    pool: db.Pool,
) -> None:
    old_phone, new_phone, w = line_user(), line_user(), worker_id()
    async with pool.acquire() as conn, conn.transaction():
        await registry.apply_employment(conn, [hire(w, date(2026, 1, 1), city="102016")])
        for u in (old_phone, new_phone):
            await registry.ensure_subscriber(conn, u)
        await registry.link_worker(conn, old_phone, worker_id=w, consent_version="v1", at=T0)
        moved_from = await registry.link_worker(conn, new_phone, worker_id=w, consent_version="v1", at=T0)
        old = await registry.get_subscriber(conn, old_phone)
        new = await registry.get_subscriber(conn, new_phone)
        await registry.unlink_worker(conn, new_phone)
        unlinked = await registry.get_subscriber(conn, new_phone)
    assert moved_from == old_phone
    assert old is not None and not old.linked and old.record_period_expires_on is None
    # The record's city is kept for reminders only (consent scope): not an audience column.
    assert new is not None and new.linked and new.municipality_code is None
    assert new.record_period_expires_on == date(2027, 3, 31)
    assert unlinked is not None and unlinked.worker_id is None and unlinked.record_period_expires_on is None


async def test_follow_state_follows_line_time_not_arrival_order(pool: db.Pool) -> None:
    user = line_user()

    def follow(at: datetime) -> SubscriberFollowed:
        return SubscriberFollowed(line_user_id=user, webhook_event_id=uuid.uuid4().hex, line_timestamp=at)

    def unfollow(at: datetime) -> SubscriberUnfollowed:
        return SubscriberUnfollowed(line_user_id=user, webhook_event_id=uuid.uuid4().hex, line_timestamp=at)

    async with pool.acquire() as conn, conn.transaction():
        await registry.apply_follow_state(conn, [unfollow(T0 + timedelta(hours=2))])
        await registry.apply_follow_state(conn, [follow(T0)])  # older: ignored
        assert (await registry.get_subscriber(conn, user)).followed is False  # type: ignore[union-attr]
        await conn.execute(
            "UPDATE subscribers SET unreachable_at = $2 WHERE line_user_id = $1",
            user,
            T0 + timedelta(hours=3),
        )
        await registry.apply_follow_state(
            conn, [follow(T0 + timedelta(hours=4)), unfollow(T0 + timedelta(hours=1))]
        )
        back = await registry.get_subscriber(conn, user)
    assert back is not None and back.followed and not back.unreachable, "a later re-follow clears unreachable"


async def test_bad_values_are_refused_naming_the_field(pool: db.Pool) -> None:
    user = line_user()
    async with pool.acquire() as conn, conn.transaction():
        await registry.ensure_subscriber(conn, user)
        with pytest.raises(registry.SubscriberError, match=r"^language:"):
            await registry.set_language(conn, user, "xx")
        with pytest.raises(registry.SubscriberError, match=r"^nationality:"):
            await registry.set_nationality(conn, user, "ZZ")
        with pytest.raises(registry.SubscriberError, match=r"^municipality_code:"):
            await registry.set_employer(
                conn, user, establishment_id="E", municipality_code="102092", on=date(2026, 1, 1)
            )
        with pytest.raises(registry.SubscriberError, match=r"^line_user_id:"):
            await registry.set_language(conn, line_user(), "en")


async def test_erasure_leaves_only_an_anonymous_count(pool: db.Pool) -> None:
    user, w = line_user(), worker_id()
    day = date(2031, 1, 1)  # a day no other test erases on
    async with pool.acquire() as conn, conn.transaction():
        await registry.ensure_subscriber(conn, user)
        await registry.link_worker(conn, user, worker_id=w, consent_version="v1", at=T0)
        assert await registry.erase_subscriber(conn, user, on=day)
        assert not await registry.erase_subscriber(conn, user, on=day)
        assert await registry.get_subscriber(conn, user) is None
        assert await conn.fetchval("SELECT erasures FROM subscriber_erasures WHERE erased_on = $1", day) == 1
