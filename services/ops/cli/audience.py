"""``gunma audience count``: who a notice with these filters would reach now (router POST /v1/audience/count).

The filter options are shared with ``gunma notices create``: each narrows the audience, each may be
repeated, and values are read like ingest reads a notice (``services.ingest.domain.notices.AudienceIn``):
5- or 6-digit municipality codes, nationalities as ISO 3166 codes or names, residence statuses as codes
or Japanese labels, employers as establishment numbers.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import orjson
import typer
from pydantic import ValidationError
from rich.table import Table

from services.common import errors
from services.common.contracts import NoticeCategory
from services.ingest.domain.notices import AudienceIn

from . import http
from .common import CliError, State, err, out

app = typer.Typer(
    help="Audiences: how many subscribers filters reach, by language and city.", no_args_is_help=True
)

CityOption = Annotated[
    list[str] | None,
    typer.Option("--city", "-c", help="municipality code (JIS X 0402, e.g. 10201 Maebashi); repeatable"),
]
NationalityOption = Annotated[
    list[str] | None, typer.Option("--nationality", help="ISO 3166-1 alpha-2 (VN) or name; repeatable")
]
LanguageOption = Annotated[
    list[str] | None,
    typer.Option("--language", "-l", help="subscriber language (vi, pt-BR, ...); repeatable"),
]
StatusOption = Annotated[
    list[str] | None,
    typer.Option("--residence-status", help="status of residence code or label; repeatable"),
]
EmployerOption = Annotated[
    list[str] | None, typer.Option("--employer", help="establishment number (1234-567890-1); repeatable")
]


def given_audience(
    cities: list[str] | None,
    nationalities: list[str] | None,
    languages: list[str] | None,
    statuses: list[str] | None,
    employers: list[str] | None,
) -> dict[str, list[str]]:
    """The filter options as typed (the fields of ingest's AudienceIn)."""
    return {
        "cities": cities or [],
        "nationalities": nationalities or [],
        "languages": languages or [],
        "residence_statuses": statuses or [],
        "employers": employers or [],
    }


def audience_filter(
    cities: list[str] | None,
    nationalities: list[str] | None,
    languages: list[str] | None,
    statuses: list[str] | None,
    employers: list[str] | None,
) -> dict[str, list[str]]:
    """The filter as the services take it, normalised; a CliError names each bad value's option."""
    try:
        audience = AudienceIn.model_validate(
            given_audience(cities, nationalities, languages, statuses, employers)
        )
    except ValidationError as error:
        raise CliError(option_errors(error)) from None
    return audience.model_dump(mode="json")


_OPTION_OF = {
    "cities": "--city",
    "nationalities": "--nationality",
    "languages": "--language",
    "residence_statuses": "--residence-status",
    "employers": "--employer",
}


def option_errors(error: ValidationError, options: dict[str, str] | None = None) -> str:
    """``--city #2: reason; ...``: the option (and which occurrence) rather than the JSON field."""
    names = {**_OPTION_OF, **(options or {})}
    parts = []
    for problem in errors.field_errors(error):
        field = problem["field"]
        match = re.fullmatch(r"(?:audience\.)?(\w+)(?:\[(\d+)\])?", field)
        if match and match.group(1) in names:
            field = names[match.group(1)] + (f" #{int(match.group(2)) + 1}" if match.group(2) else "")
        parts.append(f"{field}: {problem['reason'].removeprefix('Value error, ')}")
    return "; ".join(parts)


@app.command()
def count(
    ctx: typer.Context,
    city: CityOption = None,
    nationality: NationalityOption = None,
    language: LanguageOption = None,
    residence_status: StatusOption = None,
    employer: EmployerOption = None,
    category: Annotated[
        NoticeCategory | None,
        typer.Option(help="leave out subscribers who opted out of this category", case_sensitive=False),
    ] = None,
    cells: Annotated[bool, typer.Option("--cells", help="also a table per language and city")] = False,
    router_url: http.RouterUrlOption = None,
    api_key: http.ApiKeyOption = None,
    as_json: http.JsonOption = False,
) -> None:
    """How many subscribers a notice with these filters would reach now, per language and per city.

    A city-scoped staff key counts its own cities only (naming another city is refused).
    """
    state: State = ctx.obj
    body: dict[str, Any] = {
        "audience": audience_filter(city, nationality, language, residence_status, employer)
    }
    if category is not None:
        body["category"] = category.value
    api = http.router(state, router_url, api_key)
    answer = api.request("POST", "/v1/audience/count", json=body, retry=True).json()
    if as_json:
        print(orjson.dumps(answer, option=orjson.OPT_INDENT_2).decode())
        return
    print_count(answer, cells=cells)


def print_count(answer: dict[str, Any], *, cells: bool = False) -> None:
    total = int(answer.get("total", 0))
    scope = answer.get("scope_cities")
    where = f" (this key's cities: {', '.join(scope)})" if scope else ""
    by_language = Table("language", "subscribers", "share", title=f"{total} subscribers{where}")
    for language, n in sorted(answer.get("by_language", {}).items(), key=lambda kv: (-kv[1], kv[0])):
        by_language.add_row(language, str(n), _share(n, total))
    out.print(by_language)
    by_city = Table("city", "name", "subscribers", "share", title="by city")
    for row in answer.get("by_city", []):
        name = row.get("name_en") or row.get("name_ja") or ""
        by_city.add_row(
            row.get("code") or "(unknown)", name, str(row.get("count", 0)), _share(row.get("count", 0), total)
        )
    out.print(by_city)
    if cells:
        table = Table("language", "city", "subscribers", title="by language and city")
        for cell in sorted(
            answer.get("cells", []), key=lambda c: (c.get("language", ""), c.get("city") or "~")
        ):
            table.add_row(
                cell.get("language", ""), cell.get("city") or "(unknown)", str(cell.get("count", 0))
            )
        out.print(table)
    if total == 0:
        err.print("[yellow]no subscriber matches these filters[/yellow]")


def _share(n: int, total: int) -> str:
    return f"{100 * n / total:.1f}%" if total else "-"
