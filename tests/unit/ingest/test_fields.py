"""Values as feeds write them: era and ISO dates, full-width digits, every status of residence, codes."""

from datetime import UTC, date, datetime

import pytest

from services.common.codes import ResidenceStatus
from services.ingest.domain import fields


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("2024-04-01", date(2024, 4, 1)),
        ("2024/4/1", date(2024, 4, 1)),
        ("2024.04.01", date(2024, 4, 1)),
        ("2024年4月1日", date(2024, 4, 1)),
        ("20240401", date(2024, 4, 1)),
        (" 2024-04-01 ", date(2024, 4, 1)),
        ("令和6年4月1日", date(2024, 4, 1)),
        ("令和６年４月１日", date(2024, 4, 1)),  # full-width digits
        ("R6.4.1", date(2024, 4, 1)),
        ("R06.04.01", date(2024, 4, 1)),
        ("r6/4/1", date(2024, 4, 1)),
        ("Ｒ６．４．１", date(2024, 4, 1)),  # full-width letter, digits and dots
        ("R6-4-1", date(2024, 4, 1)),
        ("㋿6年4月1日", date(2024, 4, 1)),  # the Reiwa ligature
        ("令和元年5月1日", date(2019, 5, 1)),
        ("R1.5.1", date(2019, 5, 1)),
        ("平成31年4月30日", date(2019, 4, 30)),
        ("H31.4.30", date(2019, 4, 30)),
        ("㍻31年4月30日", date(2019, 4, 30)),
        ("平成元年1月8日", date(1989, 1, 8)),
        ("H1.1.8", date(1989, 1, 8)),
        ("昭和64年1月7日", date(1989, 1, 7)),
        ("S64.1.7", date(1989, 1, 7)),
        ("昭和元年12月25日", date(1926, 12, 25)),
        ("大正15年12月24日", date(1926, 12, 24)),
        ("T1.7.30", date(1912, 7, 30)),
        ("明治45年7月29日", date(1912, 7, 29)),
        ("平成12年2月29日", date(2000, 2, 29)),
    ],
)
def test_dates_in_every_accepted_spelling(written: str, expected: date) -> None:
    assert fields.parse_date(written) == expected


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("平成31年5月1日", "after 平成 ended"),  # the first day of Reiwa must be written as Reiwa
        ("H31.5.1", "after 平成 ended"),
        ("令和1年4月30日", "before 令和 began"),
        ("R1.4.30", "before 令和 began"),
        ("昭和64年1月8日", "after 昭和 ended"),
        ("平成1年1月7日", "before 平成 began"),
        ("S1.12.24", "before 昭和 began"),
        ("令和0年1月1日", "era years start at 1"),
        ("2024-02-30", "not a calendar date"),
        ("R6.13.1", "not a calendar date"),
        ("平成13年2月29日", "not a calendar date"),
        ("yesterday", "not a date"),
        ("X6.4.1", "not a date"),
        ("", "empty date"),
    ],
)
def test_impossible_dates_are_refused_with_the_reason(written: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        fields.parse_date(written)


def test_the_era_boundary_names_the_era_to_use() -> None:
    with pytest.raises(ValueError, match="from 2019-05-01 write 令和"):
        fields.parse_date("平成31年5月1日")


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("2024-04-01T09:30:00+09:00", datetime(2024, 4, 1, 0, 30, tzinfo=UTC)),
        ("2024-04-01T00:30:00Z", datetime(2024, 4, 1, 0, 30, tzinfo=UTC)),
        ("2024-04-01 09:30:00", datetime(2024, 4, 1, 0, 30, tzinfo=UTC)),  # no offset: Japan time
        ("2024-04-01", datetime(2024, 3, 31, 15, 0, tzinfo=UTC)),  # a date: midnight in Japan
        ("令和6年4月1日", datetime(2024, 3, 31, 15, 0, tzinfo=UTC)),
    ],
)
def test_report_times(written: str, expected: datetime) -> None:
    assert fields.parse_datetime(written) == expected


@pytest.mark.parametrize(
    "bad", ["9999-12-31T23:59:59-23:00", "0001-01-01", "0001-01-01T00:00:00+05:00", "1850-01-01", "soon", ""]
)
def test_impossible_report_times_are_value_errors(bad: str) -> None:
    with pytest.raises(ValueError, match=r"date-time|out of range"):
        fields.parse_datetime(bad)


@pytest.mark.parametrize(
    ("written", "year"),
    [
        ("1990", 1990),
        ("１９９０", 1990),
        ("平成2年", 1990),
        ("H2", 1990),
        ("昭和60年", 1985),
        ("1990-05-06", 1990),
        ("平成2年5月6日", 1990),
    ],
)
def test_birth_years_keep_only_the_year(written: str, year: int) -> None:
    assert fields.parse_birth_year(written) == year


@pytest.mark.parametrize("bad", ["199", "1850", "平成40年", "someday"])
def test_bad_birth_years(bad: str) -> None:
    with pytest.raises(ValueError, match=r"year of birth|outside"):
        fields.parse_birth_year(bad)


def test_full_width_digits_and_spaces_become_ascii() -> None:
    assert fields.nfkc("　１２３ＡＢ　") == "123AB"
    assert fields.parse_municipality("１０２０１") == "102016"
    assert fields.parse_establishment_id("１２３４－５６７８９０－１") == "12345678901"


@pytest.mark.parametrize("status", list(ResidenceStatus))
def test_every_status_of_residence_by_code_and_by_the_forms_label(status: ResidenceStatus) -> None:
    assert fields.parse_status(status.value) is status
    assert fields.parse_status(status.value.upper()) is status
    assert fields.parse_status(status.label_ja) is status
    # As typed on Japanese keyboards: full-width digits, half-width or no middle dots, stray spaces.
    typed = status.label_ja.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    assert fields.parse_status(typed) is status
    assert fields.parse_status(status.label_ja.replace("・", "･")) is status
    assert fields.parse_status(" " + status.label_ja.replace("・", "") + " ") is status
    assert fields.parse_status_code(status.label_ja) == status.value


@pytest.mark.parametrize("bad", ["tourist", "特定技能3号", "短期滞在", ""])
def test_unknown_statuses_are_named(bad: str) -> None:
    with pytest.raises(ValueError, match="status of residence"):
        fields.parse_status(bad)


@pytest.mark.parametrize(
    ("written", "code"),
    [
        ("VN", "VN"),
        ("vn", "VN"),
        ("ＶＮ", "VN"),
        ("ベトナム", "VN"),
        ("ベトナム社会主義共和国", "VN"),
        ("Vietnam", "VN"),
        ("Viet Nam", "VN"),
        ("中国", "CN"),
        ("中華人民共和国", "CN"),
        ("フィリピン", "PH"),
        ("ミャンマー", "MM"),
        ("ミャンマー (ビルマ)", "MM"),
        ("Myanmar", "MM"),
        ("インドネシア", "ID"),
        ("ネパール", "NP"),
        ("ブラジル", "BR"),
        ("韓国", "KR"),
        ("大韓民国", "KR"),
        ("アメリカ合衆国", "US"),
        ("米国", "US"),
    ],
)
def test_nationality_by_code_or_name(written: str, code: str) -> None:
    assert fields.parse_nationality(written) == code


@pytest.mark.parametrize(
    ("bad", "reason"), [("XX", "not an ISO 3166-1"), ("EU", "not an ISO"), ("Atlantis", "unknown")]
)
def test_unknown_nationalities(bad: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        fields.parse_nationality(bad)


@pytest.mark.parametrize(
    ("written", "sex"),
    [
        ("male", "male"),
        ("M", "male"),
        ("男", "male"),
        ("男性", "male"),
        ("1", "male"),
        ("female", "female"),
        ("F", "female"),
        ("女", "female"),
        ("２", "female"),
        ("", None),
    ],
)
def test_sex(written: str, sex: str | None) -> None:
    assert fields.parse_sex(written) == sex


@pytest.mark.parametrize(
    ("written", "flag"),
    [
        ("有", True),
        ("あり", True),
        ("yes", True),
        ("TRUE", True),
        ("1", True),
        ("○", True),
        ("無", False),
        ("なし", False),
        ("no", False),
        ("0", False),
        ("×", False),
        ("", None),
    ],
)
def test_yes_no_flags(written: str, flag: bool | None) -> None:
    assert fields.parse_flag(written) is flag


def test_unknown_sex_and_flags_say_what_is_accepted() -> None:
    with pytest.raises(ValueError, match="男/女"):
        fields.parse_sex("X")
    with pytest.raises(ValueError, match="有/無"):
        fields.parse_flag("maybe")


def test_establishment_ids_and_free_text() -> None:
    assert fields.parse_establishment_id(" 1234-567890-1 ") == "12345678901"
    assert fields.parse_establishment_id("ab-12") == "AB12"
    with pytest.raises(ValueError, match="letters and digits"):
        fields.parse_establishment_id("12/34")
    assert fields.parse_establishment_name("  ㈱テスト　") == "(株)テスト"
    assert fields.parse_establishment_name("") is None
    with pytest.raises(ValueError, match="longer than 200"):
        fields.parse_establishment_name("x" * 201)
    with pytest.raises(ValueError, match="control characters"):
        fields.parse_establishment_address("群馬県\x00前橋市")
