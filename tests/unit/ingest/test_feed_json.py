"""The JSON feed's events: validated one by one, the card number replaced while validating."""

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from services.common import pseudonym
from services.common.contracts import EmploymentEvent, ResidenceStatusChanged, WorkerHired
from services.ingest.domain import employment
from services.ingest.domain.csv_rows import RowConverter, resolve_header
from services.ingest.feed_api import validate_event

PEPPER = b"unit-test-pepper-0123456789abcdef"
EVENTS = TypeAdapter(EmploymentEvent)


def hired(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "hired",
        "event_id": "MHLW-2024-000001",
        "reported_at": "2024-04-02T09:00:00+09:00",
        "residence_card_number": "AB12345678CD",
        "nationality": "VN",
        "residence_status": "specified_skilled_worker_1",
        "period_expires_on": "2025-04-01",
        "birth_year": 1999,
        "sex": "female",
        "outside_activity_permitted": False,
        "hired_on": "2024-04-01",
        "establishment": {
            "establishment_id": "1234-567890-1",
            "name": "株式会社グンマ",
            "address": "群馬県前橋市",
            "municipality_code": "10201",
        },
    }
    event.update(changes)
    return event


def test_a_valid_event_becomes_the_contract_and_holds_no_card_number() -> None:
    checked = validate_event(hired(), 0, PEPPER)
    assert not isinstance(checked, list)
    assert checked.worker_id == pseudonym.worker_id("AB12345678CD", PEPPER)
    assert "AB12345678CD" not in checked.model_dump_json()
    out = employment.outgoing(
        checked.facts(),
        source="mhlw",
        source_event_id=checked.event_id,
        reported_at=checked.reported_at.isoformat(),
    )
    event = EVENTS.validate_json(out.payload)
    assert isinstance(event, WorkerHired)
    assert event.hired_on.isoformat() == "2024-04-01"
    assert event.reported_at.isoformat() == "2024-04-02T00:00:00+00:00"
    assert event.source_event_id == "MHLW-2024-000001"


def test_values_may_be_written_as_in_the_csv() -> None:
    checked = validate_event(
        hired(
            type="residence_changed",
            changed_on="令和6年10月1日",
            hired_on=None,
            nationality="ベトナム",
            residence_status="特定技能１号",
            sex="女",
            birth_year="平成11年",
            outside_activity_permitted="有",
            establishment={"establishment_id": 1234567890, "municipality_code": 102016},
        )
        | {},
        0,
        PEPPER,
    )
    assert isinstance(checked, list)  # hired_on is not a field of a residence change
    payload = hired(
        type="residence_changed",
        changed_on="令和6年10月1日",
        nationality="ベトナム",
        residence_status="特定技能１号",
        sex="女",
        birth_year="平成11年",
        outside_activity_permitted="有",
        establishment={"establishment_id": 1234567890, "municipality_code": 102016},
    )
    del payload["hired_on"]
    checked = validate_event(payload, 0, PEPPER)
    assert not isinstance(checked, list)
    out = employment.outgoing(
        checked.facts(), source="mhlw", source_event_id="x", reported_at="2024-10-01T00:00:00Z"
    )
    event = EVENTS.validate_json(out.payload)
    assert isinstance(event, ResidenceStatusChanged)
    assert (event.nationality, event.sex, event.birth_year, event.outside_activity_permitted) == (
        "VN",
        "female",
        1999,
        True,
    )


def test_the_same_facts_from_json_and_from_csv_have_the_same_fingerprint() -> None:
    checked = validate_event(hired(), 0, PEPPER)
    assert not isinstance(checked, list)
    header = [
        "在留カード番号",
        "国籍",
        "在留資格",
        "在留期間満了日",
        "生年",
        "性別",
        "資格外活動許可",
        "雇入れ年月日",
        "事業所番号",
        "事業所名称",
        "事業所所在地",
        "市区町村コード",
    ]
    row = [
        "AB12345678CD",
        "ベトナム",
        "特定技能1号",
        "令和7年4月1日",
        "1999",
        "女",
        "無",
        "R6.4.1",
        "12345678901",
        "株式会社グンマ",
        "群馬県前橋市",
        "102016",
    ]
    converted = RowConverter(
        resolve_header(header), source="mhlw", pepper=PEPPER, default_reported_at="x"
    ).convert(row)
    assert not isinstance(converted, list)
    assert converted.fingerprint == checked.facts().digest()


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"type": "arrived"}, "events[3].type", "must be one of"),
        ({"type": None}, "events[3].type", "missing"),
        ({"residence_card_number": "12345"}, "events[3].residence_card_number", "2 letters, 8 digits"),
        ({"nationality": "XX"}, "events[3].nationality", "ISO 3166-1"),
        ({"hired_on": "R1.4.30"}, "events[3].hired_on", "before 令和 began"),
        ({"reported_at": "next week"}, "events[3].reported_at", "not a date-time"),
        ({"birth_year": 1850}, "events[3].birth_year", "1900"),
        ({"name": "Nguyen"}, "events[3].name", "names are not accepted"),
        ({"furigana": "x"}, "events[3].furigana", "unknown field"),
        (
            {"establishment": {"establishment_id": "1", "municipality_code": "99999"}},
            "events[3].establishment.municipality_code",
            "prefecture",
        ),
    ],
)
def test_each_problem_names_the_field_under_its_event(
    change: dict[str, Any], field: str, reason: str
) -> None:
    event = hired()
    for key, value in change.items():
        if value is None:
            event.pop(key)
        else:
            event[key] = value
    problems = validate_event(event, 3, PEPPER)
    assert isinstance(problems, list)
    assert any(p["field"] == field and reason in p["reason"] for p in problems), problems
    assert not any("12345" in p["reason"] for p in problems if p["field"].endswith("residence_card_number"))


def test_a_report_time_without_offset_is_japan_time() -> None:
    checked = validate_event(hired(reported_at="2024-04-02 09:00:00"), 0, PEPPER)
    assert not isinstance(checked, list)
    assert checked.reported_at.isoformat() == "2024-04-02T00:00:00+00:00"


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=10)
    | st.sampled_from(
        ["9999-12-31T23:59:59-23:00", "0001-01-01", "R99.99.99", 10**30, -(10**20), 1e308, -1, ""]
    ),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        _json,
        st.builds(
            lambda base, key, value: {**base, key: value},
            st.just(hired()),
            st.sampled_from(list(hired())),
            _json,
        ),
    )
)
def test_any_json_is_an_event_or_field_problems_never_an_exception(item: Any) -> None:
    checked = validate_event(item, 0, PEPPER)
    if isinstance(checked, list):
        assert checked and all(p["field"].startswith("events[0]") and p["reason"] for p in checked)
    else:
        out = employment.outgoing(
            checked.facts(),
            source="mhlw",
            source_event_id=checked.event_id,
            reported_at=checked.reported_at.isoformat(),
        )
        EVENTS.validate_json(out.payload)
