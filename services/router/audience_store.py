"""The audience query: one SQL predicate over ``subscribers`` shared by snapshots and counts.

Only the subscribers table is read (the linked employment record's values are already copied onto
it), so a million-subscriber audience is one sequential scan.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.common import languages
from services.common.db import Connection

from .domain.audience import Audience

#: How many parameters :func:`predicate` takes.
PARAMETERS = 8


def predicate(first: int) -> str:
    """The WHERE clause over ``subscribers s``, with parameters ``$first`` .. ``$first+7``
    in the order of :func:`parameters`."""
    p = [f"${first + i}" for i in range(PARAMETERS)]
    cities, nationalities, langs, statuses, employers, category, fallback, supported = p
    # Only languages the system offers: anything else could never be rendered or sent.
    return f"""
        s.followed AND s.unreachable_at IS NULL AND s.stopped_at IS NULL
        AND COALESCE(s.language, {fallback}::text) = ANY({supported}::text[])
        AND ({category}::text IS NULL OR NOT (s.opted_out_categories @> ARRAY[{category}::text]))
        AND ({cities}::text[] IS NULL OR s.municipality_code = ANY({cities}::text[]))
        AND ({nationalities}::text[] IS NULL OR s.nationality = ANY({nationalities}::text[]))
        AND ({langs}::text[] IS NULL OR COALESCE(s.language, {fallback}::text) = ANY({langs}::text[]))
        AND ({statuses}::text[] IS NULL OR s.residence_status = ANY({statuses}::text[]))
        AND ({employers}::text[] IS NULL OR s.establishment_id = ANY({employers}::text[]))
    """


def language_expression(fallback_param: str) -> str:
    return f"COALESCE(s.language, {fallback_param}::text)"


def one_language(language_param: str, *, includes_unset: bool) -> str:
    """Subscribers reading ``language_param``: a range of the (language, line_user_id) index, plus those
    who never chose a language when it is the fallback (then the pages need a sort)."""
    if includes_unset:
        return f"(s.language = {language_param}::text OR s.language IS NULL)"
    return f"s.language = {language_param}::text"


def languages_of(audience: Audience) -> list[str]:
    """The languages an audience can be reached in, in the order their batches are planned (byte order,
    like the "C" collation of the ids)."""
    offered = set(languages.LANGUAGE_CODES)
    wanted = offered if audience.languages is None else offered & set(audience.languages)
    return sorted(wanted)


def parameters(audience: Audience, fallback_language: str | None) -> list[Any]:
    def listed(values: tuple[str, ...] | None) -> list[str] | None:
        return None if values is None else list(values)

    return [
        listed(audience.cities),
        listed(audience.nationalities),
        listed(audience.languages),
        listed(audience.residence_statuses),
        listed(audience.employers),
        audience.category,
        fallback_language,
        sorted(languages.LANGUAGE_CODES),
    ]


@dataclass(frozen=True, slots=True)
class Cell:
    language: str
    municipality_code: str | None
    count: int


async def count(conn: Connection, audience: Audience, fallback_language: str | None) -> list[Cell]:
    """Recipients per (language, city) right now; an audience of nobody costs no query."""
    if audience.nobody:
        return []
    rows = await conn.fetch(
        f"""
        SELECT {language_expression("$7")} AS language, s.municipality_code, count(*) AS n
        FROM subscribers s
        WHERE {predicate(1)}
        GROUP BY 1, 2
        ORDER BY 1, 2
        """,  # noqa: S608 - the predicate is fixed text with numbered parameters
        *parameters(audience, fallback_language),
    )
    return [Cell(r["language"], r["municipality_code"], int(r["n"])) for r in rows]
