"""Rows of an extract to events: headers in Japanese or English, the contract's JSON, row-level reasons."""

from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from services.common import pseudonym
from services.common.contracts import EmploymentEvent, WorkerHired, WorkerSeparated
from services.ingest.domain.csv_rows import (
    COLUMNS,
    PERSONAL_COLUMNS,
    HeaderError,
    RowConverter,
    RowError,
    resolve_header,
)
from services.ingest.domain.employment import Outgoing

PEPPER = b"unit-test-pepper-0123456789abcdef"
REPORTED = "2024-05-01T00:00:00+00:00"
EVENTS = TypeAdapter(EmploymentEvent)

JA = [
    "氏名",
    "届出種別",
    "在留カード番号",
    "国籍・地域",
    "在留資格",
    "在留期間満了日",
    "生年月日",
    "性別",
    "資格外活動許可の有無",
    "雇入れ年月日",
    "離職年月日",
    "雇用保険適用事業所番号",
    "事業所名称",
    "事業所所在地",
    "市区町村コード",
    "備考",
]
EN = [
    "Full name",
    "Event type",
    "Residence card number",
    "Nationality",
    "Status of residence",
    "Period of stay expiry",
    "Date of birth",
    "Sex",
    "Outside activity permitted",
    "Hired on",
    "Separated on",
    "Establishment id",
    "Establishment name",
    "Establishment address",
    "Municipality code",
    "Remarks",
]
GOOD = [
    "グエン・ヴァン・アン",
    "雇入れ",
    "AB12345678CD",
    "ベトナム",
    "技能実習1号イ",
    "令和7年3月31日",
    "平成11年5月6日",
    "男",
    "無",
    "R6.4.1",
    "",
    "1234-567890-1",
    "株式会社グンマ",
    "群馬県前橋市大手町1-1-1",
    "10201",
    "備考",
]


def _converter(header: list[str]) -> RowConverter:
    return RowConverter(resolve_header(header), source="mhlw", pepper=PEPPER, default_reported_at=REPORTED)


def _convert(header: list[str], row: list[str]) -> Outgoing | list[RowError]:
    return _converter(header).convert(list(row))


def test_japanese_and_english_headers_mean_the_same_columns() -> None:
    assert resolve_header(JA).index == resolve_header(EN).index


def test_names_and_unknown_columns_are_read_past() -> None:
    layout = resolve_header(JA)
    assert layout.personal == ("氏名",)
    assert layout.unknown == ("備考",)
    assert "氏名" not in layout.mapping


def test_a_good_row_becomes_the_contracts_event() -> None:
    out = _convert(JA, GOOD)
    assert isinstance(out, Outgoing)
    event = EVENTS.validate_json(out.payload)
    assert isinstance(event, WorkerHired)
    assert event.worker_id == pseudonym.worker_id("AB12345678CD", PEPPER) == out.key.decode()
    assert str(event.event_id) == out.event_id
    assert event.source == "mhlw"
    assert event.source_event_id == out.source_event_id
    assert event.nationality == "VN"
    assert event.residence_status.value == "technical_intern_1a"
    assert event.period_expires_on.isoformat() == "2025-03-31"  # type: ignore[union-attr]
    assert event.birth_year == 1999  # only the year of the date of birth is kept
    assert event.sex == "male"
    assert event.outside_activity_permitted is False
    assert event.hired_on.isoformat() == "2024-04-01"
    assert event.establishment.establishment_id == "12345678901"
    assert event.establishment.municipality_code == "102016"
    assert event.reported_at.isoformat() == REPORTED
    payload = out.payload.decode()
    assert "AB12345678CD" not in payload and "グエン" not in payload  # no card number, no name


def test_the_same_facts_written_differently_are_the_same_event() -> None:
    a = _convert(JA, GOOD)
    rewritten = list(GOOD)
    rewritten[2] = "ab 1234 5678 cd"
    rewritten[3] = "VN"
    rewritten[4] = "technical_intern_1a"
    rewritten[5] = "2025/3/31"
    rewritten[9] = "2024-04-01"
    rewritten[14] = "102016"
    b = _convert(EN, rewritten)
    assert isinstance(a, Outgoing) and isinstance(b, Outgoing)
    assert a.source_event_id == b.source_event_id and a.source_event_id.startswith("sha256:")
    assert a.event_id == b.event_id
    assert a.fingerprint == b.fingerprint


def test_an_explicit_event_id_column_is_the_feed_event_id() -> None:
    out = _convert(["event_id", *JA], ["F-2024-0001", *GOOD])
    assert isinstance(out, Outgoing)
    assert out.source_event_id == "F-2024-0001"


def test_a_separation_without_a_type_column_is_inferred_from_its_date() -> None:
    header = [h for h in JA if h != "届出種別"]
    row = [v for h, v in zip(JA, GOOD, strict=True) if h != "届出種別"]
    row[header.index("雇入れ年月日")] = ""
    row[header.index("離職年月日")] = "令和6年9月30日"
    out = _convert(header, row)
    assert isinstance(out, Outgoing)
    event = EVENTS.validate_json(out.payload)
    assert isinstance(event, WorkerSeparated)
    assert event.separated_on.isoformat() == "2024-09-30"


def test_bad_rows_name_each_column_and_reason_and_never_the_card_number() -> None:
    row = list(GOOD)
    row[2] = "AB1234567"  # malformed card number
    row[3] = "Atlantis"
    row[4] = "tourist"
    row[5] = "平成31年5月1日"
    row[9] = "R6.13.1"
    row[14] = "99999"
    errors = _convert(JA, row)
    assert isinstance(errors, list)
    found = {(e.column, e.field) for e in errors}
    assert found == {
        ("在留カード番号", "residence_card_number"),
        ("国籍・地域", "nationality"),
        ("在留資格", "residence_status"),
        ("在留期間満了日", "period_expires_on"),
        ("雇入れ年月日", "hired_on"),
        ("市区町村コード", "municipality_code"),
    }
    assert all(e.reason for e in errors)
    assert not any("AB1234567" in e.reason for e in errors)


def test_missing_required_values_and_too_many_fields() -> None:
    row = list(GOOD)
    row[2] = ""
    errors = _convert(JA, row)
    assert isinstance(errors, list) and errors[0] == RowError(
        "在留カード番号", "residence_card_number", "missing"
    )
    errors = _convert(JA, [*GOOD, "extra"])
    assert isinstance(errors, list) and "fields but the header has" in errors[0].reason
    out = _convert(JA, [*GOOD, ""])  # an empty trailing field is what Excel writes: fine
    assert isinstance(out, Outgoing)


def test_a_row_needs_exactly_one_kind_of_date_without_a_type_column() -> None:
    header = [
        "在留カード番号",
        "国籍",
        "在留資格",
        "雇入れ年月日",
        "離職年月日",
        "事業所番号",
        "市区町村コード",
    ]
    errors = _convert(header, ["AB12345678CD", "VN", "留学", "R6.4.1", "R6.5.1", "1", "10201"])
    assert isinstance(errors, list) and errors[0].field == "separated_on"
    assert "exactly one" in errors[0].reason


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        (["在留カード番号", "国籍"], "required column"),
        (
            [
                "在留カード番号",
                "在留カード番号",
                "国籍",
                "在留資格",
                "事業所番号",
                "市区町村コード",
                "雇入日",
            ],
            "a second column",
        ),
        (["在留カード番号", "国籍", "在留資格", "事業所番号", "市区町村コード"], "no date column"),
    ],
)
def test_unusable_headers_are_refused_naming_the_column(header: list[str], problem: str) -> None:
    with pytest.raises(HeaderError, match=problem):
        resolve_header(header)


def test_every_accepted_header_is_in_the_docs_table() -> None:
    docs = (Path(__file__).parents[3] / "docs" / "ingest.md").read_text(encoding="utf-8")
    for column in COLUMNS:
        for alias in (*column.japanese, *column.english):
            assert f"`{alias}`" in docs, f"{alias} ({column.field}) is missing from docs/ingest.md"
    for name in PERSONAL_COLUMNS:
        assert f"`{name}`" in docs


_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20)
_values = st.one_of(
    _text,
    st.sampled_from(
        [
            "",
            "AB12345678CD",
            "VN",
            "ベトナム",
            "特定技能1号",
            "R6.4.1",
            "2024-13-40",
            "平成31年5月1日",
            "10201",
            "男",
            "有",
            "1234-567890-1",
            "雇入れ",
            "離職",
            "変更",
        ]
    ),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_values, min_size=0, max_size=len(JA) + 3))
def test_any_row_gives_an_event_that_validates_or_reasons_never_an_exception(row: list[str]) -> None:
    out = _converter(JA).convert(list(row))
    if isinstance(out, Outgoing):
        event = EVENTS.validate_json(out.payload)
        assert str(event.event_id) == out.event_id
        assert orjson.loads(out.payload)["worker_id"] == out.key.decode()
    else:
        assert out and all(e.field and e.reason for e in out)
