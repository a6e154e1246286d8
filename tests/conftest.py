"""Test harness: markers by folder, one real Kafka and PostgreSQL per session, unique names per run.

- tests/unit: pure logic, no I/O (marker ``unit``).
- tests/integration: real Kafka and PostgreSQL started by deploy/local scripts (marker ``integration``).
- tests/e2e: the real service processes (marker ``e2e``).
Every run uses its own topic prefix and its own database, dropped at the end
(set GUNMA_KEEP_TEST_DB=1 to keep it for a post-mortem).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from services.common import db
from services.common.kafka import ensure_topics
from services.common.topics import Topics
from tests.support.apertium import apertium_server
from tests.support.stack import Stack, ensure_stack

_MARK_BY_FOLDER = {"unit": "unit", "integration": "integration", "e2e": "e2e"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        folder = Path(str(item.fspath)).relative_to(Path(__file__).parent).parts[0]
        marker = _MARK_BY_FOLDER.get(folder)
        if marker:
            item.add_marker(getattr(pytest.mark, marker))


@pytest.fixture(scope="session")
def run_id() -> str:
    return f"t{time.strftime('%m%d%H%M%S')}{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="session")
def stack() -> Stack:
    return ensure_stack()


@pytest.fixture(scope="session")
def kafka_bootstrap(stack: Stack) -> str:
    return stack.kafka_bootstrap


@pytest.fixture(scope="session")
def apertium_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Apertium APY (tests/support/apertium.py), started for the session if none answers."""
    with apertium_server(tmp_path_factory.mktemp("apertium")) as url:
        yield url


@pytest.fixture(scope="session")
async def topics(stack: Stack, run_id: str) -> Topics:
    names = Topics(prefix=f"{run_id}.")
    await ensure_topics(stack.kafka_bootstrap, names)
    return names


@pytest.fixture(scope="session")
async def database_url(stack: Stack, run_id: str) -> AsyncIterator[str]:
    """A fresh database for this run, with every component's migrations applied."""
    name = f"gunma_{run_id}"
    async with stack.own_database(name) as dsn:
        yield dsn


@pytest.fixture(scope="session")
async def pool(database_url: str) -> AsyncIterator[db.Pool]:
    p = await db.create_pool(database_url, min_size=1, max_size=10, application_name="gunma-tests")
    yield p
    await p.close()


@pytest.fixture(scope="session")
def service_env(stack: Stack, database_url: str, topics: Topics) -> dict[str, str]:
    """Environment for service processes started by tests: this run's Kafka prefix and database."""
    return {
        "GUNMA_KAFKA_BOOTSTRAP_SERVERS": stack.kafka_bootstrap,
        "GUNMA_KAFKA_TOPIC_PREFIX": topics.prefix,
        "GUNMA_DATABASE_URL": database_url,
        "GUNMA_LOG_LEVEL": "INFO",
        # test-only secrets, shared by the services that must agree on them
        "GUNMA_WORKER_ID_PEPPER": "test-only-worker-id-pepper-0123456789abcdef",
        "GUNMA_LINE_CHANNEL_SECRET": "test-only-line-channel-secret",
    }


@pytest.fixture
def tmp_log_dir(tmp_path: Path) -> Path:
    path = tmp_path / "logs"
    path.mkdir()
    return path
