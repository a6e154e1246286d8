"""``gunma stats``: participation (router GET /v1/stats): registered workers and companies with at
least one, linked workers, and what the government feed knows, by city, language and employer."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
import typer
from rich.markup import escape
from rich.table import Table

from . import http
from .common import State, out

_TOTALS = (
    ("registered workers (following the LINE account)", "registered_workers"),
    ("companies with a registered worker", "companies"),
    ("linked workers (consented to link their record)", "linked_workers"),
    ("workers known from the feed (active employments)", "known_workers"),
    ("companies known from the feed", "known_companies"),
)


def command(
    ctx: typer.Context,
    employers: Annotated[int, typer.Option(min=0, max=10_000, help="how many employers to list")] = 20,
    router_url: http.RouterUrlOption = None,
    api_key: http.ApiKeyOption = None,
    as_json: http.JsonOption = False,
) -> None:
    """Participation: registered workers and companies, by city, language and employer (staff or ops key;
    a city-scoped key sees its cities only)."""
    state: State = ctx.obj
    api = http.router(state, router_url, api_key)
    answer = api.request("GET", "/v1/stats", params={"employers": employers}).json()
    if as_json:
        print(orjson.dumps(answer, option=orjson.OPT_INDENT_2).decode())
        return
    print_stats(answer)


def print_stats(answer: dict[str, Any]) -> None:
    totals = answer.get("totals") or {}
    scope = answer.get("scope_cities")
    title = f"participation as of {str(answer.get('as_of', ''))[:19]}"
    if scope:
        title += f" (this key's cities: {', '.join(scope)})"
    head = Table("", "", show_header=False, title=title)
    for label, key in _TOTALS:
        if key in totals:
            head.add_row(label, str(totals[key]))
    workers, known = totals.get("registered_workers"), totals.get("known_workers")
    if workers is not None and known:
        head.add_row("registered share of known workers", _share(workers, known))
    if answer.get("erasures"):
        head.add_row("subscribers erased on request", str(answer["erasures"]))
    out.print(head)

    cities = Table(
        "city", "name", "registered", "companies", "linked", "known workers", "share", title="by city"
    )
    for row in answer.get("by_city") or []:
        cities.add_row(
            row.get("code") or "(unknown)",
            escape(row.get("name_en") or row.get("name_ja") or ""),
            str(row.get("registered_workers", 0)),
            str(row.get("companies", 0)),
            str(row.get("linked_workers", 0)),
            str(row.get("known_workers", 0)),
            _share(row.get("registered_workers", 0), row.get("known_workers", 0)),
        )
    out.print(cities)

    languages = Table("language", "registered", "companies", "linked", title="by language")
    for row in answer.get("by_language") or []:
        languages.add_row(
            row.get("language") or "(not chosen)",
            str(row.get("registered_workers", 0)),
            str(row.get("companies", 0)),
            str(row.get("linked_workers", 0)),
        )
    out.print(languages)

    employers = answer.get("by_employer") or []
    if employers:
        table = Table(
            "employer", "name", "city", "registered", "linked", title=f"top {len(employers)} employers"
        )
        for row in employers:
            table.add_row(
                str(row.get("establishment_id", "")),
                escape(row.get("name") or ""),
                escape(row.get("city_name") or row.get("city_code") or ""),
                str(row.get("registered_workers", 0)),
                str(row.get("linked_workers", 0)),
            )
        out.print(table)


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"
