"""A small migrator: ordered SQL files per component, recorded in ``schema_migrations``.

Files live in ``services/<component>/migrations/NNNN_name.sql`` and are applied in version order, each in
its own transaction. A session-level advisory lock serialises replicas that start at the same time; a
file changed after it was applied is an error (its checksum is recorded), never silently re-run.

    python -m services.common.migrate [--database-url DSN] [component ...]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import re
import sys
from dataclasses import dataclass
from importlib import resources

import asyncpg

from . import db
from .db import Connection

#: Order matters only in that ``common`` comes first; components do not reference each other's tables.
COMPONENTS: tuple[str, ...] = ("common", "ingest", "router", "translate", "sender", "line_sandbox")
_LOCK_KEY = 0x67756E6D61  # "gunma": a fixed key in pg_advisory_lock's bigint space
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Migration:
    component: str
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(component: str) -> list[Migration]:
    """The component's migrations in version order; a component without a folder has none."""
    try:
        folder = resources.files(f"services.{component}").joinpath("migrations")
    except ModuleNotFoundError:
        raise MigrationError(f"unknown component {component!r}") from None
    if not folder.is_dir():
        return []
    found: dict[int, Migration] = {}
    for entry in folder.iterdir():
        match = _FILE.match(entry.name)
        if entry.name.endswith(".sql") and not match:
            raise MigrationError(f"{component}/migrations/{entry.name}: name must be NNNN_lower_snake.sql")
        if not match:
            continue
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"{component}: two migrations with version {version:04d}")
        found[version] = Migration(component, version, match.group(2), entry.read_text(encoding="utf-8"))
    return [found[v] for v in sorted(found)]


_BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    component  text        NOT NULL,
    version    integer     NOT NULL,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (component, version)
)
"""


async def apply(conn: Connection, components: tuple[str, ...] | list[str]) -> list[Migration]:
    """Apply what is missing for these components (``common`` is always included, first)."""
    wanted = ["common", *[c for c in components if c != "common"]]
    pending = {component: discover(component) for component in wanted}
    applied_now: list[Migration] = []
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(_BOOKKEEPING)
        rows = await conn.fetch("SELECT component, version, checksum FROM schema_migrations")
        done = {(r["component"], r["version"]): r["checksum"] for r in rows}
        for component in wanted:
            for migration in pending[component]:
                recorded = done.get((component, migration.version))
                if recorded is not None:
                    if recorded != migration.checksum:
                        raise MigrationError(
                            f"{component}/{migration.version:04d}_{migration.name}.sql changed after it was "
                            "applied; add a new migration instead"
                        )
                    continue
                async with conn.transaction():
                    await conn.execute(migration.sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (component, version, name, checksum) "
                        "VALUES ($1, $2, $3, $4)",
                        component,
                        migration.version,
                        migration.name,
                        migration.checksum,
                    )
                applied_now.append(migration)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    return applied_now


async def migrate(dsn: str, components: tuple[str, ...] | list[str] = COMPONENTS) -> list[Migration]:
    conn = await db.connect(dsn, application_name="gunma-migrate")
    try:
        return await apply(conn, components)
    finally:
        await conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.common.migrate", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("GUNMA_DATABASE_URL", "postgresql://gunma:gunma-local@127.0.0.1:55432/gunma"),
        help="PostgreSQL DSN (default: $GUNMA_DATABASE_URL or the local development cluster)",
    )
    parser.add_argument("components", nargs="*", help=f"default: all of {', '.join(COMPONENTS)}")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.components) - set(COMPONENTS))
    if unknown:
        parser.error(f"unknown component(s) {', '.join(unknown)}; choose from {', '.join(COMPONENTS)}")
    try:
        applied = asyncio.run(migrate(args.database_url, args.components or list(COMPONENTS)))
    except (MigrationError, OSError, asyncpg.PostgresError) as error:
        print(f"migrate: {error}", file=sys.stderr)
        return 1
    for m in applied:
        print(f"applied {m.component}/{m.version:04d}_{m.name}")
    print(f"migrate: {len(applied)} applied, schema is current")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
