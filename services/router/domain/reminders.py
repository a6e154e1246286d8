"""Personal reminders: when a rule is due for a worker, for which trigger date, with which values.

Rules are data (table ``reminder_rules``). Dates are calendar dates in the prefecture's time zone:
"today" is :func:`today_in` the zone, never the server's UTC date. Date arithmetic is on days, so leap
days count like any other day (90 days before 2028-03-01 is 2027-12-02).

- ``expiry_before`` (days=D): trigger date = expiry - D; due from the trigger date for ``window_days``
  days, and never after the expiry date itself (the last day an application can be filed).
- ``separation`` (days=D): for each workplace the worker left (and was not re-hired at), trigger date
  = the day they left; {date} = that day + D (the notification deadline).
- ``hire_in_new_city`` (days=D): for each current job whose city differs from the city of the job
  before it (by hire date), or that is the first job we know of; {date} = hire date + D.

A rule restricted to statuses of residence applies only to workers whose current status is one of
them. Each due reminder is raised once per (rule, worker, trigger date): the store's unique key.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from services.common.contracts import NoticeCategory, NoticeContent, derived_id

#: Shown for an employer whose name the feed did not give.
UNKNOWN_EMPLOYER = "—"


class Trigger(StrEnum):
    EXPIRY_BEFORE = "expiry_before"
    SEPARATION = "separation"
    HIRE_IN_NEW_CITY = "hire_in_new_city"


@dataclass(frozen=True, slots=True)
class Rule:
    rule_id: str
    trigger: Trigger
    days: int
    window_days: int
    category: NoticeCategory
    title: str
    body: str
    source_language: str
    residence_statuses: frozenset[str] = frozenset()
    enabled: bool = True

    @property
    def notice_id(self) -> uuid.UUID:
        """Stable per rule: translate renders each rule once per language and fills values per worker."""
        return reminder_notice_id(self.rule_id)

    def content(self) -> NoticeContent:
        return NoticeContent(
            title=self.title,
            body=self.body,
            source_language=self.source_language,
            category=self.category,
        )

    def applies_to(self, residence_status: str | None) -> bool:
        return not self.residence_statuses or residence_status in self.residence_statuses


def reminder_notice_id(rule_id: str) -> uuid.UUID:
    return derived_id("reminder", rule_id)


def reminder_batch_id(rule_id: str, worker_id: str, trigger_on: date, language: str) -> str:
    """Unique per (rule, worker, trigger date); the worker id itself does not leave the registry."""
    token = derived_id("reminder-delivery", rule_id, worker_id, trigger_on.isoformat())
    return f"{reminder_notice_id(rule_id)}:{language}:{token}"


@dataclass(frozen=True, slots=True)
class Job:
    """One employment of the worker, as the reminder rules need it."""

    establishment_id: str
    municipality_code: str
    active: bool
    hired_on: date | None = None
    separated_on: date | None = None


@dataclass(frozen=True, slots=True)
class Worker:
    worker_id: str
    residence_status: str | None
    period_expires_on: date | None
    jobs: tuple[Job, ...] = field(default_factory=tuple)

    def current_job(self) -> Job | None:
        """The active job hired last; failing that, the job left last."""
        active = [j for j in self.jobs if j.active]
        if active:
            return max(active, key=lambda j: (j.hired_on or date.min, j.establishment_id))
        left = [j for j in self.jobs if j.separated_on is not None]
        if left:
            return max(left, key=lambda j: (j.separated_on or date.min, j.establishment_id))
        return None


@dataclass(frozen=True, slots=True)
class Due:
    """A reminder to raise: its trigger date, the {date} value and the job it concerns."""

    rule_id: str
    trigger_on: date
    date_value: date
    job: Job | None


def today_in(zone: ZoneInfo, now: datetime) -> date:
    """The calendar date in the prefecture at ``now`` (timezone-aware)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(zone).date()


def _in_window(trigger_on: date, window_days: int, today: date) -> bool:
    return trigger_on <= today <= trigger_on + timedelta(days=window_days)


def _expiry(rule: Rule, worker: Worker, today: date) -> list[Due]:
    expires = worker.period_expires_on
    if expires is None:
        return []
    trigger_on = expires - timedelta(days=rule.days)
    if not _in_window(trigger_on, rule.window_days, today) or today > expires:
        return []
    return [Due(rule.rule_id, trigger_on, expires, worker.current_job())]


def _separations(rule: Rule, worker: Worker, today: date) -> list[Due]:
    out = []
    for job in worker.jobs:
        if job.active or job.separated_on is None:
            continue
        if _in_window(job.separated_on, rule.window_days, today):
            out.append(Due(rule.rule_id, job.separated_on, job.separated_on + timedelta(days=rule.days), job))
    return out


def _new_city_hires(rule: Rule, worker: Worker, today: date) -> list[Due]:
    hired = sorted(
        (j for j in worker.jobs if j.hired_on is not None),
        key=lambda j: (j.hired_on or date.min, j.establishment_id),
    )
    out = []
    for index, job in enumerate(hired):
        assert job.hired_on is not None
        if not job.active or not _in_window(job.hired_on, rule.window_days, today):
            continue
        earlier = [j for j in hired[:index] if j.hired_on is not None and j.hired_on < job.hired_on]
        previous = earlier[-1] if earlier else None
        if previous is None or previous.municipality_code != job.municipality_code:
            out.append(Due(rule.rule_id, job.hired_on, job.hired_on + timedelta(days=rule.days), job))
    return out


def due(rule: Rule, worker: Worker, today: date) -> list[Due]:
    """The reminders of ``rule`` due for ``worker`` on ``today`` (usually none, at most a few)."""
    if not rule.enabled or not rule.applies_to(worker.residence_status):
        return []
    if rule.trigger is Trigger.EXPIRY_BEFORE:
        return _expiry(rule, worker, today)
    if rule.trigger is Trigger.SEPARATION:
        return _separations(rule, worker, today)
    return _new_city_hires(rule, worker, today)


def due_all(rules: Sequence[Rule], worker: Worker, today: date) -> list[Due]:
    return [d for rule in rules for d in due(rule, worker, today)]


def lookback_days(rules: Iterable[Rule]) -> tuple[int, int]:
    """How far back event dates and how far ahead expiry dates may lie for any rule to be due."""
    back, ahead = 0, 0
    for rule in rules:
        if not rule.enabled:
            continue
        if rule.trigger is Trigger.EXPIRY_BEFORE:
            ahead = max(ahead, rule.days)
        else:
            back = max(back, rule.window_days)
    return back, ahead


def placeholder_values(
    due_item: Due, *, city_names: dict[str, str], employer_names: dict[str, str | None]
) -> dict[str, str]:
    """{date, city, employer} for the message (ISO date, English city name, employer name)."""
    job = due_item.job
    city = ""
    employer = UNKNOWN_EMPLOYER
    if job is not None:
        city = city_names.get(job.municipality_code, job.municipality_code)
        employer = employer_names.get(job.establishment_id) or UNKNOWN_EMPLOYER
    return {"date": due_item.date_value.isoformat(), "city": city, "employer": employer}
