"""Quiet hours in the prefecture's time zone: boundaries, emergencies, windows that do not wrap."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from services.common.contracts import Priority
from services.router.domain.quiet_hours import HELD_QUIET_HOURS, QuietHours, release_time

TOKYO = ZoneInfo("Asia/Tokyo")
NIGHT = QuietHours(time(21, 0), time(8, 0), TOKYO)


def jst(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=TOKYO)


@pytest.mark.parametrize(
    ("moment", "quiet"),
    [
        (jst(2026, 5, 1, 20, 59, 59), False),
        (jst(2026, 5, 1, 21, 0, 0), True),
        (jst(2026, 5, 1, 23, 59, 59), True),
        (jst(2026, 5, 2, 0, 0, 0), True),
        (jst(2026, 5, 2, 7, 59, 59), True),
        (jst(2026, 5, 2, 8, 0, 0), False),
        (jst(2026, 5, 2, 12, 0, 0), False),
    ],
)
def test_the_window_includes_its_start_and_excludes_its_end(moment: datetime, quiet: bool) -> None:
    assert NIGHT.contains(moment) is quiet


def test_times_are_reckoned_in_tokyo_whatever_zone_they_come_in() -> None:
    # 12:00 UTC is 21:00 in Tokyo: quiet, although it is noon on the server.
    assert NIGHT.contains(datetime(2026, 5, 1, 12, 0, tzinfo=UTC))
    assert not NIGHT.contains(datetime(2026, 5, 1, 11, 59, tzinfo=UTC))
    # 23:30 UTC is 08:30 the next morning in Tokyo: not quiet.
    assert not NIGHT.contains(datetime(2026, 5, 1, 23, 30, tzinfo=UTC))


def test_a_normal_notice_due_in_the_evening_waits_for_the_next_morning() -> None:
    at, held = release_time(jst(2026, 5, 1, 22, 15), Priority.NORMAL, NIGHT)
    assert held == HELD_QUIET_HOURS
    assert at == jst(2026, 5, 2, 8, 0)
    assert at.tzinfo is UTC


def test_a_normal_notice_due_after_midnight_waits_until_eight_the_same_day() -> None:
    at, held = release_time(jst(2026, 5, 2, 3, 0), Priority.NORMAL, NIGHT)
    assert (at, held) == (jst(2026, 5, 2, 8, 0), HELD_QUIET_HOURS)


def test_the_night_of_new_years_eve_and_a_leap_day_roll_over_correctly() -> None:
    assert release_time(jst(2026, 12, 31, 23, 0), Priority.NORMAL, NIGHT)[0] == jst(2027, 1, 1, 8, 0)
    assert release_time(jst(2028, 2, 28, 21, 0), Priority.NORMAL, NIGHT)[0] == jst(2028, 2, 29, 8, 0)
    assert release_time(jst(2028, 2, 29, 21, 0), Priority.NORMAL, NIGHT)[0] == jst(2028, 3, 1, 8, 0)


def test_an_emergency_ignores_quiet_hours() -> None:
    due = jst(2026, 5, 1, 23, 0)
    assert release_time(due, Priority.EMERGENCY, NIGHT) == (due.astimezone(UTC), None)


def test_outside_quiet_hours_nothing_is_held() -> None:
    due = jst(2026, 5, 1, 10, 0)
    assert release_time(due, Priority.NORMAL, NIGHT) == (due.astimezone(UTC), None)


def test_a_window_that_does_not_wrap_midnight() -> None:
    lunch = QuietHours(time(12, 0), time(13, 0), TOKYO)
    assert lunch.contains(jst(2026, 5, 1, 12, 30))
    assert not lunch.contains(jst(2026, 5, 1, 13, 0))
    assert not lunch.contains(jst(2026, 5, 1, 23, 0))
    assert release_time(jst(2026, 5, 1, 12, 30), Priority.NORMAL, lunch)[0] == jst(2026, 5, 1, 13, 0)


def test_equal_start_and_end_means_no_quiet_hours() -> None:
    never = QuietHours(time(0, 0), time(0, 0), TOKYO)
    assert not never.enabled
    assert release_time(jst(2026, 5, 1, 3, 0), Priority.NORMAL, never)[1] is None


def test_a_zone_with_daylight_saving_time_ends_the_night_at_local_eight() -> None:
    # New York springs forward on 2026-03-08 at 02:00; the night's end is still 08:00 local time.
    new_york = ZoneInfo("America/New_York")
    night = QuietHours(time(21, 0), time(8, 0), new_york)
    at, _ = release_time(datetime(2026, 3, 7, 22, 0, tzinfo=new_york), Priority.NORMAL, night)
    assert at.astimezone(new_york) == datetime(2026, 3, 8, 8, 0, tzinfo=new_york)
    assert at == datetime(2026, 3, 8, 12, 0, tzinfo=UTC)  # EDT, UTC-4
