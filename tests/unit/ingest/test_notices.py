"""Staff notices: placeholders, the audience filter by name, a city-scoped key's reach, send_at."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from services.common.codes import ResidenceStatus
from services.ingest.domain.notices import NoticeIn, check_placeholders, scoped_cities
from services.ingest.feed_api import pydantic_problems


@pytest.mark.parametrize(
    "text",
    [
        "ごみの日は{date}です",
        "{city}の{employer}で",
        "no placeholders",
        "literal {{braces}} are fine",
        "{{{date}}}",
    ],
)
def test_known_placeholders_and_escaped_braces(text: str) -> None:
    assert check_placeholders(text) == text


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{dat}", "unknown placeholder {dat} at position 1"),
        ("{name}さん", "unknown placeholder {name}"),
        ("{date:%Y}", "unknown placeholder {date:%Y}"),
        ("{0}", "unknown placeholder {0}"),
        ("abc {date", "'{' at position 5 is not closed"),
        ("{{date}", "'}' at position 7 has no opening brace"),
        ("a } b", "'}' at position 3 has no opening brace"),
        ("{ {date}", "'{' at position 1 is not closed"),
    ],
)
def test_bad_placeholders_are_named_with_their_position(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason.replace("{", r"\{").replace("}", r"\}")):
        check_placeholders(text)


def _notice(**changes: Any) -> dict[str, Any]:
    notice: dict[str, Any] = {
        "title": "在留期間の更新",
        "body": "{city}にお住まいの方へ: {date}までに手続きを",
        "source_language": "ja",
        "category": "immigration",
        "audience": {
            "cities": ["10201"],
            "nationalities": ["ベトナム", "PH"],
            "languages": ["vi"],
            "residence_statuses": ["特定技能1号", "student"],
            "employers": ["1234-567890-1"],
        },
        "priority": "emergency",
    }
    notice.update(changes)
    return notice


def test_a_notice_normalizes_its_audience() -> None:
    notice = NoticeIn.model_validate(_notice())
    audience = notice.audience
    assert audience.cities == ["102016"]
    assert audience.nationalities == ["VN", "PH"]
    assert audience.residence_statuses == [ResidenceStatus.SPECIFIED_SKILLED_WORKER_1.value, "student"]
    assert audience.employers == ["12345678901"]


def test_unknown_filter_values_are_refused_by_their_position() -> None:
    bad = _notice(
        audience={
            "cities": ["10201", "99999"],
            "languages": ["vi", "klingon"],
            "residence_statuses": ["tourist"],
            "nationalities": ["XX"],
            "gender": ["f"],
        }
    )
    with pytest.raises(ValidationError) as info:
        NoticeIn.model_validate(bad)
    fields = {p["field"] for p in pydantic_problems(info.value, "")}
    assert fields == {
        "audience.cities[1]",
        "audience.languages[1]",
        "audience.residence_statuses[0]",
        "audience.nationalities[0]",
        "audience.gender",
    }


def test_send_at_must_be_ahead() -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    assert NoticeIn.model_validate(_notice(send_at=None)).send_at_problem(now) is None
    assert (
        NoticeIn.model_validate(_notice(send_at=(now + timedelta(hours=1)).isoformat())).send_at_problem(now)
        is None
    )
    past = NoticeIn.model_validate(_notice(send_at=(now - timedelta(hours=1)).isoformat()))
    assert "future" in (past.send_at_problem(now) or "")
    far = NoticeIn.model_validate(_notice(send_at=(now + timedelta(days=400)).isoformat()))
    assert "within a year" in (far.send_at_problem(now) or "")


def test_a_prefecture_key_targets_what_it_names() -> None:
    assert scoped_cities(["102016", "102024", "102016"], ()) == (("102016", "102024"), [])
    assert scoped_cities([], ()) == ((), [])  # everyone in the prefecture


def test_a_city_key_targets_only_its_cities_and_empty_means_its_cities() -> None:
    mine = ("102016", "102024")
    assert scoped_cities([], mine) == (("102016", "102024"), [])
    assert scoped_cities(["102024"], mine) == (("102024",), [])
    assert scoped_cities(["102016", "102032", "102041"], mine)[1] == [1, 2]
