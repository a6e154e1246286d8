"""Employment facts from the feed, and how they combine into the state of one employment.

An employment is one worker at one workplace (establishment). Its state has three slots, each holding
the newest fact by its :class:`FactKey` (effective date, then the feed's ``reported_at``, then the
event id as a last, arbitrary but fixed tie-break):

- ``attrs``: nationality, status of residence, period of stay, city, source (every kind of fact);
- ``hired``: the newest hire at this workplace;
- ``separated``: the newest separation from it.

Taking the newest per slot is commutative and idempotent, so any arrival order, and any redelivery,
ends in the same state: an old separation that arrives late cannot undo a newer hire. Whether the
employment is active follows from the last two slots (see :attr:`Employment.active`). The worker's
current employer is their active employment with the latest hire; several may be active at once
(part-time jobs).

The SQL upsert in ``services/router/registry.py`` implements :func:`combine`; an integration test
checks that both agree for every arrival order.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime

from services.common.contracts import (
    EmploymentEvent,
    ResidenceStatusChanged,
    WorkerHired,
    WorkerSeparated,
)


@dataclass(frozen=True, slots=True, order=True)
class FactKey:
    on: date
    reported_at: datetime
    event_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class Attributes:
    municipality_code: str
    nationality: str
    residence_status: str
    period_expires_on: date | None
    source: str


@dataclass(frozen=True, slots=True)
class Employment:
    worker_id: str
    establishment_id: str
    attrs: Attributes
    attrs_key: FactKey
    hired: FactKey | None = None
    separated: FactKey | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.worker_id, self.establishment_id

    @property
    def active(self) -> bool:
        """No separation, or a hire after the last one.

        On the same date the separation wins (a one-day job), unless the hire was reported after it
        (a re-hire on the day of leaving). A record known only from a status change is active.
        """
        if self.separated is None:
            return True
        if self.hired is None:
            return False
        if self.hired.on != self.separated.on:
            return self.hired.on > self.separated.on
        return self.hired.reported_at > self.separated.reported_at


def _newest(a: FactKey | None, b: FactKey | None) -> FactKey | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def combine(old: Employment, new: Employment) -> Employment:
    """The state holding the newest fact of each slot of both (commutative, idempotent)."""
    if old.key != new.key:
        raise ValueError("facts of different employments cannot be combined")
    attrs, attrs_key = (
        (new.attrs, new.attrs_key) if new.attrs_key > old.attrs_key else (old.attrs, old.attrs_key)
    )
    return replace(
        old,
        attrs=attrs,
        attrs_key=attrs_key,
        hired=_newest(old.hired, new.hired),
        separated=_newest(old.separated, new.separated),
    )


def effective_date(event: EmploymentEvent) -> date:
    if isinstance(event, WorkerHired):
        return event.hired_on
    if isinstance(event, WorkerSeparated):
        return event.separated_on
    if isinstance(event, ResidenceStatusChanged):
        return event.changed_on
    raise TypeError(f"not an employment event: {type(event).__name__}")


def from_event(event: EmploymentEvent) -> Employment:
    """The one-fact state an event stands for."""
    key = FactKey(effective_date(event), event.reported_at, event.event_id)
    establishment = event.establishment
    return Employment(
        worker_id=event.worker_id,
        establishment_id=establishment.establishment_id,
        attrs=Attributes(
            municipality_code=establishment.municipality_code,
            nationality=event.nationality,
            residence_status=event.residence_status.value,
            period_expires_on=event.period_expires_on,
            source=event.source,
        ),
        attrs_key=key,
        hired=key if isinstance(event, WorkerHired) else None,
        separated=key if isinstance(event, WorkerSeparated) else None,
    )


def collapse(events: Iterable[EmploymentEvent]) -> list[Employment]:
    """One combined state per employment, in first-seen order (an upsert may touch a row only once)."""
    states: dict[tuple[str, str], Employment] = {}
    for event in events:
        state = from_event(event)
        previous = states.get(state.key)
        states[state.key] = state if previous is None else combine(previous, state)
    return list(states.values())
