"""Dates and numbers per locale (Babel), fallback lines, rendering into LINE message objects."""

from __future__ import annotations

import pytest

from services.common import languages
from services.translate.domain.fallback import chain_for, fallback_line, missing_lines, truncation_note
from services.translate.domain.fill import fill, format_value
from services.translate.domain.render import render
from services.translate.domain.text import utf16_len


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("es", "31 de marzo de 2027"),
        ("pt-BR", "31 de março de 2027"),
        ("en", "March 31, 2027"),
        ("ja", "2027年3月31日"),
        ("ja-x-easy", "2027年3月31日"),
        ("vi", "31 tháng 3, 2027"),
        ("ko", "2027년 3월 31일"),
    ],
)
def test_iso_dates_become_the_locales_long_date(language: str, expected: str) -> None:
    text, missing = fill("until {date}", {"date": "2027-03-31"}, language)
    assert text == f"until {expected}"
    assert missing == []


def test_numbers_follow_the_locale() -> None:
    assert format_value("1234567.5", "es") == "1.234.567,5"
    assert format_value("1234567", "en") == "1,234,567"
    assert format_value("1234567", "hi") == "12,34,567"


def test_other_values_and_bad_dates_are_inserted_as_given() -> None:
    assert format_value("Maebashi", "es") == "Maebashi"
    assert format_value("2027-02-30", "es") == "2027-02-30"


def test_missing_values_stay_visible_and_are_reported() -> None:
    text, missing = fill("{city} on {date}", {"date": "2027-03-31"}, "en")
    assert text == "{city} on March 31, 2027"
    assert missing == ["city"]


def test_every_language_has_its_lines() -> None:
    assert missing_lines() == []
    for code in languages.LANGUAGE_CODES:
        line = fallback_line(code, "en")
        assert "English" in line and "{language}" not in line
        assert truncation_note(code)


def test_nepali_readers_are_told_in_nepali() -> None:
    line = fallback_line("ne", "en")
    assert line.startswith("यो सूचना") and line.endswith("English")
    assert fallback_line("vi", "ja-x-easy").endswith("やさしいにほんご")


def test_default_and_configured_chains() -> None:
    assert chain_for("ne") == ("en", "ja-x-easy")
    assert chain_for("en") == ("ja-x-easy", "ja")
    assert chain_for("zh-Hant") == ("zh-Hans", "en", "ja-x-easy")
    assert chain_for("ne", {"ne": ["hi", "en", "ne"]}) == ("hi", "en")


def test_render_puts_the_fallback_line_first_and_fills_in_the_texts_locale() -> None:
    rendered = render(
        title="Your period of stay ends on {date}",
        body="Apply before {date} in {city}.",
        reader_language="ne",
        text_language="en",
        fallback=True,
        values={"date": "2027-03-31", "city": "Maebashi"},
    )
    (message,) = rendered.messages
    assert message["type"] == "text"
    lines = message["text"].split("\n\n")
    assert lines[0] == fallback_line("ne", "en")
    assert lines[1] == "Your period of stay ends on March 31, 2027"
    assert lines[2] == "Apply before March 31, 2027 in Maebashi."
    assert not rendered.truncated and rendered.unfilled == ()


def test_render_splits_long_notices_and_caps_at_five_messages() -> None:
    body = "\n\n".join("Paragraph. " + "y" * 4000 for _ in range(9))
    rendered = render(
        title="Long", body=body, reader_language="es", text_language="es", fallback=False, values={}
    )
    assert len(rendered.messages) == 5
    assert rendered.truncated
    assert rendered.messages[-1]["text"].endswith(truncation_note("es"))
    assert all(utf16_len(m["text"]) <= 5000 for m in rendered.messages)
