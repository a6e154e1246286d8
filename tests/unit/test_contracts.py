from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from services.common import contracts as c
from services.common.errors import field_errors

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
USER = "U" + "0" * 32


def hired(**overrides: object) -> c.WorkerHired:
    data: dict[str, object] = {
        "worker_id": "ab" * 32,
        "source": "mhlw",
        "source_event_id": "ev-1",
        "reported_at": NOW,
        "establishment": {"establishment_id": "1001-123456-7", "municipality_code": "10204"},
        "nationality": "vn",
        "residence_status": "technical_intern_2a",
        "period_expires_on": date(2027, 3, 31),
        "hired_on": date(2026, 4, 1),
    }
    data.update(overrides)
    return c.WorkerHired.model_validate(data)


def test_employment_events_round_trip_through_json_by_their_type() -> None:
    adapter: TypeAdapter[c.EmploymentEvent] = TypeAdapter(c.EmploymentEvent)
    event = hired()
    assert adapter.validate_json(event.model_dump_json()) == event
    assert event.establishment.establishment_id == "10011234567"
    assert event.establishment.municipality_code == "102041"
    assert event.nationality == "VN"


def test_an_unknown_schema_version_is_refused_by_name() -> None:
    adapter: TypeAdapter[c.EmploymentEvent] = TypeAdapter(c.EmploymentEvent)
    payload = hired().model_dump(mode="json") | {"schema_version": 2}
    with pytest.raises(ValidationError) as info:
        adapter.validate_python(payload)
    assert field_errors(info.value) == [
        {
            "field": "schema_version",
            "reason": "Value error, unsupported schema_version 2 (this reader knows 1)",
        }
    ]


def test_field_errors_name_the_field_and_never_the_value() -> None:
    with pytest.raises(ValidationError) as info:
        hired(nationality="XX", worker_id="secret-value")
    problems = field_errors(info.value)
    assert {p["field"] for p in problems} == {"nationality", "worker_id"}
    assert "secret-value" not in str(problems)


def test_deliveries_respect_lines_limits() -> None:
    content = c.NoticeContent(title="t", body="b", source_language="ja", category=c.NoticeCategory.TAX)
    notice_id = uuid.uuid4()
    common = {
        "batch_id": c.batch_id_for(notice_id, "vi", 0),
        "notice_id": notice_id,
        "language": "vi",
        "batch_no": 0,
        "notice_recipients": 501,
        "planned_at": NOW,
        "content": content,
    }
    ok = c.DeliveryPlanned(recipients=tuple(f"U{n:032x}" for n in range(500)), **common)  # type: ignore[arg-type]
    assert ok.key == f"{notice_id}:vi"
    with pytest.raises(ValidationError, match="at most 500"):
        c.DeliveryPlanned(recipients=tuple(f"U{n:032x}" for n in range(501)), **common)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="distinct"):
        c.DeliveryPlanned(recipients=(USER, USER), **common)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="unsupported language"):
        c.DeliveryPlanned(recipients=(USER,), **{**common, "language": "xx"})  # type: ignore[arg-type]
    ready = {k: v for k, v in common.items() if k != "content"}
    with pytest.raises(ValidationError, match="at most 5"):
        c.DeliveryReady(
            recipients=(USER,), messages=tuple({"type": "text", "text": "x"} for _ in range(6)), **ready
        )  # type: ignore[arg-type]


def test_derived_ids_are_stable() -> None:
    assert c.derived_id("line", "01HXYZ") == c.derived_id("line", "01HXYZ")
    assert c.derived_id("line", "01HXYZ") != c.derived_id("line", "01HXYZ2")


def test_audience_filter_validates_every_value() -> None:
    audience = c.AudienceFilter(cities=("10201",), nationalities=("vn",), languages=("vi",))
    assert audience.cities == ("102016",) and audience.nationalities == ("VN",)
    with pytest.raises(ValidationError) as info:
        c.AudienceFilter(cities=("10201", "99999"), residence_statuses=("tourist",))  # type: ignore[arg-type]
    assert {p["field"] for p in field_errors(info.value)} == {"cities[1]", "residence_statuses[0]"}


@given(st.dictionaries(st.text(max_size=12), st.none() | st.integers() | st.text(max_size=20), max_size=12))
def test_arbitrary_payloads_fail_validation_cleanly(payload: dict[str, object]) -> None:
    adapter: TypeAdapter[c.LineEvent] = TypeAdapter(c.LineEvent)
    try:
        adapter.validate_python(payload)
    except ValidationError as error:
        assert all(p["field"] and p["reason"] for p in field_errors(error))
