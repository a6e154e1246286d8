"""Staff notices as staff send them: the text, its placeholders, the audience, and the key's scope.

Placeholders follow Python's ``str.format`` (the router and translate fill them that way): ``{date}``,
``{city}``, ``{employer}``; a literal brace is written twice (``{{``, ``}}``). Anything else — an
unknown name, a format spec, a brace that does not close — is refused, naming it and where it is.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from services.common.contracts import NoticeCategory, Priority
from services.common.contracts.base import LanguageCode

from .feed_json import EstablishmentNumber, Municipality, Nationality, Status

#: Values the router can give every recipient of a notice (it fills them per message).
KNOWN_PLACEHOLDERS: tuple[str, ...] = ("date", "city", "employer")
#: How far in the past send_at may be (a client's clock, the request's travel) before it is refused.
SEND_AT_TOLERANCE = timedelta(seconds=60)
SEND_AT_HORIZON = timedelta(days=366)


def check_placeholders(text: str) -> str:
    """``text`` unchanged, or ValueError naming the bad placeholder and its position (from 1)."""
    position = 0
    length = len(text)
    while position < length:
        char = text[position]
        if char == "{":
            if text.startswith("{{", position):
                position += 2
                continue
            end = text.find("}", position + 1)
            brace = text.find("{", position + 1)
            if end < 0 or (0 <= brace < end):
                raise ValueError(
                    f"'{{' at position {position + 1} is not closed (write {{{{ for a literal brace)"
                )
            name = text[position + 1 : end]
            if name not in KNOWN_PLACEHOLDERS:
                known = ", ".join("{" + n + "}" for n in KNOWN_PLACEHOLDERS)
                raise ValueError(f"unknown placeholder {{{name}}} at position {position + 1}; use {known}")
            position = end + 1
            continue
        if char == "}":
            if text.startswith("}}", position):
                position += 2
                continue
            raise ValueError(
                f"'}}' at position {position + 1} has no opening brace (write }}}} for a literal brace)"
            )
        position += 1
    return text


class AudienceIn(BaseModel):
    """Who receives the notice. Each list narrows it; an empty list means no restriction."""

    model_config = ConfigDict(extra="forbid")

    cities: list[Municipality] = Field(
        default_factory=list,
        max_length=2000,
        description="全国地方公共団体コード. A city-scoped key may only name its own cities; "
        "empty from such a key means all of its cities.",
    )
    nationalities: list[Nationality] = Field(default_factory=list, max_length=300)
    languages: list[LanguageCode] = Field(default_factory=list, max_length=50)
    residence_statuses: list[Status] = Field(default_factory=list, max_length=50)
    employers: list[EstablishmentNumber] = Field(default_factory=list, max_length=10_000)


class NoticeIn(BaseModel):
    """A notice as staff write it (POST /v1/notices)."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=20_000, description="Placeholders: {date}, {city}, {employer}")
    source_language: Literal["ja", "en"]
    category: NoticeCategory
    audience: AudienceIn = Field(default_factory=AudienceIn)
    priority: Priority = Priority.NORMAL
    send_at: AwareDatetime | None = Field(
        default=None, description="In the future, or null for as soon as allowed"
    )

    @field_validator("title", "body")
    @classmethod
    def _placeholders(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return check_placeholders(value)

    def send_at_problem(self, now: datetime) -> str | None:
        if self.send_at is None:
            return None
        if self.send_at < now - SEND_AT_TOLERANCE:
            return "must be in the future (or null to send as soon as allowed)"
        if self.send_at > now + SEND_AT_HORIZON:
            return "must be within a year"
        return None


def scoped_cities(wanted: list[str], key_cities: tuple[str, ...]) -> tuple[tuple[str, ...], list[int]]:
    """The audience's cities under the key's scope, and the indices of cities outside it.

    A prefecture-wide key (no cities) targets what it names. A city-scoped key that names no city
    targets all of its cities ("my cities") — never the whole prefecture.
    """
    if not key_cities:
        return tuple(dict.fromkeys(wanted)), []
    if not wanted:
        return tuple(sorted(key_cities)), []
    allowed = set(key_cities)
    outside = [index for index, city in enumerate(wanted) if city not in allowed]
    return tuple(dict.fromkeys(wanted)), outside
