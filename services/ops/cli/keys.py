"""``gunma keys``: API keys of feeds, staff and operators (services/common/auth.py)."""

from __future__ import annotations

from typing import Annotated

import orjson
import typer
from rich.table import Table

from services.common import auth, codes
from services.common.auth import Role

from .common import CliError, State, database, err, out, run

app = typer.Typer(
    help="Create, list, revoke and rotate API keys. A new key is printed once, on stdout; "
    "only its hash is stored.",
    no_args_is_help=True,
)

RoleOption = Annotated[Role, typer.Option("--role", "-r", help="feed, staff or ops", case_sensitive=False)]


def _key_id(value: str) -> str:
    """Accept a key id or a whole key (its id is taken; the secret is not used)."""
    parts = auth.split_key(value)
    key_id = parts[0] if parts else value.strip()
    if not key_id or not all(c in "0123456789abcdef" for c in key_id):
        raise CliError(f"{value[:20]!r} is neither a key id (hex) nor a key (gmk_<id>_<secret>)")
    return key_id


def _cities(role: Role, values: list[str]) -> tuple[str, ...]:
    if values and role is not Role.STAFF:
        raise CliError("--city limits staff keys only; feed and ops keys are prefecture-wide")
    cities: list[str] = []
    for value in values:
        try:
            cities.append(codes.normalize_municipality_code(value))
        except ValueError as error:
            raise CliError(f"--city: {error}") from None
    return tuple(dict.fromkeys(cities))


def _announce(full_key: str, key_id: str, what: str) -> None:
    err.print(
        f"[green]{what}[/green] key id [bold]{key_id}[/bold]. The key is shown once, below; store it now."
    )
    print(full_key)  # plain, for $(...) capture


@app.command()
def create(
    ctx: typer.Context,
    name: Annotated[
        str, typer.Option("--name", "-n", help="who uses it, e.g. 'MHLW feed' or 'Maebashi staff'")
    ],
    role: RoleOption,
    city: Annotated[
        list[str] | None,
        typer.Option("--city", "-c", help="limit a staff key to a municipality (JIS X 0402); repeatable"),
    ] = None,
) -> None:
    """Create a key and print it once."""
    state: State = ctx.obj
    if not name.strip():
        raise CliError("--name must not be empty")
    cities = _cities(role, city or [])

    async def go() -> tuple[str, str]:
        async with database(state) as conn:
            return await auth.create_key(conn, name=name.strip(), role=role, cities=cities)

    full, key_id = run(go())
    _announce(full, key_id, "created")


@app.command("list")
def list_keys(
    ctx: typer.Context,
    all_keys: Annotated[bool, typer.Option("--all", "-a", help="include revoked keys")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
) -> None:
    """List keys (never their secrets)."""
    state: State = ctx.obj

    async def go() -> list[dict[str, object]]:
        async with database(state) as conn:
            rows = await conn.fetch(
                "SELECT key_id, name, role, cities, created_at, revoked_at FROM api_keys "
                "WHERE $1 OR revoked_at IS NULL ORDER BY created_at, key_id",
                all_keys,
            )
            return [dict(r) for r in rows]

    rows = run(go())
    if as_json:
        for row in rows:
            print(orjson.dumps(row, default=str).decode())
        return
    table = Table("key id", "name", "role", "cities", "created", "revoked", title=f"{len(rows)} API keys")
    for row in rows:
        table.add_row(
            str(row["key_id"]),
            str(row["name"]),
            str(row["role"]),
            ",".join(row["cities"] or []) or "(all)",  # type: ignore[arg-type]
            f"{row['created_at']:%Y-%m-%d %H:%M}",
            f"{row['revoked_at']:%Y-%m-%d %H:%M}" if row["revoked_at"] else "",
        )
    out.print(table)


@app.command()
def revoke(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="key id (or the whole key)")],
) -> None:
    """Revoke a key at once (services notice within their key cache time, 10 s)."""
    state: State = ctx.obj
    key_id = _key_id(key)

    async def go() -> bool:
        async with database(state) as conn:
            return await auth.revoke_key(conn, key_id)

    if not run(go()):
        raise CliError(f"no active key {key_id} (unknown, or revoked already)")
    err.print(f"[green]revoked[/green] key id [bold]{key_id}[/bold]")


@app.command()
def rotate(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="key id (or the whole key) to replace")],
    keep_old: Annotated[
        bool,
        typer.Option(
            "--keep-old",
            help="leave the old key active (revoke it with 'gunma keys revoke' once its user switched)",
        ),
    ] = False,
) -> None:
    """Create a key with the same name, role and cities, revoke the old one, print the new key once."""
    state: State = ctx.obj
    key_id = _key_id(key)

    async def go() -> tuple[str, str]:
        async with database(state) as conn, conn.transaction():
            row = await conn.fetchrow(
                "SELECT name, role, cities FROM api_keys WHERE key_id = $1 AND revoked_at IS NULL FOR UPDATE",
                key_id,
            )
            if row is None:
                raise CliError(f"no active key {key_id} (unknown, or revoked already)")
            full, new_id = await auth.create_key(
                conn, name=row["name"], role=Role(row["role"]), cities=tuple(row["cities"] or ())
            )
            if not keep_old:
                await auth.revoke_key(conn, key_id)
            return full, new_id

    full, new_id = run(go())
    old = "still active (--keep-old)" if keep_old else "revoked"
    err.print(f"old key id [bold]{key_id}[/bold] {old}")
    _announce(full, new_id, "rotated:")
