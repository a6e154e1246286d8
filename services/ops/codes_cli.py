"""``gunma codes``: employer registration codes (issue, list, revoke), straight on the router's tables.

The same functions as the router's API (``services/router/registration_codes.py``), so a code issued
here behaves exactly like one issued over HTTP. Issued and revoked codes record ``cli:<operator>``
(``--by``, default the login name) as who did it.

    gunma codes issue 1234-567890-1 [--name 'Ota Foods' --city 10205] [--note poster] [--qr code.svg]
    gunma codes list 1234-567890-1 [--all] [--json]
    gunma codes revoke GM-7KQ2-9XPJ [--reason leaked]
"""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.table import Table

from services.router import registration_codes as rc
from services.router.dialogue import employer_code

from .cli.common import CliError, State, database, err, out, run

app = typer.Typer(
    help="Employer registration codes: issue, list and revoke per establishment (printable code, LINE deep "
    "link, QR code).",
    no_args_is_help=True,
)

PrefixOption = Annotated[
    str,
    typer.Option("--prefix", envvar="GUNMA_ROUTER_DIALOGUE_EMPLOYER_CODE_PREFIX", help="printed code prefix"),
]
BasicIdOption = Annotated[
    str | None,
    typer.Option(
        "--basic-id",
        envvar=["GUNMA_ROUTER_LINE_BASIC_ID", "GUNMA_LINE_BASIC_ID"],
        help="the LINE account's basic ID (@123abcde) for deep links and QR codes",
        show_default=False,
    ),
]
ByOption = Annotated[
    str | None, typer.Option("--by", help="who does it (default: cli:<login name>)", show_default=False)
]


def _who(by: str | None) -> str:
    if by is not None and by.strip():
        return by.strip()[:100]
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _establishment(value: str) -> str:
    ident = value.replace("-", "").upper()
    if not ident or len(ident) > 32 or not ident.isalnum() or not ident.isascii():
        raise CliError(f"{value!r} is not an establishment id (letters and digits, hyphens allowed)")
    return ident


def _row(code: rc.RegistrationCode, prefix: str, basic_id: str | None) -> dict[str, object]:
    shown = employer_code.display(code.code, prefix)
    place = code.establishment
    return {
        "code": shown,
        "active": code.active,
        "establishment_id": place.establishment_id,
        "establishment_name": place.name,
        "municipality_code": place.municipality_code,
        "city": place.city_name_en,
        "note": code.note,
        "issued_at": code.issued_at,
        "issued_by": code.issued_by,
        "revoked_at": code.revoked_at,
        "revoked_by": code.revoked_by,
        "revoke_reason": code.revoke_reason,
        "registrations": code.registrations,
        "deep_link": rc.deep_link(basic_id, shown) if basic_id else None,
    }


@app.command()
def issue(
    ctx: typer.Context,
    establishment_id: Annotated[str, typer.Argument(help="雇用保険適用事業所番号 (hyphens allowed)")],
    name: Annotated[
        str | None, typer.Option("--name", help="establishment name, if the registry does not know it yet")
    ] = None,
    city: Annotated[
        str | None,
        typer.Option("--city", help="its municipality (JIS X 0402), with --name", show_default=False),
    ] = None,
    address: Annotated[str | None, typer.Option("--address", show_default=False)] = None,
    note: Annotated[
        str | None, typer.Option("--note", help="e.g. 'poster, canteen'", show_default=False)
    ] = None,
    revoke_previous: Annotated[
        bool, typer.Option("--revoke-previous", help="revoke the establishment's other active codes")
    ] = False,
    qr: Annotated[
        Path | None,
        typer.Option("--qr", help="write the QR code (SVG) of the deep link here", show_default=False),
    ] = None,
    prefix: PrefixOption = "GM",
    basic_id: BasicIdOption = None,
    by: ByOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the code as JSON")] = False,
) -> None:
    """Issue a new code (with --name and --city, enter an establishment the feed has not reported yet)."""
    state: State = ctx.obj
    ident = _establishment(establishment_id)
    who = _who(by)
    if qr is not None and not basic_id:
        raise CliError("--qr needs the LINE account's basic ID: --basic-id or GUNMA_ROUTER_LINE_BASIC_ID")
    if note is not None and len(note) > 200:
        raise CliError("--note: at most 200 characters")

    async def go() -> rc.RegistrationCode:
        async with database(state) as conn, conn.transaction():
            place = await rc.find_establishment(conn, ident)
            if place is None:
                if not name or not city:
                    raise CliError(
                        f"establishment {ident} is not in the registry: give --name and --city to enter it"
                    )
                try:
                    await rc.enter_establishment(
                        conn, ident, name=name, municipality_code=city, address=address, by=who
                    )
                except rc.CodeError as error:
                    raise CliError(f"--city: {error.reason}") from None
            return await rc.issue(
                conn, ident, by=who, now=datetime.now(UTC), note=note, revoke_previous=revoke_previous
            )

    code = run(go())
    row = _row(code, prefix, basic_id)
    if qr is not None and basic_id:
        shown = str(row["code"])
        qr.write_bytes(rc.qr_svg(rc.deep_link(basic_id, shown), title=shown))
        err.print(f"QR code written to {qr}")
    if as_json:
        print(orjson.dumps(row, default=str).decode())
        return
    err.print(
        f"[green]issued[/green] for {code.establishment.name or ident} "
        f"({code.establishment.city_name_en or code.establishment.municipality_code})"
    )
    if row["deep_link"]:
        err.print(f"deep link: {row['deep_link']}")
    print(row["code"])  # plain, for $(...) capture


@app.command("list")
def list_codes(
    ctx: typer.Context,
    establishment_id: Annotated[str, typer.Argument(help="雇用保険適用事業所番号 (hyphens allowed)")],
    all_codes: Annotated[bool, typer.Option("--all", "-a", help="include revoked codes")] = False,
    prefix: PrefixOption = "GM",
    basic_id: BasicIdOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
) -> None:
    """The establishment's codes, newest first."""
    state: State = ctx.obj
    ident = _establishment(establishment_id)

    async def go() -> list[rc.RegistrationCode]:
        async with database(state) as conn:
            if await rc.find_establishment(conn, ident) is None:
                raise CliError(f"establishment {ident} is not in the registry")
            return await rc.list_codes(conn, ident, include_revoked=all_codes)

    rows = [_row(code, prefix, basic_id) for code in run(go())]
    if as_json:
        for row in rows:
            print(orjson.dumps(row, default=str).decode())
        return
    table = Table(
        "code", "state", "registrations", "issued", "by", "note", title=f"{len(rows)} codes of {ident}"
    )
    for row in rows:
        issued = row["issued_at"]
        table.add_row(
            str(row["code"]),
            "active" if row["active"] else f"revoked ({row['revoke_reason'] or row['revoked_by']})",
            str(row["registrations"]),
            f"{issued:%Y-%m-%d %H:%M}" if isinstance(issued, datetime) else "",
            str(row["issued_by"]),
            str(row["note"] or ""),
        )
    out.print(table)


@app.command()
def revoke(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="the code as printed (GM-7KQ2-9XPJ) or its 8 symbols")],
    reason: Annotated[
        str | None, typer.Option("--reason", help="e.g. leaked, replaced", show_default=False)
    ] = None,
    prefix: PrefixOption = "GM",
    by: ByOption = None,
) -> None:
    """Revoke a code at once (workers who send it are asked for a new one). Revoking again changes nothing."""
    state: State = ctx.obj
    body = rc.parse(code, prefix)
    if body is None:
        raise CliError(f"{code!r} is not a valid registration code (8 symbols with a check symbol)")
    if reason is not None and len(reason) > 200:
        raise CliError("--reason: at most 200 characters")

    async def go() -> rc.RegistrationCode | None:
        async with database(state) as conn:
            return await rc.revoke(conn, body, by=_who(by), now=datetime.now(UTC), reason=reason)

    found = run(go())
    if found is None:
        raise CliError(f"no registration code {employer_code.display(body, prefix)}")
    shown = employer_code.display(body, prefix)
    err.print(
        f"[green]revoked[/green] {shown} of {found.establishment.establishment_id} "
        f"at {found.revoked_at:%Y-%m-%d %H:%M} by {found.revoked_by}"
    )
