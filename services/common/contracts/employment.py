"""Employment events from the government feed (topic employment.v1, keyed by worker_id).

Fields follow the foreign-worker employment status notification (外国人雇用状況届出). Names are not
carried; the residence card number only as ``worker_id`` (a keyed HMAC made at ingest).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field

from services.common.codes import ResidenceStatus

from .base import Contract, CountryCode, EstablishmentId, Event, MunicipalityCode, WorkerId


class Establishment(Contract):
    """The workplace (事業所) as the employer reported it."""

    establishment_id: EstablishmentId = Field(description="雇用保険適用事業所番号 or another stable id")
    name: str | None = Field(default=None, max_length=200)
    address: str | None = Field(default=None, max_length=300)
    municipality_code: MunicipalityCode = Field(description="全国地方公共団体コード (JIS X 0402), 6 digits")


class _EmploymentFacts(Event):
    worker_id: WorkerId
    source: str = Field(min_length=1, max_length=64, description="Which feed sent it")
    source_event_id: str = Field(min_length=1, max_length=128, description="The feed's own event id")
    reported_at: AwareDatetime = Field(description="The feed's own time for the event")
    establishment: Establishment
    nationality: CountryCode
    residence_status: ResidenceStatus
    period_expires_on: date | None = Field(default=None, description="在留期間満了日")
    birth_year: int | None = Field(default=None, ge=1900, le=2100)
    sex: Literal["male", "female"] | None = None
    outside_activity_permitted: bool | None = Field(default=None, description="資格外活動許可の有無")


class WorkerHired(_EmploymentFacts):
    type: Literal["worker.hired"] = "worker.hired"
    hired_on: date


class WorkerSeparated(_EmploymentFacts):
    type: Literal["worker.separated"] = "worker.separated"
    separated_on: date


class ResidenceStatusChanged(_EmploymentFacts):
    """Status of residence or period of stay changed while employed."""

    type: Literal["residence.changed"] = "residence.changed"
    changed_on: date


EmploymentEvent = Annotated[
    WorkerHired | WorkerSeparated | ResidenceStatusChanged, Field(discriminator="type")
]
