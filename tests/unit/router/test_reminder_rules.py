"""Reminder rules: trigger dates, windows, Tokyo dates, leap days, statuses and placeholder values."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.common.contracts import NoticeCategory, derived_id
from services.router.domain.reminders import (
    UNKNOWN_EMPLOYER,
    Due,
    Job,
    Rule,
    Trigger,
    Worker,
    due,
    lookback_days,
    placeholder_values,
    reminder_batch_id,
    today_in,
)

TOKYO = ZoneInfo("Asia/Tokyo")


def rule(trigger: Trigger, days: int, window: int, **kw: object) -> Rule:
    values: dict[str, object] = {
        "rule_id": f"{trigger.value.replace('_', '-')}-{days}",
        "trigger": trigger,
        "days": days,
        "window_days": window,
        "category": NoticeCategory.IMMIGRATION,
        "title": "t {date}",
        "body": "b {city} {employer}",
        "source_language": "en",
    }
    values.update(kw)
    return Rule(**values)  # type: ignore[arg-type]


EXPIRY_90 = rule(Trigger.EXPIRY_BEFORE, 90, 30)
EXPIRY_14 = rule(Trigger.EXPIRY_BEFORE, 14, 14)
SEPARATION = rule(Trigger.SEPARATION, 14, 60, residence_statuses=frozenset({"technical_intern_2a"}))
NEW_CITY = rule(Trigger.HIRE_IN_NEW_CITY, 0, 60)

JOB = Job("E1", "102041", True, hired_on=date(2025, 4, 1))


def worker(expires: date | None = None, *jobs: Job, status: str = "technical_intern_2a") -> Worker:
    return Worker("ab" * 32, status, expires, tuple(jobs) or (JOB,))


# --- expiry -----------------------------------------------------------------------------------------


def test_ninety_days_before_is_the_trigger_date_and_the_day_before_is_too_early() -> None:
    w = worker(date(2026, 9, 30))
    trigger = date(2026, 9, 30) - timedelta(days=90)
    assert trigger == date(2026, 7, 2)
    assert due(EXPIRY_90, w, date(2026, 7, 1)) == []
    assert due(EXPIRY_90, w, trigger) == [Due(EXPIRY_90.rule_id, trigger, date(2026, 9, 30), JOB)]


def test_a_missed_reminder_is_still_raised_within_its_window_and_not_after() -> None:
    w = worker(date(2026, 9, 30))
    trigger = date(2026, 7, 2)
    assert due(EXPIRY_90, w, trigger + timedelta(days=30))[0].trigger_on == trigger
    assert due(EXPIRY_90, w, trigger + timedelta(days=31)) == []


def test_the_last_reminder_can_come_on_the_expiry_day_itself_but_never_after() -> None:
    w = worker(date(2026, 9, 30))
    assert due(EXPIRY_14, w, date(2026, 9, 30))
    assert due(EXPIRY_14, w, date(2026, 10, 1)) == []


def test_leap_days_count_like_any_other_day() -> None:
    # 90 days before 2028-03-01 crosses 29 February 2028.
    w = worker(date(2028, 3, 1))
    [item] = due(EXPIRY_90, w, date(2027, 12, 2))
    assert item.trigger_on == date(2027, 12, 2)
    # A period of stay ending on a leap day: 14 days before is 15 February.
    leap = worker(date(2028, 2, 29))
    [item] = due(EXPIRY_14, leap, date(2028, 2, 15))
    assert item.trigger_on == date(2028, 2, 15)
    assert item.date_value == date(2028, 2, 29)
    assert due(EXPIRY_14, leap, date(2028, 2, 14)) == []


def test_no_period_of_stay_means_no_expiry_reminder() -> None:
    assert due(EXPIRY_90, worker(None, status="permanent_resident"), date(2026, 7, 2)) == []


def test_today_is_the_date_in_tokyo_not_on_the_server() -> None:
    # 2026-07-01 15:00 UTC is already 2 July, 00:00 in Tokyo: the 90-day reminder is due.
    now = datetime(2026, 7, 1, 15, 0, tzinfo=UTC)
    assert today_in(TOKYO, now) == date(2026, 7, 2)
    assert today_in(TOKYO, now - timedelta(seconds=1)) == date(2026, 7, 1)
    assert due(EXPIRY_90, worker(date(2026, 9, 30)), today_in(TOKYO, now))
    with pytest.raises(ValueError, match="aware"):
        today_in(TOKYO, datetime(2026, 7, 1, 15, 0))


# --- separation ---------------------------------------------------------------------------------------


def test_a_separation_is_due_from_the_day_left_with_the_deadline_fourteen_days_later() -> None:
    left = Job("E1", "102041", False, hired_on=date(2025, 4, 1), separated_on=date(2026, 2, 20))
    w = worker(date(2027, 1, 1), left)
    assert due(SEPARATION, w, date(2026, 2, 19)) == []
    [item] = due(SEPARATION, w, date(2026, 2, 20))
    assert item.trigger_on == date(2026, 2, 20)
    # 14 days from 20 Feb 2026 (not a leap year) is 6 March.
    assert item.date_value == date(2026, 3, 6)
    assert due(SEPARATION, w, date(2026, 2, 20) + timedelta(days=60))
    assert due(SEPARATION, w, date(2026, 2, 20) + timedelta(days=61)) == []


def test_the_deadline_crosses_a_leap_day() -> None:
    left = Job("E1", "102041", False, hired_on=date(2025, 4, 1), separated_on=date(2028, 2, 20))
    [item] = due(SEPARATION, worker(None, left), date(2028, 2, 21))
    assert item.date_value == date(2028, 3, 5)


def test_statuses_without_the_duty_get_no_separation_reminder() -> None:
    left = Job("E1", "102041", False, hired_on=date(2025, 4, 1), separated_on=date(2026, 2, 20))
    assert due(SEPARATION, worker(None, left, status="permanent_resident"), date(2026, 2, 21)) == []


def test_a_worker_rehired_at_the_same_place_has_no_separation_to_report() -> None:
    rehired = Job("E1", "102041", True, hired_on=date(2026, 3, 1), separated_on=date(2026, 2, 20))
    assert due(SEPARATION, worker(None, rehired), date(2026, 3, 2)) == []


# --- hire in a new city ---------------------------------------------------------------------------------


def test_a_hire_in_another_city_than_the_previous_job_is_welcomed() -> None:
    old = Job("E1", "102016", False, hired_on=date(2024, 4, 1), separated_on=date(2026, 1, 31))
    new = Job("E2", "105244", True, hired_on=date(2026, 2, 1))
    [item] = due(NEW_CITY, worker(None, old, new), date(2026, 2, 10))
    assert item.job == new
    assert item.trigger_on == date(2026, 2, 1)


def test_a_new_job_in_the_same_city_is_not_a_new_city() -> None:
    old = Job("E1", "105244", False, hired_on=date(2024, 4, 1), separated_on=date(2026, 1, 31))
    new = Job("E2", "105244", True, hired_on=date(2026, 2, 1))
    assert due(NEW_CITY, worker(None, old, new), date(2026, 2, 10)) == []


def test_the_first_job_we_know_of_is_a_new_city_but_an_old_hire_is_not_welcomed() -> None:
    first = Job("E2", "105244", True, hired_on=date(2026, 2, 1))
    assert due(NEW_CITY, worker(None, first), date(2026, 4, 2))
    assert due(NEW_CITY, worker(None, first), date(2026, 4, 3)) == [], "61 days later: too old"
    assert due(NEW_CITY, worker(None, first), date(2026, 1, 31)) == [], "not hired yet"


def test_a_disabled_rule_raises_nothing_and_is_left_out_of_the_lookback() -> None:
    off = rule(Trigger.EXPIRY_BEFORE, 180, 30, enabled=False)
    assert due(off, worker(date(2026, 9, 30)), date(2026, 4, 3)) == []
    assert lookback_days([EXPIRY_90, EXPIRY_14, SEPARATION, NEW_CITY, off]) == (60, 90)


# --- values and ids -----------------------------------------------------------------------------------


def test_placeholder_values_are_an_iso_date_a_city_name_and_an_employer_name() -> None:
    item = Due("r", date(2026, 7, 2), date(2026, 9, 30), JOB)
    values = placeholder_values(item, city_names={"102041": "Isesaki"}, employer_names={"E1": "Kogyo Co."})
    assert values == {"date": "2026-09-30", "city": "Isesaki", "employer": "Kogyo Co."}
    unknown = placeholder_values(item, city_names={}, employer_names={"E1": None})
    assert unknown == {"date": "2026-09-30", "city": "102041", "employer": UNKNOWN_EMPLOYER}


def test_one_notice_id_per_rule_and_one_batch_id_per_worker_rule_and_trigger_date() -> None:
    assert EXPIRY_90.notice_id == derived_id("reminder", EXPIRY_90.rule_id)
    a = reminder_batch_id("r", "ab" * 32, date(2026, 7, 2), "vi")
    assert a == reminder_batch_id("r", "ab" * 32, date(2026, 7, 2), "vi")
    assert a != reminder_batch_id("r", "ab" * 32, date(2026, 7, 3), "vi")
    assert a != reminder_batch_id("r", "cd" * 32, date(2026, 7, 2), "vi")
    assert a.startswith(f"{derived_id('reminder', 'r')}:vi:")
    assert "ab" * 32 not in a, "the worker id stays inside the registry"
