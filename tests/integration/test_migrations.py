"""Migrations: applied in order, twice is harmless, replicas starting together do not collide."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from services.common import db, migrate
from tests.support.stack import Stack


@pytest.fixture
async def empty_database(stack: Stack) -> str:  # type: ignore[misc]
    name = f"gunma_mig_{uuid.uuid4().hex[:10]}"
    admin = await db.connect(stack.admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    yield stack.dsn_for(name)
    admin = await db.connect(stack.admin_dsn)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


async def _schema(dsn: str) -> list[tuple[str, str, str]]:
    conn = await db.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'public' ORDER BY 1, 2"
        )
        return [(r[0], r[1], r[2]) for r in rows]
    finally:
        await conn.close()


async def test_applied_twice_is_harmless(empty_database: str) -> None:
    first = await migrate.migrate(empty_database)
    assert first, "a fresh database gets every migration"
    schema = await _schema(empty_database)
    second = await migrate.migrate(empty_database)
    assert second == []
    assert await _schema(empty_database) == schema


async def test_replicas_starting_together_apply_each_migration_once(empty_database: str) -> None:
    results = await asyncio.gather(*(migrate.migrate(empty_database) for _ in range(5)))
    applied = [m for result in results for m in result]
    expected = [m for component in migrate.COMPONENTS for m in migrate.discover(component)]
    assert sorted((m.component, m.version) for m in applied) == sorted(
        (m.component, m.version) for m in expected
    )
    conn = await db.connect(empty_database)
    try:
        count = await conn.fetchval("SELECT count(*) FROM schema_migrations")
    finally:
        await conn.close()
    assert count == len(expected)


async def test_a_changed_migration_is_refused(empty_database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    await migrate.migrate(empty_database, ["common"])
    original = migrate.discover

    def tampered(component: str) -> list[migrate.Migration]:
        found = original(component)
        if component == "common":
            first = found[0]
            found[0] = migrate.Migration(
                first.component, first.version, first.name, first.sql + "\n-- edited"
            )
        return found

    monkeypatch.setattr(migrate, "discover", tampered)
    with pytest.raises(migrate.MigrationError, match="changed after it was applied"):
        await migrate.migrate(empty_database, ["common"])
