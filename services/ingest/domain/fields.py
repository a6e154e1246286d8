"""Parsing the values feeds write: Japanese-era and ISO dates, full-width digits, codes and labels.

Every parser takes the text as written and returns the normalized value or raises ``ValueError`` with a
reason a clerk can act on. The residence card number never goes through here (see ``pseudonym``).
Parsers of values that repeat across a file (dates, codes, labels) are cached: a million-row extract
has a few thousand distinct dates.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import Literal

from babel import Locale

from services.common import codes
from services.common.codes import ResidenceStatus

#: Japan Standard Time: feeds from Japanese authorities write local times without an offset.
JST = timezone(timedelta(hours=9), "JST")

Sex = Literal["male", "female"]


def nfkc(text: str) -> str:
    """Full-width letters and digits to ASCII, ideographic spaces to spaces, ㋿ to 令和; stripped."""
    if text.isascii():
        return text.strip()
    return unicodedata.normalize("NFKC", text).strip()


# --- Japanese eras ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Era:
    name: str
    letter: str
    first_day: date
    last_day: date | None

    def gregorian_year(self, era_year: int) -> int:
        return self.first_day.year + era_year - 1


#: The eras of the modern calendar with their first and last days (改元の日).
ERAS: tuple[Era, ...] = (
    Era("明治", "M", date(1868, 10, 23), date(1912, 7, 29)),
    Era("大正", "T", date(1912, 7, 30), date(1926, 12, 24)),
    Era("昭和", "S", date(1926, 12, 25), date(1989, 1, 7)),
    Era("平成", "H", date(1989, 1, 8), date(2019, 4, 30)),
    Era("令和", "R", date(2019, 5, 1), None),
)
_ERA_BY_TOKEN: dict[str, Era] = {}
for _era in ERAS:
    _ERA_BY_TOKEN[_era.name] = _era
    _ERA_BY_TOKEN[_era.letter] = _era
    _ERA_BY_TOKEN[_era.letter.lower()] = _era

_ERA_ALTERNATIVES = "|".join(sorted(map(re.escape, _ERA_BY_TOKEN), key=len, reverse=True))
_ERA_DATE = re.compile(
    rf"^(?P<era>{_ERA_ALTERNATIVES})\s*(?P<year>\d{{1,2}}|元)\s*[年./\-]\s*(?P<month>\d{{1,2}})\s*"
    rf"[月./\-]\s*(?P<day>\d{{1,2}})\s*日?$"
)
_ERA_YEAR = re.compile(rf"^(?P<era>{_ERA_ALTERNATIVES})\s*(?P<year>\d{{1,2}}|元)\s*年?$")
_GREGORIAN_DATE = re.compile(
    r"^(?P<year>\d{4})\s*[年./\-]\s*(?P<month>\d{1,2})\s*[月./\-]\s*(?P<day>\d{1,2})\s*日?$"
)
_COMPACT_DATE = re.compile(r"^(?P<year>\d{4})(?P<month>\d{2})(?P<day>\d{2})$")


def _era_year(written: str) -> int:
    return 1 if written == "元" else int(written)


def _calendar_date(year: int, month: int, day: int, written: str) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise ValueError(f"{written!r} is not a calendar date") from None


def era_date(era: Era, era_year: int, month: int, day: int, written: str) -> date:
    """The Gregorian date of an era date; refuses dates outside the era (平成31年5月1日)."""
    if era_year < 1:
        raise ValueError(f"{written!r}: era years start at 1 (元年)")
    result = _calendar_date(era.gregorian_year(era_year), month, day, written)
    if result < era.first_day:
        raise ValueError(f"{written!r} is before {era.name} began ({era.first_day.isoformat()})")
    if era.last_day is not None and result > era.last_day:
        following = ERAS[ERAS.index(era) + 1]
        raise ValueError(
            f"{written!r} is after {era.name} ended ({era.last_day.isoformat()}); "
            f"from {following.first_day.isoformat()} write {following.name}"
        )
    return result


@lru_cache(maxsize=65_536)
def parse_date(text: str) -> date:
    """ISO (2024-04-01), 2024/4/1, 2024年4月1日, 20240401 and era dates (令和6年4月1日, R6.4.1, H31.4.30).

    Full-width digits and era ligatures (㋿, ㍻) are accepted.
    """
    written = text
    text = nfkc(text)
    if not text:
        raise ValueError("empty date")
    match = _GREGORIAN_DATE.match(text) or _COMPACT_DATE.match(text)
    if match:
        return _calendar_date(int(match["year"]), int(match["month"]), int(match["day"]), written)
    match = _ERA_DATE.match(text)
    if match:
        era = _ERA_BY_TOKEN[match["era"]]
        return era_date(era, _era_year(match["year"]), int(match["month"]), int(match["day"]), written)
    raise ValueError(
        f"{written!r} is not a date (write 2024-04-01, 2024/4/1, 2024年4月1日, 令和6年4月1日 or R6.4.1)"
    )


@lru_cache(maxsize=4096)
def parse_datetime(text: str) -> datetime:
    """An ISO 8601 time (an offset is kept; without one it is Japan time) or a date (midnight JST)."""
    written = text
    text = nfkc(text)
    if not text:
        raise ValueError("empty date-time")
    try:
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            parsed = datetime.combine(parse_date(text), time(0), JST)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=JST)
        result = parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValueError(
            f"{written!r} is not a date-time (write 2024-04-01T09:30:00+09:00 or a date)"
        ) from None
    if not 1900 <= result.year <= 2200:
        raise ValueError(f"{written!r} is out of range (years 1900-2200)")
    return result


@lru_cache(maxsize=4096)
def parse_birth_year(text: str) -> int:
    """A year (1990, 平成2年, H2) or a full date of birth, of which only the year is kept."""
    written = text
    text = nfkc(text)
    if text.isdigit() and len(text) == 4:
        year = int(text)
    else:
        match = _ERA_YEAR.match(text)
        if match:
            era = _ERA_BY_TOKEN[match["era"]]
            year = era.gregorian_year(_era_year(match["year"]))
            last_year = era.last_day.year if era.last_day else 9999
            if not era.first_day.year <= year <= last_year:
                raise ValueError(f"{written!r} is outside {era.name}")
        else:
            try:
                year = parse_date(text).year
            except ValueError:
                raise ValueError(
                    f"{written!r} is not a year of birth (write 1990, 平成2年 or a date)"
                ) from None
    if not 1900 <= year <= 2100:
        raise ValueError(f"year of birth {year} is out of range (1900-2100)")
    return year


# --- labels and codes ------------------------------------------------------------------------------

_SEX: dict[str, Sex] = {
    "male": "male",
    "m": "male",
    "1": "male",
    "男": "male",
    "男性": "male",
    "female": "female",
    "f": "female",
    "2": "female",
    "女": "female",
    "女性": "female",
}


@lru_cache(maxsize=256)
def parse_sex(text: str) -> Sex | None:
    """male/female, M/F, 男/女, 1/2 (the form's codes); empty means not given."""
    value = nfkc(text).lower()
    if not value:
        return None
    try:
        return _SEX[value]
    except KeyError:
        raise ValueError(f"{text!r} is not a sex (write male/female, M/F, 男/女 or 1/2)") from None


_YES = frozenset({"yes", "y", "true", "t", "1", "有", "あり", "有り", "○", "〇", "◯", "許可"})
_NO = frozenset({"no", "n", "false", "f", "0", "無", "なし", "無し", "×", "✕", "-", "不許可"})


@lru_cache(maxsize=256)
def parse_flag(text: str) -> bool | None:
    """有/無, yes/no, true/false, 1/0, ○/×; empty means not given."""
    value = nfkc(text).lower()
    if not value:
        return None
    if value in _YES:
        return True
    if value in _NO:
        return False
    raise ValueError(f"{text!r} is not yes or no (write 有/無, yes/no, true/false or 1/0)")


@lru_cache(maxsize=1024)
def parse_status(text: str) -> ResidenceStatus:
    """Our code (specified_skilled_worker_1) or the form's label (特定技能1号, 技術・人文知識・国際業務)."""
    value = nfkc(text)
    if not value:
        raise ValueError("empty status of residence")
    try:
        return codes.parse_residence_status(value)
    except ValueError:
        pass
    # Labels are written with assorted dots and spaces: 技術･人文知識･国際業務, 経営 ・ 管理.
    compact = re.sub(r"[\s・·•.]", "", value)
    for status in ResidenceStatus:
        if re.sub(r"[・]", "", status.label_ja) == compact:
            return status
    raise ValueError(
        f"unknown status of residence {text!r} (write a code such as specified_skilled_worker_1 "
        "or the label on the form such as 特定技能1号)"
    )


@lru_cache(maxsize=1024)
def parse_status_code(text: str) -> str:
    """:func:`parse_status` as the code string."""
    return parse_status(text).value


# Common ways of writing countries that CLDR's names do not cover.
_COUNTRY_ALIASES = {
    "大韓民国": "KR",
    "中華人民共和国": "CN",
    "ベトナム社会主義共和国": "VN",
    "フィリピン共和国": "PH",
    "インドネシア共和国": "ID",
    "米国": "US",
    "アメリカ": "US",
    "英国": "GB",
    "香港": "HK",
    "マカオ": "MO",
    "viet nam": "VN",
    "korea": "KR",
    "republic of korea": "KR",
    "usa": "US",
    "uk": "GB",
}


def _name_key(name: str) -> str:
    return re.sub(r"[\s・.,'’]", "", nfkc(name).casefold())


@lru_cache(maxsize=1)
def _countries_by_name() -> dict[str, str]:
    known = codes.country_codes()
    names: dict[str, str] = {}
    for locale in ("en", "ja"):
        for code, name in Locale(locale).territories.items():
            if code not in known:
                continue
            names.setdefault(_name_key(name), code)
            # "ミャンマー (ビルマ)", "Myanmar (Burma)": also the name without the parenthesis.
            short = re.sub(r"\s*[(（].*?[)）]\s*", "", name)
            if short != name:
                names.setdefault(_name_key(short), code)
    for alias, code in _COUNTRY_ALIASES.items():
        names.setdefault(_name_key(alias), code)
    return names


@lru_cache(maxsize=1024)
def parse_nationality(text: str) -> str:
    """ISO 3166-1 alpha-2 (VN), or the country's name in Japanese or English (ベトナム, Vietnam)."""
    value = nfkc(text)
    if not value:
        raise ValueError("empty nationality/region")
    if len(value) == 2 and value.isascii() and value.isalpha():
        code = value.upper()
        if codes.is_country_code(code):
            return code
        raise ValueError(f"{text!r} is not an ISO 3166-1 alpha-2 code")
    found = _countries_by_name().get(_name_key(value))
    if found is None:
        raise ValueError(f"unknown nationality/region {text!r} (write an ISO 3166-1 code such as VN)")
    return found


@lru_cache(maxsize=8192)
def parse_municipality(text: str) -> str:
    """全国地方公共団体コード: five digits or six with the check digit; full-width digits accepted."""
    return codes.normalize_municipality_code(nfkc(text))


_ESTABLISHMENT_ID = re.compile(r"^[0-9A-Z]{1,32}$")


@lru_cache(maxsize=65_536)
def parse_establishment_id(text: str) -> str:
    """雇用保険適用事業所番号 as 1234-567890-1 or 12345678901: kept without hyphens, upper case."""
    value = re.sub(r"[\s\-‐－ー−]", "", nfkc(text)).upper()
    if not value:
        raise ValueError("empty establishment id")
    if not _ESTABLISHMENT_ID.match(value):
        raise ValueError("establishment id must be letters and digits (hyphens allowed), at most 32")
    return value


def parse_text(text: str, *, max_length: int, what: str) -> str | None:
    """Free text (names and addresses of establishments): NFKC, trimmed; empty means not given."""
    value = nfkc(text)
    if not value:
        return None
    if len(value) > max_length:
        raise ValueError(f"{what} is longer than {max_length} characters")
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise ValueError(f"{what} contains control characters")
    return value


@lru_cache(maxsize=65_536)
def parse_establishment_name(text: str) -> str | None:
    return parse_text(text, max_length=200, what="establishment name")


@lru_cache(maxsize=65_536)
def parse_establishment_address(text: str) -> str | None:
    return parse_text(text, max_length=300, what="establishment address")
