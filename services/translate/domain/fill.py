"""Filling placeholders after translation, with dates and numbers in the reader's locale (Babel).

Values arrive as strings: ISO dates (``2027-03-31``) and date-times become the locale's long date
("31 de marzo de 2027" in Spanish, "2027年3月31日" in Japanese), numbers get the locale's grouping
and decimal signs, anything else is inserted as it is. A placeholder without a value stays visible
(``{city}``) rather than silently disappearing; the caller counts it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal

from services.common import languages

from .protect import PLACEHOLDER

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
#: Local times are shown in the prefecture's zone.
DISPLAY_ZONE = ZoneInfo("Asia/Tokyo")


def babel_locale(language: str) -> str:
    """The Babel locale for a language code (Easy Japanese formats as Japanese)."""
    return languages.get(language).babel_locale


def format_value(value: str, locale: str) -> str:
    """One value as the reader expects to see it in ``locale``."""
    text = value.strip()
    try:
        if _ISO_DATE.match(text):
            return str(format_date(date.fromisoformat(text), format="long", locale=locale))
        if _ISO_DATETIME.match(text):
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if moment.tzinfo is not None:
                moment = moment.astimezone(DISPLAY_ZONE)
            return str(format_datetime(moment, format="medium", locale=locale))
        if _NUMBER.match(text):
            return str(format_decimal(Decimal(text), locale=locale))
    except (ValueError, InvalidOperation):
        return value  # looked like a date or number but is not one: show it as given
    return value


def fill(template: str, values: Mapping[str, str], language: str) -> tuple[str, list[str]]:
    """``template`` with its placeholders filled for ``language``; also the names left unfilled."""
    locale = babel_locale(language)
    missing: list[str] = []
    formatted: dict[str, str] = {}

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            missing.append(name)
            return match.group(0)
        if name not in formatted:
            formatted[name] = format_value(values[name], locale)
        return formatted[name]

    return PLACEHOLDER.sub(one, template), missing
