"""What every ops command shares: settings, consoles, connections that fail with a clear sentence.

Messages go to stderr, results to stdout, so ``KEY=$(gunma keys create ...)`` captures only the key.
A user error (bad input, unreachable database, unknown topic) is a :class:`CliError`: one line, exit 1,
no traceback. Secrets are never printed: a DSN is shown as host:port/database only.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import asyncpg
from aiokafka.errors import KafkaConnectionError, KafkaError
from rich.console import Console

from services.common import db
from services.ops.settings import OpsSettings

T = TypeVar("T")

#: Results (tables, keys) on stdout; everything said to the operator on stderr.
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


class CliError(Exception):
    """A problem the operator can fix; printed as one line without a traceback."""

    def __init__(self, message: str, *, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


@dataclass(slots=True)
class State:
    """Settings of this invocation (environment, then the global options)."""

    settings: OpsSettings

    @property
    def dsn(self) -> str:
        return self.settings.database_url.get_secret_value()

    @property
    def bootstrap(self) -> str:
        return self.settings.kafka_bootstrap_servers

    @property
    def prefix(self) -> str:
        return self.settings.kafka_topic_prefix


def where(dsn: str) -> str:
    """host:port/database of a DSN, without user or password."""
    parts = urlsplit(dsn)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path or ''}"


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


@asynccontextmanager
async def database(state: State) -> AsyncIterator[db.Connection]:
    """A connection, or a CliError that says which database could not be reached and why."""
    try:
        conn = await asyncio.wait_for(db.connect(state.dsn, application_name="gunma-ops"), timeout=15)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        reason = str(error) or type(error).__name__
        raise CliError(
            f"cannot connect to PostgreSQL at {where(state.dsn)}: {reason} "
            "(set GUNMA_DATABASE_URL or --database-url)"
        ) from None
    try:
        yield conn
    except asyncpg.UndefinedTableError as error:
        raise CliError(f"the database is not migrated ({error}); run: gunma migrate") from None
    finally:
        await conn.close()


def kafka_error(state: State, error: BaseException) -> CliError:
    if isinstance(error, KafkaConnectionError | OSError | TimeoutError):
        return CliError(
            f"cannot reach Kafka at {state.bootstrap}: {error or type(error).__name__} "
            "(set GUNMA_KAFKA_BOOTSTRAP_SERVERS or --bootstrap-servers)"
        )
    return CliError(f"Kafka at {state.bootstrap} refused: {error!r}")


KAFKA_ERRORS: tuple[type[BaseException], ...] = (KafkaError, OSError, TimeoutError)
