"""Participation for the prefecture: registered workers and companies, by city, employer and language.

- registered workers: subscribers following the account now (erased ones are gone; their number is
  kept anonymously in ``subscriber_erasures``);
- companies: distinct employers (establishments) with at least one registered worker, the pilot's
  headline figure;
- linked workers: registered workers who consented to link their employment record;
- known workers and companies: active employments the government feed reported, per city, so that
  participation can be read as a share.

A key limited to some cities sees only subscribers and employments in those cities.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.common.db import Connection


@dataclass(frozen=True, slots=True)
class Stats:
    totals: dict[str, int]
    by_city: list[dict[str, Any]] = field(default_factory=list)
    by_language: list[dict[str, Any]] = field(default_factory=list)
    by_employer: list[dict[str, Any]] = field(default_factory=list)
    erasures: int = 0


_REGISTERED = """
CREATE TEMP TABLE IF NOT EXISTS _registered (
    line_user_id text, language text, municipality_code text, establishment_id text, linked boolean
) ON COMMIT DROP
"""


async def participation(
    conn: Connection,
    *,
    cities: tuple[str, ...] | None,
    fallback_language: str | None,
    employer_limit: int,
) -> Stats:
    """Must run inside a transaction (a temporary table holds the registered subscribers once)."""
    scope = None if cities is None else list(cities)
    await conn.execute(_REGISTERED)
    await conn.execute(
        """
        INSERT INTO _registered
        SELECT line_user_id, COALESCE(language, $2::text), municipality_code, establishment_id,
               worker_id IS NOT NULL
        FROM subscribers
        WHERE followed AND ($1::text[] IS NULL OR municipality_code = ANY($1::text[]))
        """,
        scope,
        fallback_language,
    )
    totals_row = await conn.fetchrow(
        """
        SELECT count(*) AS registered_workers, count(DISTINCT establishment_id) AS companies,
               count(*) FILTER (WHERE linked) AS linked_workers
        FROM _registered
        """
    )
    known_row = await conn.fetchrow(
        """
        SELECT count(DISTINCT worker_id) AS known_workers, count(DISTINCT establishment_id) AS known_companies
        FROM employments WHERE active AND ($1::text[] IS NULL OR municipality_code = ANY($1::text[]))
        """,
        scope,
    )
    assert totals_row is not None
    assert known_row is not None
    by_city = await conn.fetch(
        """
        WITH reg AS (
            SELECT municipality_code, count(*) AS registered_workers,
                   count(DISTINCT establishment_id) AS companies,
                   count(*) FILTER (WHERE linked) AS linked_workers
            FROM _registered GROUP BY municipality_code
        ), known AS (
            SELECT municipality_code, count(DISTINCT worker_id) AS known_workers,
                   count(DISTINCT establishment_id) AS known_companies
            FROM employments WHERE active AND ($1::text[] IS NULL OR municipality_code = ANY($1::text[]))
            GROUP BY municipality_code
        )
        SELECT COALESCE(r.municipality_code, k.municipality_code) AS code, m.name_ja, m.name_en,
               p.name_en AS prefecture,
               COALESCE(r.registered_workers, 0) AS registered_workers, COALESCE(r.companies, 0) AS companies,
               COALESCE(r.linked_workers, 0) AS linked_workers,
               COALESCE(k.known_workers, 0) AS known_workers,
               COALESCE(k.known_companies, 0) AS known_companies
        FROM reg r FULL JOIN known k ON k.municipality_code = r.municipality_code
        LEFT JOIN municipalities m ON m.code = COALESCE(r.municipality_code, k.municipality_code)
        LEFT JOIN prefectures p ON p.code = left(COALESCE(r.municipality_code, k.municipality_code), 2)
        ORDER BY registered_workers DESC, code NULLS LAST
        """,
        scope,
    )
    by_language = await conn.fetch(
        """
        SELECT language, count(*) AS registered_workers, count(DISTINCT establishment_id) AS companies,
               count(*) FILTER (WHERE linked) AS linked_workers
        FROM _registered GROUP BY language ORDER BY registered_workers DESC, language NULLS LAST
        """
    )
    by_employer = await conn.fetch(
        """
        SELECT r.establishment_id, e.name, e.municipality_code AS city_code, m.name_en AS city_name,
               count(*) AS registered_workers, count(*) FILTER (WHERE r.linked) AS linked_workers
        FROM _registered r
        LEFT JOIN establishments e ON e.establishment_id = r.establishment_id
        LEFT JOIN municipalities m ON m.code = e.municipality_code
        WHERE r.establishment_id IS NOT NULL
        GROUP BY r.establishment_id, e.name, e.municipality_code, m.name_en
        ORDER BY registered_workers DESC, r.establishment_id
        LIMIT $1
        """,
        employer_limit,
    )
    erasures = await conn.fetchval("SELECT COALESCE(sum(erasures), 0) FROM subscriber_erasures")
    totals = {k: int(v) for k, v in {**dict(totals_row), **dict(known_row)}.items()}
    return Stats(
        totals=totals,
        by_city=[_ints(dict(r)) for r in by_city],
        by_language=[_ints(dict(r)) for r in by_language],
        by_employer=[_ints(dict(r)) for r in by_employer],
        # Erasures are not attributable to a city (nothing is left to say where); prefecture keys only.
        erasures=int(erasures) if cities is None else 0,
    )


def _ints(row: dict[str, Any]) -> dict[str, Any]:
    return {k: int(v) if isinstance(v, int) else v for k, v in row.items()}
