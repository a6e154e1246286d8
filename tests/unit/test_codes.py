import pytest

from services.common import codes, languages
from services.common.codes import ResidenceStatus


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("10201", "102016"),
        ("102016", "102016"),
        ("10202", "102024"),
        ("１０２０５", "102059"),
        ("10204", "102041"),
        ("13101", "131016"),
    ],
)
def test_municipality_codes_get_their_check_digit(given: str, canonical: str) -> None:
    assert codes.normalize_municipality_code(given) == canonical


@pytest.mark.parametrize("bad", ["102017", "1020", "abcde", "99999", "00001", "1020161"])
def test_bad_municipality_codes_are_refused_with_a_reason(bad: str) -> None:
    with pytest.raises(ValueError, match="municipality code"):
        codes.normalize_municipality_code(bad)


def test_every_status_parses_from_its_code_and_its_japanese_label() -> None:
    for status in ResidenceStatus:
        assert codes.parse_residence_status(status.value) is status
        assert codes.parse_residence_status(status.label_ja) is status
    assert codes.parse_residence_status("特定技能１号") is ResidenceStatus.SPECIFIED_SKILLED_WORKER_1
    with pytest.raises(ValueError, match="unknown status"):
        codes.parse_residence_status("tourist")


def test_country_codes_are_iso_3166_alpha_2() -> None:
    assert {"VN", "PH", "ID", "BR", "NP", "CN", "MM", "PE"} <= codes.country_codes()
    assert not {"EU", "UN", "ZZ", "001"} & codes.country_codes()
    assert codes.country_name("VN", "ja") == "ベトナム"


def test_the_default_language_list_has_24_languages_and_japanese() -> None:
    codes_ = [lang.code for lang in languages.DEFAULT_LANGUAGES]
    assert len(codes_) == 25 and codes_[-1] == "ja" and len(set(codes_)) == 25
    assert languages.from_line_profile("zh-TW") == languages.get("zh-Hant")
    assert languages.from_line_profile("pt") == languages.get("pt-BR")
    assert languages.from_line_profile("xx") is None
