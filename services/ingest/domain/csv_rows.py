"""CSV extracts of the employment status notifications: which column is which, and one row to one event.

The accepted header names for each field are in :data:`COLUMNS` (Japanese as on the form, English as in
our API); docs/ingest.md shows the same table and a unit test keeps the two in step. Headers match
after NFKC, case folding and dropping spaces, underscores, hyphens, dots and brackets, so
``在留カード番号``, ``Residence card number`` and ``residence_card_number`` are one column.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from . import fields
from .employment import EventKind, Facts, Outgoing, outgoing, row_event_id
from .ids import worker_id


@dataclass(frozen=True, slots=True)
class Column:
    field: str
    english: tuple[str, ...]
    japanese: tuple[str, ...]
    required: bool = False


COLUMNS: tuple[Column, ...] = (
    Column(
        "event_type", ("type", "event_type", "kind"), ("届出種別", "種別", "区分", "異動区分", "届出区分")
    ),
    Column(
        "event_id", ("event_id", "id", "source_event_id"), ("イベントID", "届出番号", "受付番号", "整理番号")
    ),
    Column("reported_at", ("reported_at", "reported_on"), ("届出日", "届出年月日", "受付日", "受付日時")),
    Column(
        "residence_card_number",
        ("residence_card_number", "card_number"),
        ("在留カード番号", "在留カード等番号"),
        required=True,
    ),
    Column(
        "nationality",
        ("nationality", "nationality_region"),
        ("国籍・地域", "国籍", "国籍地域"),
        required=True,
    ),
    Column("residence_status", ("residence_status", "status_of_residence"), ("在留資格",), required=True),
    Column(
        "period_expires_on",
        ("period_expires_on", "period_of_stay_expiry"),
        ("在留期間満了日", "在留期間満了年月日", "在留期限"),
    ),
    Column("birth_year", ("birth_year", "year_of_birth", "date_of_birth"), ("生年", "生年月日")),
    Column("sex", ("sex",), ("性別",)),
    Column(
        "outside_activity_permitted",
        ("outside_activity_permitted", "outside_activity_permission"),
        ("資格外活動許可の有無", "資格外活動許可"),
    ),
    Column("hired_on", ("hired_on", "hire_date"), ("雇入れ年月日", "雇入年月日", "雇入れ日", "雇入日")),
    Column("separated_on", ("separated_on", "separation_date"), ("離職年月日", "離職日")),
    Column("changed_on", ("changed_on", "change_date"), ("変更年月日", "変更日")),
    Column("event_date", ("event_date",), ("異動年月日", "年月日")),
    Column(
        "establishment_id",
        ("establishment_id", "establishment_number"),
        ("雇用保険適用事業所番号", "適用事業所番号", "事業所番号"),
        required=True,
    ),
    Column("establishment_name", ("establishment_name",), ("事業所名称", "事業所の名称", "事業所名")),
    Column("establishment_address", ("establishment_address",), ("事業所所在地", "事業所の所在地", "所在地")),
    Column(
        "municipality_code",
        ("municipality_code", "city_code"),
        ("市区町村コード", "全国地方公共団体コード", "地方公共団体コード", "団体コード"),
        required=True,
    ),
)

#: Columns with names of people. The system does not keep names: these are read past, never stored.
PERSONAL_COLUMNS: tuple[str, ...] = (
    "name",
    "full_name",
    "worker_name",
    "name_roman",
    "first_name",
    "last_name",
    "氏名",
    "氏名（ローマ字）",
    "ローマ字氏名",
    "フリガナ",
    "氏名カナ",
)

_DATE_FIELDS = ("hired_on", "separated_on", "changed_on")
_KIND_BY_DATE_FIELD = {kind.date_field: kind for kind in EventKind}

_KINDS: dict[str, EventKind] = {}
for _kind, _words in {
    EventKind.HIRED: ("hired", "hire", "worker.hired", "雇入れ", "雇入", "雇用", "採用", "入職"),
    EventKind.SEPARATED: ("separated", "separation", "worker.separated", "離職", "退職"),
    EventKind.RESIDENCE_CHANGED: (
        "residence_changed",
        "residence.changed",
        "changed",
        "change",
        "変更",
        "在留資格変更",
        "在留期間更新",
        "更新",
    ),
}.items():
    for _word in _words:
        _KINDS[_word] = _kind

_HEADER_NOISE = re.compile(r"[\s_\-・.()（）/]")


def header_key(name: str) -> str:
    return _HEADER_NOISE.sub("", fields.nfkc(name).casefold())


_FIELD_BY_KEY: dict[str, str] = {}
for _column in COLUMNS:
    for _alias in (*_column.english, *_column.japanese):
        _FIELD_BY_KEY[header_key(_alias)] = _column.field
_PERSONAL_KEYS = frozenset(header_key(name) for name in PERSONAL_COLUMNS)


class HeaderProblem(NamedTuple):
    column: str
    reason: str


class HeaderError(ValueError):
    """The header cannot be used: nothing in the file is processed."""

    def __init__(self, problems: list[HeaderProblem]) -> None:
        super().__init__("; ".join(f"{p.column}: {p.reason}" for p in problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Layout:
    """Where each field is in the rows of one file."""

    headers: tuple[str, ...]
    index: dict[str, int]
    personal: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()

    def column(self, field_name: str) -> str:
        """The header as the file wrote it, for reports."""
        position = self.index.get(field_name)
        return self.headers[position] if position is not None else field_name

    @property
    def mapping(self) -> dict[str, str]:
        return {self.headers[i]: name for name, i in self.index.items()}


def resolve_header(header: Sequence[str]) -> Layout:
    """Map the header to fields, or raise :class:`HeaderError` naming every problem."""
    headers = tuple(h.strip() for h in header)
    if headers and headers[0].startswith("\ufeff"):  # a BOM the decoder did not remove
        headers = (headers[0][1:], *headers[1:])
    index: dict[str, int] = {}
    problems: list[HeaderProblem] = []
    personal: list[str] = []
    unknown: list[str] = []
    for position, name in enumerate(headers):
        key = header_key(name)
        if not key:
            if name:
                unknown.append(name)
            continue
        if key in _PERSONAL_KEYS:
            personal.append(name)
            continue
        field_name = _FIELD_BY_KEY.get(key)
        if field_name is None:
            unknown.append(name)
            continue
        if field_name in index:
            problems.append(
                HeaderProblem(
                    name, f"a second column for {field_name} (the first is {headers[index[field_name]]!r})"
                )
            )
            continue
        index[field_name] = position
    for column in COLUMNS:
        if column.required and column.field not in index:
            names = " / ".join((*column.japanese[:1], *column.english[:1]))
            problems.append(HeaderProblem(names, f"required column for {column.field} is missing"))
    if not any(name in index for name in (*_DATE_FIELDS, "event_date")):
        problems.append(
            HeaderProblem(
                "雇入れ年月日 / 離職年月日 / hired_on / separated_on",
                "no date column: give hired_on, separated_on, changed_on or event_type with event_date",
            )
        )
    if "event_date" in index and "event_type" not in index:
        problems.append(HeaderProblem(headers[index["event_date"]], "event_date needs an event_type column"))
    if problems:
        raise HeaderError(problems)
    return Layout(headers, index, tuple(personal), tuple(unknown))


class RowError(NamedTuple):
    column: str
    field: str
    reason: str


#: Field slots in a row after :meth:`RowConverter.convert` pads it; absent columns read as "".
_SLOTS = tuple(column.field for column in COLUMNS)


class RowConverter:
    """Turns the rows of one file into outgoing events, or into the reasons they cannot be.

    Written for speed (a million rows per upload): indices are resolved once per file, parsers of
    repeating values are cached, and the error path does the extra work, not the happy path.
    """

    def __init__(self, layout: Layout, *, source: str, pepper: bytes, default_reported_at: str) -> None:
        self.layout = layout
        self.source = source
        self.pepper = pepper
        #: ISO time used for rows without a reported_at value: the upload's start.
        self.default_reported_at = default_reported_at
        self._width = len(layout.headers)
        # Absent columns point just past the row, at the "" that convert() appends.
        self._at = {name: layout.index.get(name, self._width) for name in _SLOTS}
        self._has_type = "event_type" in layout.index

    def _error(self, errors: list[RowError] | None, name: str, reason: str) -> list[RowError]:
        errors = errors if errors is not None else []
        errors.append(RowError(self.layout.column(name), name, reason))
        return errors

    def convert(self, row: list[str], *, check_replacement: bool = False) -> Outgoing | list[RowError]:
        """One record's fields (the list is padded in place). ``check_replacement``: the text held
        undecodable bytes (U+FFFD) somewhere; look for them."""
        width = self._width
        count = len(row)
        if count > width:
            if any(cell.strip() for cell in row[width:]):
                return [
                    RowError(
                        "(row)", "(row)", f"{count} fields but the header has {width} (an unquoted comma?)"
                    )
                ]
            del row[width:]
            count = width
        row.extend([""] * (width + 1 - count))
        at = self._at
        errors: list[RowError] | None = None
        if check_replacement:
            for slot, position in self.layout.index.items():
                if "\ufffd" in row[position]:
                    errors = self._error(errors, slot, "bytes that are not valid in the file's encoding")
            if errors:
                return errors

        wid = ""
        card = row[at["residence_card_number"]]
        try:
            wid = worker_id(card, self.pepper)
        except ValueError as error:  # the message never contains the number
            errors = self._error(errors, "residence_card_number", str(error) if card.strip() else "missing")

        values: dict[str, str] = {}
        for name, parse in _REQUIRED:
            text = row[at[name]]
            try:
                values[name] = parse(text)
            except ValueError as error:
                errors = self._error(errors, name, str(error) if text.strip() else "missing")

        expires: str | None = None
        text = row[at["period_expires_on"]]
        if text.strip():
            try:
                expires = _iso_date(text)
            except ValueError as error:
                errors = self._error(errors, "period_expires_on", str(error))
        birth_year: int | None = None
        text = row[at["birth_year"]]
        if text.strip():
            try:
                birth_year = fields.parse_birth_year(text)
            except ValueError as error:
                errors = self._error(errors, "birth_year", str(error))
        sex: str | None = None
        try:
            sex = fields.parse_sex(row[at["sex"]])
        except ValueError as error:
            errors = self._error(errors, "sex", str(error))
        outside: bool | None = None
        try:
            outside = fields.parse_flag(row[at["outside_activity_permitted"]])
        except ValueError as error:
            errors = self._error(errors, "outside_activity_permitted", str(error))
        establishment_name: str | None = None
        try:
            establishment_name = fields.parse_establishment_name(row[at["establishment_name"]])
        except ValueError as error:
            errors = self._error(errors, "establishment_name", str(error))
        address: str | None = None
        try:
            address = fields.parse_establishment_address(row[at["establishment_address"]])
        except ValueError as error:
            errors = self._error(errors, "establishment_address", str(error))

        reported_at = self.default_reported_at
        text = row[at["reported_at"]]
        if text.strip():
            try:
                reported_at = _iso_datetime(text)
            except ValueError as error:
                errors = self._error(errors, "reported_at", str(error))

        event_id = row[at["event_id"]].strip()
        if event_id and (len(event_id) > 128 or not event_id.isprintable()):
            errors = self._error(errors, "event_id", "must be at most 128 printable characters")

        kind, event_date, errors = self._kind_and_date(row, errors)
        if errors or kind is None or event_date is None:
            return errors or []
        facts = Facts(
            kind=kind,
            worker_id=wid,
            nationality=values["nationality"],
            residence_status=values["residence_status"],
            event_date=event_date,
            establishment_id=values["establishment_id"],
            municipality_code=values["municipality_code"],
            establishment_name=establishment_name,
            establishment_address=address,
            period_expires_on=expires,
            birth_year=birth_year,
            sex=sex,
            outside_activity_permitted=outside,
        )
        fingerprint = facts.digest()
        return outgoing(
            facts,
            source=self.source,
            source_event_id=event_id or row_event_id(fingerprint),
            reported_at=reported_at,
            fingerprint=fingerprint,
        )

    def _date(
        self, row: list[str], name: str, errors: list[RowError] | None
    ) -> tuple[str, list[RowError] | None]:
        """The ISO date in column ``name``; "" if empty or wrong (then with an error)."""
        text = row[self._at[name]]
        if not text.strip():
            return "", errors
        try:
            return _iso_date(text), errors
        except ValueError as error:
            return "", self._error(errors, name, str(error))

    def _kind_and_date(
        self, row: list[str], errors: list[RowError] | None
    ) -> tuple[EventKind | None, str | None, list[RowError] | None]:
        if self._has_type:
            written = row[self._at["event_type"]]
            kind = _kind_of(written)
            if kind is None:
                reason = (
                    f"unknown event type {written!r} "
                    "(write hired/雇入れ, separated/離職 or residence_changed/変更)"
                    if written.strip()
                    else "missing"
                )
                return None, None, self._error(errors, "event_type", reason)
            name = kind.date_field
            if kind.date_field not in self.layout.index or not row[self._at[name]].strip():
                name = "event_date"
            if not row[self._at[name]].strip():
                return (
                    None,
                    None,
                    self._error(errors, kind.date_field, f"missing (a {kind.value} row needs its date)"),
                )
            when, errors = self._date(row, name, errors)
            return kind, when or None, errors
        given = [name for name in _DATE_FIELDS if row[self._at[name]].strip()]
        if len(given) != 1:
            reason = "give exactly one of hired_on, separated_on, changed_on, or an event_type column"
            return None, None, self._error(errors, "hired_on" if not given else given[1], reason)
        when, errors = self._date(row, given[0], errors)
        return _KIND_BY_DATE_FIELD[given[0]], when or None, errors


@lru_cache(maxsize=256)
def _kind_of(written: str) -> EventKind | None:
    return _KINDS.get(fields.nfkc(written).lower())


@lru_cache(maxsize=65_536)
def _iso_date(text: str) -> str:
    return fields.parse_date(text).isoformat()


@lru_cache(maxsize=4096)
def _iso_datetime(text: str) -> str:
    return fields.parse_datetime(text).isoformat()


_REQUIRED: tuple[tuple[str, Callable[[str], str]], ...] = (
    ("nationality", fields.parse_nationality),
    ("residence_status", fields.parse_status_code),
    ("establishment_id", fields.parse_establishment_id),
    ("municipality_code", fields.parse_municipality),
)
