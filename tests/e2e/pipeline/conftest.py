"""Fixtures of the end-to-end pipeline tests: a real Apertium APY and the whole system as processes."""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.stack import REPO, Stack, free_port

from .system import System

APY_SH = REPO / "deploy/local/apertium/apy.sh"


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/listPairs", timeout=2, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="session")
def e2e_apertium_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``GUNMA_TEST_APERTIUM_URL`` if given; else the local APY (apy.sh, APY_PORT) if it answers; else
    one started by apy.sh on a free loopback port for the session."""
    given = os.environ.get("GUNMA_TEST_APERTIUM_URL")
    if given:
        if not _answers(given):
            pytest.fail(f"GUNMA_TEST_APERTIUM_URL={given} does not answer /listPairs")
        yield given.rstrip("/")
        return
    local = f"http://127.0.0.1:{os.environ.get('APY_PORT', '2737')}"
    if _answers(local):
        yield local
        return
    state: Path = tmp_path_factory.mktemp("apertium-e2e")
    env = {**os.environ, "APY_PORT": str(free_port()), "APY_HOST": "127.0.0.1", "GUNMA_STATE_DIR": str(state)}
    subprocess.run([str(APY_SH), "up"], check=True, env=env, timeout=120)
    url = subprocess.run(
        [str(APY_SH), "url"], check=True, env=env, capture_output=True, text=True
    ).stdout.strip()
    try:
        yield url
    finally:
        subprocess.run([str(APY_SH), "down"], check=False, env=env, timeout=60)


@pytest.fixture(scope="module")
async def pipeline(
    stack: Stack, service_env: dict[str, str], e2e_apertium_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[System]:
    system = System(
        name="pipeline",
        kafka_bootstrap=stack.kafka_bootstrap,
        admin_dsn=stack.admin_dsn,
        base_env=service_env,
        log_dir=tmp_path_factory.mktemp("e2e-pipeline-logs"),
        apertium_url=e2e_apertium_url,
        # personal reminders are evaluated every 2 s instead of hourly, so the test need not wait
        overrides={"router": {"GUNMA_ROUTER_REMINDER_INTERVAL_SECONDS": "2"}},
    )
    try:
        await system.start()
        yield system
    finally:
        await system.stop()
