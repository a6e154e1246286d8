"""Notices written by prefecture and city staff (topic notices.v1, keyed by notice_id)."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, Field

from services.common.codes import ResidenceStatus

from .base import Contract, CountryCode, EstablishmentId, Event, LanguageCode, MunicipalityCode

SourceLanguage = Literal["ja", "en"]


class NoticeCategory(StrEnum):
    IMMIGRATION = "immigration"
    TAX = "tax"
    TRAFFIC = "traffic"
    GARBAGE = "garbage"
    DISASTER = "disaster"
    OTHER = "other"


class Priority(StrEnum):
    NORMAL = "normal"
    #: ignores quiet hours
    EMERGENCY = "emergency"


class AudienceFilter(Contract):
    """Who receives a notice. Each list narrows the audience; an empty list means everyone."""

    cities: tuple[MunicipalityCode, ...] = ()
    nationalities: tuple[CountryCode, ...] = ()
    languages: tuple[LanguageCode, ...] = ()
    residence_statuses: tuple[ResidenceStatus, ...] = ()
    employers: tuple[EstablishmentId, ...] = ()


class NoticeContent(Contract):
    """The source text. Placeholders such as ``{date}`` and ``{city}`` are filled after translation."""

    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=20_000)
    source_language: SourceLanguage
    category: NoticeCategory


class NoticeSubmitted(Event):
    type: Literal["notice.submitted"] = "notice.submitted"
    notice_id: uuid.UUID
    content: NoticeContent
    audience: AudienceFilter = AudienceFilter()
    priority: Priority = Priority.NORMAL
    send_at: AwareDatetime | None = Field(default=None, description="None: as soon as allowed")
    submitted_by: str = Field(min_length=1, max_length=64, description="The staff key's id")
    #: The staff key's municipalities; empty for a prefecture-wide key. The router enforces it again.
    scope_cities: tuple[MunicipalityCode, ...] = ()
