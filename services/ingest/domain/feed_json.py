"""The JSON employment feed: what a feed sends, validated one event at a time.

Values may be written as in the CSV (era dates, labels, full-width digits); the same parsers read them.
The residence card number is replaced by its HMAC while validating (the pepper comes in the validation
context), so a validated event never holds the number. Unknown fields are refused, so a typo does not
silently drop data; names in particular are refused with their own reason.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationInfo,
    field_validator,
)

from . import fields
from .csv_rows import PERSONAL_COLUMNS, header_key
from .employment import EventKind, Facts
from .ids import worker_id

_PERSONAL_KEYS = frozenset(header_key(name) for name in PERSONAL_COLUMNS)
NAMES_REFUSED = "names are not accepted: the system does not keep them; leave this field out"


def is_name_field(name: str) -> bool:
    return header_key(name) in _PERSONAL_KEYS


def _text(parse: Any) -> Any:
    """Run ``parse`` on strings; let other types through to the field's own validation."""

    def validate(value: Any) -> Any:
        if isinstance(value, str):
            return parse(value)
        return value

    return BeforeValidator(validate)


def _code_text(value: Any) -> Any:
    # Municipality codes and establishment numbers are sometimes sent as JSON numbers.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


FeedDate = Annotated[date, _text(fields.parse_date)]
Nationality = Annotated[str, _text(fields.parse_nationality)]
Status = Annotated[str, _text(lambda v: fields.parse_status(v).value)]
Municipality = Annotated[str, BeforeValidator(_code_text), _text(fields.parse_municipality)]
EstablishmentNumber = Annotated[str, BeforeValidator(_code_text), _text(fields.parse_establishment_id)]


class EstablishmentIn(BaseModel):
    """The workplace (事業所)."""

    model_config = ConfigDict(extra="forbid")

    establishment_id: EstablishmentNumber = Field(
        description="雇用保険適用事業所番号 (1234-567890-1) or another id"
    )
    name: Annotated[str | None, _text(fields.parse_establishment_name)] = Field(default=None, max_length=200)
    address: Annotated[str | None, _text(fields.parse_establishment_address)] = Field(
        default=None, max_length=300
    )
    municipality_code: Municipality = Field(description="全国地方公共団体コード, 5 or 6 digits")


class _EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_id: str = Field(min_length=1, max_length=128, description="The feed's own id of this event")
    reported_at: Annotated[AwareDatetime, _text(fields.parse_datetime)] = Field(
        description="The feed's time for the event (ISO 8601; without an offset it is Japan time)"
    )
    residence_card_number: str = Field(
        description="在留カード番号 (AB12345678CD). Replaced by a keyed hash at once; never stored, echoed.",
        json_schema_extra={"writeOnly": True},
    )
    nationality: Nationality = Field(description="ISO 3166-1 alpha-2 (VN), or the country's name (ベトナム)")
    residence_status: Status = Field(
        description="在留資格: a code (specified_skilled_worker_1) or label (特定技能1号)"
    )
    period_expires_on: FeedDate | None = Field(default=None, description="在留期間満了日")
    birth_year: Annotated[int | None, _text(fields.parse_birth_year)] = Field(default=None, ge=1900, le=2100)
    sex: Annotated[Literal["male", "female"] | None, _text(fields.parse_sex)] = None
    outside_activity_permitted: Annotated[bool | None, _text(fields.parse_flag)] = Field(
        default=None, description="資格外活動許可の有無"
    )
    establishment: EstablishmentIn

    @field_validator("event_id")
    @classmethod
    def _printable(cls, value: str) -> str:
        if not value.isprintable() or value != value.strip():
            raise ValueError("must be printable, without surrounding spaces")
        return value

    @field_validator("residence_card_number")
    @classmethod
    def _pseudonymise(cls, value: str, info: ValidationInfo) -> str:
        pepper = (info.context or {}).get("pepper")
        if not pepper:
            raise RuntimeError("validating a feed event needs the pepper in the context")
        return worker_id(value, pepper)  # ValueError without the number in its message

    @property
    def worker_id(self) -> str:
        return self.residence_card_number  # after validation it holds the HMAC, not the number

    def facts(self) -> Facts:
        raise NotImplementedError  # each event type knows its date

    def _facts(self, kind: EventKind, on: date) -> Facts:
        return Facts(
            kind=kind,
            worker_id=self.worker_id,
            nationality=self.nationality,
            residence_status=self.residence_status,
            event_date=on.isoformat(),
            establishment_id=self.establishment.establishment_id,
            municipality_code=self.establishment.municipality_code,
            establishment_name=self.establishment.name,
            establishment_address=self.establishment.address,
            period_expires_on=self.period_expires_on.isoformat() if self.period_expires_on else None,
            birth_year=self.birth_year,
            sex=self.sex,
            outside_activity_permitted=self.outside_activity_permitted,
        )


class HiredIn(_EventIn):
    """雇入れ: the worker started at the establishment."""

    type: Literal["hired"]
    hired_on: FeedDate = Field(description="雇入れ年月日")

    def facts(self) -> Facts:
        return self._facts(EventKind.HIRED, self.hired_on)


class SeparatedIn(_EventIn):
    """離職: the worker left the establishment."""

    type: Literal["separated"]
    separated_on: FeedDate = Field(description="離職年月日")

    def facts(self) -> Facts:
        return self._facts(EventKind.SEPARATED, self.separated_on)


class ResidenceChangedIn(_EventIn):
    """The status of residence or the period of stay changed while employed."""

    type: Literal["residence_changed"]
    changed_on: FeedDate = Field(description="変更年月日")

    def facts(self) -> Facts:
        return self._facts(EventKind.RESIDENCE_CHANGED, self.changed_on)


EmploymentEventIn = Annotated[HiredIn | SeparatedIn | ResidenceChangedIn, Field(discriminator="type")]
EVENT = TypeAdapter(EmploymentEventIn)


class EmploymentBatchIn(BaseModel):
    """A batch of events (the request body of POST /v1/employment-events)."""

    events: list[EmploymentEventIn] = Field(description="At most GUNMA_INGEST_FEED_BATCH_MAX events (1000)")
