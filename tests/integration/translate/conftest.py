"""A real Apertium APY server for the translate tests, on loopback, started when not running.

``GUNMA_TEST_APERTIUM_URL`` points the tests at an APY that is already running; else the local one
(``deploy/local/apertium/apy.sh up``, port ``APY_PORT`` or 2737) is used when it answers; otherwise
apy.sh starts one on a free port for the session and stops it afterwards.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from services.common.kafka import Publisher, create_broker
from services.translate.settings import TranslateSettings
from tests.support.kafka import create_topics
from tests.support.stack import REPO, free_port

APY_SH = REPO / "deploy/local/apertium/apy.sh"


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/listPairs", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="session")
def apertium_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    given = os.environ.get("GUNMA_TEST_APERTIUM_URL")
    if given:
        if not _answers(given):
            pytest.fail(f"GUNMA_TEST_APERTIUM_URL={given} does not answer /listPairs")
        yield given.rstrip("/")
        return
    local = f"http://127.0.0.1:{os.environ.get('APY_PORT', '2737')}"
    if _answers(local):  # the developer's own (deploy/local/apertium/apy.sh up): use it, leave it running
        yield local
        return
    state: Path = tmp_path_factory.mktemp("apertium")
    env = {**os.environ, "APY_PORT": str(free_port()), "APY_HOST": "127.0.0.1", "GUNMA_STATE_DIR": str(state)}
    subprocess.run([str(APY_SH), "up"], check=True, env=env, timeout=120)
    url = subprocess.run(
        [str(APY_SH), "url"], check=True, env=env, capture_output=True, text=True
    ).stdout.strip()
    try:
        yield url
    finally:
        subprocess.run([str(APY_SH), "down"], check=False, env=env, timeout=60)


@pytest.fixture(scope="session")
async def kafka_publisher(kafka_bootstrap: str) -> AsyncIterator[Publisher]:
    """A real producer (the services' own broker factory) for handler tests."""
    settings = TranslateSettings(kafka_bootstrap_servers=kafka_bootstrap)
    broker = create_broker(settings, client_id="gunma-translate-tests", metrics_registry=None)
    await broker.start()
    try:
        yield Publisher(broker)
    finally:
        await broker.stop()


@pytest.fixture
async def ready_topic(kafka_bootstrap: str, run_id: str) -> str:
    """A fresh deliveries.ready topic for one test (12 partitions, like the real one)."""
    name = f"{run_id}.translate.{uuid.uuid4().hex[:8]}.deliveries.ready.v1"
    await create_topics(kafka_bootstrap, {name: 12})
    return name
