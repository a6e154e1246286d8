"""Employer registration codes: issued and revoked per establishment, looked up by the conversation.

An employer prints its code (``GM-7KQ2-9XPJ``) or a QR code of a LINE deep link that makes the worker's
phone send the code to the prefecture's account as a message. The conversation (``LinkEmployer``)
looks the code up here and links the subscriber to the establishment and its city.

Used by the router's HTTP API (``codes_api.py``) and the ops CLI (``gunma codes``), so both behave
the same. Codes are made with ``dialogue.employer_code.generate()`` (cryptographically random, with a
check symbol); the example code shown in the conversation's texts is never issued.
"""

from __future__ import annotations

import io
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import segno

from services.common.codes import normalize_municipality_code
from services.common.db import Connection

from .dialogue import (
    EffectResult,
    EmployerCodeAccepted,
    EmployerCodeRevoked,
    EmployerCodeUnknown,
    employer_code,
)
from .dialogue.config import EXAMPLE_CODE_BODY

#: Establishments entered by staff before the feed knows them: older than any report, so the feed wins.
ENTERED_REPORTED_AT = "1970-01-01T00:00:00+00:00"
ENTERED_EVENT_ID = uuid.UUID(int=0)


class CodeError(ValueError):
    """A refused request: ``status`` (HTTP), the ``field`` it concerns and why."""

    def __init__(self, status: int, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.status = status
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Establishment:
    establishment_id: str
    name: str | None
    municipality_code: str
    city_name_ja: str | None
    city_name_en: str | None
    #: reported by the government feed (False: entered by whoever issued its first code)
    from_feed: bool


@dataclass(frozen=True, slots=True)
class RegistrationCode:
    code: str
    establishment: Establishment
    note: str | None
    issued_at: datetime
    issued_by: str
    revoked_at: datetime | None
    revoked_by: str | None
    revoke_reason: str | None
    registrations: int
    last_used_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def deep_link(basic_id: str, text: str) -> str:
    """LINE's URL that opens the chat with the account (adding it first if needed) with ``text`` typed
    in the input field: ``https://line.me/R/oaMessage/%40abc1234d/?GM-7KQ2-9XPJ``."""
    return f"https://line.me/R/oaMessage/{quote(basic_id, safe='')}/?{quote(text, safe='')}"


def qr_svg(link: str, *, title: str | None = None) -> bytes:
    """A printable QR code (SVG, error correction M: survives a smudged poster) of ``link``."""
    qr = segno.make(link, error="m", micro=False)
    out = io.BytesIO()
    qr.save(out, kind="svg", scale=8, border=4, title=title, xmldecl=True)
    return out.getvalue()


def parse(text: str, prefix: str) -> str | None:
    """The 8 canonical symbols of a code written with or without prefix and hyphens; None if invalid."""
    found = employer_code.find(text, prefix, bare=True)
    return found.body if found is not None and found.valid else None


_ESTABLISHMENT = """
SELECT e.establishment_id, e.name, e.municipality_code,
       e.entered_by IS NULL OR e.reported_at > 'epoch' AS from_feed,
       COALESCE(m.name_ja, p.name_ja) AS city_name_ja, COALESCE(m.name_en, p.name_en) AS city_name_en
FROM establishments e
LEFT JOIN municipalities m ON m.code = e.municipality_code
LEFT JOIN prefectures p ON p.code = left(e.municipality_code, 2)
"""


def _establishment(row: Any) -> Establishment:
    return Establishment(
        establishment_id=row["establishment_id"],
        name=row["name"],
        municipality_code=row["municipality_code"],
        city_name_ja=row["city_name_ja"],
        city_name_en=row["city_name_en"],
        from_feed=bool(row["from_feed"]),
    )


async def find_establishment(conn: Connection, establishment_id: str) -> Establishment | None:
    row = await conn.fetchrow(_ESTABLISHMENT + " WHERE e.establishment_id = $1", establishment_id)
    return _establishment(row) if row is not None else None


async def enter_establishment(
    conn: Connection,
    establishment_id: str,
    *,
    name: str,
    municipality_code: str,
    address: str | None,
    by: str,
) -> Establishment:
    """Add an establishment the feed has not reported yet (the feed's first report replaces it)."""
    try:
        city = normalize_municipality_code(municipality_code)
    except ValueError as error:
        raise CodeError(422, "establishment.municipality_code", str(error)) from None
    await conn.execute(
        """
        INSERT INTO establishments (establishment_id, name, address, municipality_code, reported_at, event_id,
                                    entered_by)
        VALUES ($1, $2, $3, $4, $5::timestamptz, $6, $7)
        ON CONFLICT (establishment_id) DO NOTHING
        """,
        establishment_id,
        name,
        address,
        city,
        datetime.fromisoformat(ENTERED_REPORTED_AT),
        ENTERED_EVENT_ID,
        by,
    )
    found = await find_establishment(conn, establishment_id)
    assert found is not None
    return found


_CODES = """
SELECT c.*, e.establishment_id, e.name, e.municipality_code,
       e.entered_by IS NULL OR e.reported_at > 'epoch' AS from_feed,
       COALESCE(m.name_ja, p.name_ja) AS city_name_ja, COALESCE(m.name_en, p.name_en) AS city_name_en
FROM registration_codes c
JOIN establishments e ON e.establishment_id = c.establishment_id
LEFT JOIN municipalities m ON m.code = e.municipality_code
LEFT JOIN prefectures p ON p.code = left(e.municipality_code, 2)
"""


def _code(row: Any) -> RegistrationCode:
    return RegistrationCode(
        code=row["code"],
        establishment=_establishment(row),
        note=row["note"],
        issued_at=row["issued_at"],
        issued_by=row["issued_by"],
        revoked_at=row["revoked_at"],
        revoked_by=row["revoked_by"],
        revoke_reason=row["revoke_reason"],
        registrations=row["registrations"],
        last_used_at=row["last_used_at"],
    )


async def get(conn: Connection, code: str) -> RegistrationCode | None:
    row = await conn.fetchrow(_CODES + " WHERE c.code = $1", code)
    return _code(row) if row is not None else None


async def list_codes(
    conn: Connection, establishment_id: str, *, include_revoked: bool = False
) -> list[RegistrationCode]:
    rows = await conn.fetch(
        _CODES
        + " WHERE c.establishment_id = $1 AND ($2 OR c.revoked_at IS NULL) ORDER BY c.issued_at DESC, c.code",
        establishment_id,
        include_revoked,
    )
    return [_code(r) for r in rows]


async def issue(
    conn: Connection,
    establishment_id: str,
    *,
    by: str,
    now: datetime,
    note: str | None = None,
    revoke_previous: bool = False,
    randbelow: Callable[[int], int] = secrets.randbelow,
) -> RegistrationCode:
    """A new code for a known establishment (``revoke_previous``: its other active codes are revoked)."""
    if await find_establishment(conn, establishment_id) is None:
        raise CodeError(404, "establishment_id", f"no establishment {establishment_id} in the registry")
    if revoke_previous:
        await conn.execute(
            """
            UPDATE registration_codes SET revoked_at = $2, revoked_by = $3, revoke_reason = 'replaced'
            WHERE establishment_id = $1 AND revoked_at IS NULL
            """,
            establishment_id,
            now,
            by,
        )
    for _ in range(10):  # 3.4e10 codes: a collision is rare, ten in a row means something is wrong
        body = employer_code.generate(randbelow)
        if body == EXAMPLE_CODE_BODY:
            continue
        inserted = await conn.fetchval(
            """
            INSERT INTO registration_codes (code, establishment_id, note, issued_at, issued_by)
            VALUES ($1, $2, $3, $4, $5) ON CONFLICT (code) DO NOTHING RETURNING code
            """,
            body,
            establishment_id,
            note,
            now,
            by,
        )
        if inserted is not None:
            found = await get(conn, body)
            assert found is not None
            return found
    raise RuntimeError("could not find an unused registration code in 10 attempts")


async def revoke(
    conn: Connection, code: str, *, by: str, now: datetime, reason: str | None = None
) -> RegistrationCode | None:
    """Revoke a code (revoking it again changes nothing); None when there is no such code."""
    await conn.execute(
        """
        UPDATE registration_codes SET revoked_at = $2, revoked_by = $3, revoke_reason = $4
        WHERE code = $1 AND revoked_at IS NULL
        """,
        code,
        now,
        by,
        reason,
    )
    return await get(conn, code)


@dataclass(frozen=True, slots=True)
class Lookup:
    """What the conversation gets for a code: the answer to render, and where to link on success."""

    result: EffectResult
    establishment_id: str | None = None
    municipality_code: str | None = None


async def lookup(conn: Connection, code: str) -> Lookup:
    found = await get(conn, code)
    if found is None:
        return Lookup(EmployerCodeUnknown(code))
    if not found.active:
        return Lookup(EmployerCodeRevoked(code))
    place = found.establishment
    city = place.city_name_ja or place.municipality_code
    return Lookup(
        EmployerCodeAccepted(code, city, place.city_name_en),
        establishment_id=place.establishment_id,
        municipality_code=place.municipality_code,
    )


async def count_registration(conn: Connection, code: str, now: datetime) -> None:
    await conn.execute(
        "UPDATE registration_codes SET registrations = registrations + 1, last_used_at = $2 WHERE code = $1",
        code,
        now,
    )
