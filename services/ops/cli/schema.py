"""``gunma migrate``: apply (or show) every component's migrations."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from services.common import migrate as migrator

from .common import CliError, State, database, err, out, run

#: The services' components, then the ops CLI's own table (dead-letter replays).
COMPONENTS: tuple[str, ...] = (*migrator.COMPONENTS, "ops")


def command(
    ctx: typer.Context,
    components: Annotated[
        list[str] | None,
        typer.Argument(help=f"components to migrate (default: all of {', '.join(COMPONENTS)})"),
    ] = None,
    status: Annotated[
        bool, typer.Option("--status", help="only show applied and pending migrations; exit 1 if any pend")
    ] = False,
) -> None:
    """Apply pending migrations (the services also do, for their own tables, at start-up)."""
    state: State = ctx.obj
    wanted = list(components or COMPONENTS)
    unknown = sorted(set(wanted) - set(COMPONENTS))
    if unknown:
        raise CliError(f"unknown component(s) {', '.join(unknown)}; choose from {', '.join(COMPONENTS)}")

    if status:
        pending = run(_status(state, wanted))
        if pending:
            raise CliError(f"{pending} migration(s) pending; run: gunma migrate")
        return

    async def go() -> list[migrator.Migration]:
        async with database(state) as conn:
            return await migrator.apply(conn, wanted)

    try:
        applied = run(go())
    except migrator.MigrationError as error:
        raise CliError(str(error)) from None
    for m in applied:
        err.print(f"applied {m.component}/{m.version:04d}_{m.name}")
    err.print(f"[green]{len(applied)} applied[/green]; the schema is current")


async def _status(state: State, components: list[str]) -> int:
    async with database(state) as conn:
        exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
        rows = (
            await conn.fetch("SELECT component, version, applied_at FROM schema_migrations") if exists else []
        )
    applied = {(r["component"], r["version"]): r["applied_at"] for r in rows}
    table = Table("component", "migration", "applied")
    pending = 0
    for component in ["common", *[c for c in components if c != "common"]]:
        try:
            migrations = migrator.discover(component)
        except migrator.MigrationError as error:
            raise CliError(str(error)) from None
        for m in migrations:
            when = applied.get((component, m.version))
            pending += when is None
            table.add_row(
                component,
                f"{m.version:04d}_{m.name}",
                f"{when:%Y-%m-%d %H:%M}" if when else "[yellow]pending[/yellow]",
            )
    out.print(table)
    return pending
