"""Employment facts combine by event time, whatever order they arrive in."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from services.common.contracts import (
    EmploymentEvent,
    ResidenceStatusChanged,
    WorkerHired,
    WorkerSeparated,
)
from services.router.domain.employment import collapse

WORKER = "ab" * 32
OTHER_WORKER = "cd" * 32
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _common(establishment: str, reported_at: datetime, **overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "event_id": uuid.uuid4(),
        "worker_id": WORKER,
        "source": "mhlw",
        "source_event_id": uuid.uuid4().hex,
        "reported_at": reported_at,
        "establishment": {"establishment_id": establishment, "municipality_code": "10204"},
        "nationality": "VN",
        "residence_status": "technical_intern_2a",
        "period_expires_on": date(2027, 3, 31),
    }
    data.update(overrides)
    return data


def hire(on: date, establishment: str = "1001", reported: datetime = T0, **kw: object) -> WorkerHired:
    return WorkerHired.model_validate({**_common(establishment, reported, **kw), "hired_on": on})


def separation(
    on: date, establishment: str = "1001", reported: datetime = T0, **kw: object
) -> WorkerSeparated:
    return WorkerSeparated.model_validate({**_common(establishment, reported, **kw), "separated_on": on})


def change(
    on: date, establishment: str = "1001", reported: datetime = T0, **kw: object
) -> ResidenceStatusChanged:
    return ResidenceStatusChanged.model_validate({**_common(establishment, reported, **kw), "changed_on": on})


def final(events: list[EmploymentEvent]) -> dict[tuple[str, str], tuple[bool, object]]:
    return {s.key: (s.active, s) for s in collapse(events)}


def test_an_old_separation_arriving_late_does_not_undo_a_newer_hire() -> None:
    events: list[EmploymentEvent] = [
        hire(date(2026, 1, 1)),
        hire(date(2026, 6, 1), reported=T0 + timedelta(days=150)),
        separation(date(2026, 3, 31), reported=T0 + timedelta(days=90)),
    ]
    for order in itertools.permutations(events):
        [state] = collapse(order)
        assert state.active, f"order {[type(e).__name__ for e in order]}"
        assert state.hired is not None and state.hired.on == date(2026, 6, 1)
        assert state.separated is not None and state.separated.on == date(2026, 3, 31)


def test_a_separation_after_the_hire_ends_the_employment_in_any_order() -> None:
    events: list[EmploymentEvent] = [hire(date(2026, 1, 1)), separation(date(2026, 4, 30))]
    for order in itertools.permutations(events):
        [state] = collapse(order)
        assert not state.active


def test_on_the_same_day_the_separation_wins_unless_the_hire_was_reported_after_it() -> None:
    day = date(2026, 4, 1)
    [one_day_job] = collapse([hire(day, reported=T0), separation(day, reported=T0)])
    assert not one_day_job.active
    [rehired] = collapse([separation(day, reported=T0), hire(day, reported=T0 + timedelta(hours=1))])
    assert rehired.active


def test_a_record_known_only_from_a_status_change_is_active() -> None:
    [state] = collapse([change(date(2026, 2, 1), residence_status="specified_skilled_worker_1")])
    assert state.active
    assert state.hired is None
    assert state.attrs.residence_status == "specified_skilled_worker_1"


def test_attributes_come_from_the_newest_fact_of_any_kind() -> None:
    events: list[EmploymentEvent] = [
        hire(date(2026, 1, 1), period_expires_on=date(2026, 12, 31)),
        change(
            date(2026, 11, 20),
            period_expires_on=date(2029, 12, 31),
            residence_status="specified_skilled_worker_1",
        ),
        separation(date(2026, 6, 30), period_expires_on=date(2026, 12, 31)),
    ]
    for order in itertools.permutations(events):
        [state] = collapse(order)
        assert state.attrs.period_expires_on == date(2029, 12, 31)
        assert state.attrs.residence_status == "specified_skilled_worker_1"
        assert not state.active  # the status change does not undo the separation


def test_each_workplace_has_its_own_employment() -> None:
    events: list[EmploymentEvent] = [
        hire(date(2026, 1, 1), establishment="A1"),
        hire(date(2026, 3, 1), establishment="B2"),
        separation(date(2026, 6, 1), establishment="A1"),
        hire(date(2026, 2, 1), worker_id=OTHER_WORKER),
    ]
    for order in itertools.permutations(events):
        states = {s.key: s for s in collapse(order)}
        assert not states[(WORKER, "A1")].active
        assert states[(WORKER, "B2")].active, "leaving one part-time job does not end another"
        assert states[(OTHER_WORKER, "1001")].active


def test_redelivered_facts_change_nothing() -> None:
    events: list[EmploymentEvent] = [hire(date(2026, 1, 1)), separation(date(2026, 5, 1))]
    assert collapse(events) == collapse([*events, *events, events[0]])


_dates = st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31))
_reported = st.integers(min_value=0, max_value=400).map(lambda d: T0 + timedelta(days=d))
_fact = st.tuples(
    st.sampled_from(["hire", "separation", "change"]), _dates, _reported, st.sampled_from(["A1", "B2"])
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_fact, min_size=1, max_size=7), st.randoms(use_true_random=False))
def test_any_arrival_order_gives_the_same_state(facts: list[tuple[str, date, datetime, str]], rnd) -> None:  # type: ignore[no-untyped-def]
    make: dict[str, Callable[..., EmploymentEvent]] = {
        "hire": hire,
        "separation": separation,
        "change": change,
    }
    events: list[EmploymentEvent] = [
        make[kind](on, establishment, reported) for kind, on, reported, establishment in facts
    ]
    shuffled = list(events)
    rnd.shuffle(shuffled)
    assert sorted(collapse(events), key=lambda s: s.key) == sorted(collapse(shuffled), key=lambda s: s.key)


def test_the_fast_row_of_a_single_fact_equals_the_row_of_its_state() -> None:
    from services.router.domain.employment import from_event
    from services.router.registry import employment_rows, row_of_event, row_of_state

    events: list[EmploymentEvent] = [
        hire(date(2026, 1, 1)),
        separation(date(2026, 2, 1), establishment="B2"),
        change(date(2026, 3, 1), establishment="C3", period_expires_on=None),
    ]
    for event in events:
        assert row_of_event(event) == row_of_state(from_event(event))
    # Two facts about one employment in a batch become one combined row.
    twice = [*events, separation(date(2026, 6, 1))]
    rows = {(r[0], r[1]): r for r in employment_rows(twice)}
    assert len(rows) == 3
    [combined] = collapse([events[0], twice[-1]])
    assert rows[(WORKER, "1001")] == row_of_state(combined)
