"""Employment events from the feeds, normalized, and their serialized form for the outbox.

The JSON feed and the CSV upload both end in :class:`Facts`; :func:`outgoing` turns facts into the
``employment.v1`` record (key = worker id, value = the contract's JSON). The CSV path builds that JSON
directly instead of through pydantic, for speed; ``tests/unit/ingest`` validates its output against the
contracts (``WorkerHired`` and siblings), so the two cannot drift apart silently.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

import orjson

from . import ids

SCHEMA_VERSION = 1


class EventKind(StrEnum):
    HIRED = "hired"
    SEPARATED = "separated"
    RESIDENCE_CHANGED = "residence_changed"

    @property
    def contract_type(self) -> str:
        return _CONTRACT_TYPE[self]

    @property
    def date_field(self) -> str:
        return _DATE_FIELD[self]


_CONTRACT_TYPE = {
    EventKind.HIRED: "worker.hired",
    EventKind.SEPARATED: "worker.separated",
    EventKind.RESIDENCE_CHANGED: "residence.changed",
}
_DATE_FIELD = {
    EventKind.HIRED: "hired_on",
    EventKind.SEPARATED: "separated_on",
    EventKind.RESIDENCE_CHANGED: "changed_on",
}


class Facts(NamedTuple):
    """One notification (届出), normalized. Dates are ISO strings; no name, no card number.

    A named tuple rather than a dataclass: a million of them are built per upload.
    """

    kind: EventKind
    worker_id: str
    nationality: str
    residence_status: str
    event_date: str
    establishment_id: str
    municipality_code: str
    establishment_name: str | None = None
    establishment_address: str | None = None
    period_expires_on: str | None = None
    birth_year: int | None = None
    sex: str | None = None
    outside_activity_permitted: bool | None = None

    def digest(self) -> bytes:
        """The same facts give the same 16 bytes, however they were written (CSV, JSON, era dates)."""
        return ids.digest(
            self.kind.value,
            self.worker_id,
            self.nationality,
            self.residence_status,
            self.event_date,
            self.establishment_id,
            self.municipality_code,
            self.establishment_name or "",
            self.establishment_address or "",
            self.period_expires_on or "",
            "" if self.birth_year is None else str(self.birth_year),
            self.sex or "",
            "" if self.outside_activity_permitted is None else str(self.outside_activity_permitted),
        )


def row_event_id(fingerprint: bytes) -> str:
    """The feed event id of a row that has none: a digest of its normalized content."""
    return "sha256:" + fingerprint.hex()


class Outgoing(NamedTuple):
    """An accepted input, ready for the dedupe table and the outbox."""

    source_event_id: str
    event_id: str
    fingerprint: bytes
    key: bytes
    event_type: str
    payload: bytes


def event_id_for(source: str, source_event_id: str) -> str:
    """Stable: the same feed event gives the same event id on every retry."""
    return ids.derived_id("employment", source, source_event_id)


def outgoing(
    facts: Facts,
    *,
    source: str,
    source_event_id: str,
    reported_at: str,
    fingerprint: bytes | None = None,
) -> Outgoing:
    """The employment.v1 record for these facts. ``reported_at``: ISO 8601 with an offset."""
    fingerprint = fingerprint if fingerprint is not None else facts.digest()
    event_id = ids.derived_id("employment", source, source_event_id)
    contract_type, date_field = _KIND_NAMES[facts.kind]
    payload = orjson.dumps(
        {
            "type": contract_type,
            "schema_version": SCHEMA_VERSION,
            "event_id": event_id,
            "occurred_at": reported_at,
            "worker_id": facts.worker_id,
            "source": source,
            "source_event_id": source_event_id,
            "reported_at": reported_at,
            "establishment": {
                "establishment_id": facts.establishment_id,
                "name": facts.establishment_name,
                "address": facts.establishment_address,
                "municipality_code": facts.municipality_code,
            },
            "nationality": facts.nationality,
            "residence_status": facts.residence_status,
            "period_expires_on": facts.period_expires_on,
            "birth_year": facts.birth_year,
            "sex": facts.sex,
            "outside_activity_permitted": facts.outside_activity_permitted,
            date_field: facts.event_date,
        }
    )
    return Outgoing(source_event_id, event_id, fingerprint, facts.worker_id.encode(), contract_type, payload)


_KIND_NAMES = {kind: (kind.contract_type, kind.date_field) for kind in EventKind}
