"""The real Kafka and PostgreSQL the integration tests use, started by the project's own scripts."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Stack:
    kafka_bootstrap: str
    admin_dsn: str  # the project database, used to create one database per test run

    def dsn_for(self, database: str) -> str:
        return self.admin_dsn.rsplit("/", 1)[0] + "/" + database

    async def create_database(self, name: str, components: list[str] | None = None) -> str:
        """Create database ``name``, migrate it (every component, or these); return its DSN."""
        from services.common import db, migrate

        admin = await db.connect(self.admin_dsn)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        dsn = self.dsn_for(name)
        await migrate.migrate(dsn, *([components] if components else []))
        return dsn

    async def drop_database(self, name: str) -> None:
        """Drop database ``name`` unless ``GUNMA_KEEP_TEST_DB=1`` asks to keep it for a look."""
        from services.common import db

        if os.environ.get("GUNMA_KEEP_TEST_DB"):
            return
        admin = await db.connect(self.admin_dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    @contextlib.asynccontextmanager
    async def own_database(self, name: str, components: list[str] | None = None) -> AsyncIterator[str]:
        """A database of its own for the block, migrated, dropped afterwards.

        Services started on it are alone there: an ingest or router of another test module on the
        session's database cannot relay this one's outbox or release its notices (to its own topics).
        """
        dsn = await self.create_database(name, components)
        try:
            yield dsn
        finally:
            await self.drop_database(name)


def _answers(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def ensure_stack() -> Stack:
    """Start Kafka and PostgreSQL with deploy/local scripts unless they already answer."""
    kafka_port = int(os.environ.get("KAFKA_PORT", "39092"))
    pg_port = int(os.environ.get("PG_PORT", "55432"))
    env = {**os.environ, "KAFKA_PORT": str(kafka_port), "PG_PORT": str(pg_port)}
    if not _answers(kafka_port):
        subprocess.run([str(REPO / "deploy/local/kafka/kafka.sh"), "up"], check=True, env=env)
    # pg.sh up is idempotent and also (re)creates the project role and database.
    subprocess.run(
        [str(REPO / "deploy/local/postgres/pg.sh"), "up"], check=True, env=env, capture_output=True
    )
    dsn = subprocess.run(
        [str(REPO / "deploy/local/postgres/pg.sh"), "dsn"],
        check=True,
        env=env,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return Stack(kafka_bootstrap=f"127.0.0.1:{kafka_port}", admin_dsn=dsn)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
