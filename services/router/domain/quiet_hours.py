"""Quiet hours: normal notices and reminders due at night wait for the morning; emergencies do not.

Times of day are reckoned in the prefecture's time zone (``zoneinfo``), whatever zone the due time
was given in. A window may wrap midnight (21:00-08:00) or not (12:00-13:00); equal ends mean none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from services.common.contracts import Priority

HELD_QUIET_HOURS = "quiet_hours"


@dataclass(frozen=True, slots=True)
class QuietHours:
    start: time
    end: time
    zone: ZoneInfo

    @property
    def enabled(self) -> bool:
        return self.start != self.end

    def contains(self, moment: datetime) -> bool:
        """Whether ``moment`` (timezone-aware) falls in the quiet window: start included, end excluded."""
        if not self.enabled:
            return False
        local = moment.astimezone(self.zone).time().replace(tzinfo=None)
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def next_end(self, moment: datetime) -> datetime:
        """The first end of the quiet window strictly after ``moment``, in UTC."""
        local = moment.astimezone(self.zone)
        day = local.date()
        for _ in range(3):  # today or tomorrow; a third day only around a time-zone transition
            candidate = datetime.combine(day, self.end, tzinfo=self.zone)
            if candidate > moment:
                return candidate.astimezone(UTC)
            day += timedelta(days=1)
        raise AssertionError("unreachable: quiet hours end within two days")


def release_time(due: datetime, priority: Priority, quiet: QuietHours) -> tuple[datetime, str | None]:
    """When a message due at ``due`` may go out, and why it is held (None when it is not)."""
    if priority is Priority.EMERGENCY or not quiet.contains(due):
        return due.astimezone(UTC), None
    return quiet.next_end(due), HELD_QUIET_HOURS
