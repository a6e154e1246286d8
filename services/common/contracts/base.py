"""Base classes and field types shared by every contract.

Readers are tolerant: unknown fields are ignored, so a producer may add an optional field without
breaking older consumers. A breaking change raises ``schema_version`` (consumers reject versions they
do not know, and the message goes to the dead-letter topic with that reason) or a new topic (``.v2``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, ClassVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from services.common import codes, languages

#: Namespace for deterministic ids (UUIDv5) derived from the senders' own ids.
GUNMA_NAMESPACE = uuid.UUID("6f1d3c64-8a51-5e0b-9c1e-7a1b3e2c9d40")


def derived_id(*parts: str) -> uuid.UUID:
    """A stable UUIDv5 for the same parts, so a redelivered input yields the same event id."""
    return uuid.uuid5(GUNMA_NAMESPACE, "\x1f".join(parts))


def utcnow() -> datetime:
    return datetime.now(UTC)


class Contract(BaseModel):
    """Immutable value objects; unknown fields are ignored (tolerant reader)."""

    model_config = ConfigDict(frozen=True, extra="ignore", use_enum_values=False)


class Event(Contract):
    """Every message on a topic: a schema version, an id for idempotency and a time."""

    SCHEMA_VERSION: ClassVar[int] = 1

    schema_version: int = Field(default=1, description="Contract version; consumers reject unknown ones.")
    event_id: uuid.UUID = Field(default_factory=uuid.uuid4, description="Unique per event; stable on retry.")
    occurred_at: AwareDatetime = Field(default_factory=utcnow, description="When the fact happened.")

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value != cls.SCHEMA_VERSION:
            raise ValueError(f"unsupported schema_version {value} (this reader knows {cls.SCHEMA_VERSION})")
        return value


def _country(value: str) -> str:
    code = value.upper()
    if not codes.is_country_code(code):
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 code")
    return code


def _language(value: str) -> str:
    if value not in languages.LANGUAGE_CODES:
        raise ValueError(f"unsupported language {value!r}")
    return value


def _municipality(value: str) -> str:
    return codes.normalize_municipality_code(value)


CountryCode = Annotated[str, StringConstraints(min_length=2, max_length=2), AfterValidator(_country)]
LanguageCode = Annotated[str, AfterValidator(_language)]
MunicipalityCode = Annotated[str, AfterValidator(_municipality)]
#: Pseudonymous worker id: hex HMAC-SHA256 of the residence card number under the prefecture's pepper.
WorkerId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
#: LINE user ids are "U" followed by 32 hex digits.
LineUserId = Annotated[str, StringConstraints(pattern=r"^U[0-9a-f]{32}$")]
#: 雇用保険適用事業所番号: 11 digits, often written 1234-567890-1; kept without hyphens, upper case.
EstablishmentId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=32, pattern=r"^[0-9A-Za-z-]+$"),
    AfterValidator(lambda value: value.replace("-", "").upper()),
]
