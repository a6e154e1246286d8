"""Fixtures of the end-to-end pipeline tests: the whole system as processes (Apertium: ``apertium_url``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.stack import Stack

from .system import System


@pytest.fixture(scope="module")
async def pipeline(
    stack: Stack, service_env: dict[str, str], apertium_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[System]:
    system = System(
        name="pipeline",
        kafka_bootstrap=stack.kafka_bootstrap,
        admin_dsn=stack.admin_dsn,
        base_env=service_env,
        log_dir=tmp_path_factory.mktemp("e2e-pipeline-logs"),
        apertium_url=apertium_url,
        # personal reminders are evaluated every 2 s instead of hourly, so the test need not wait
        overrides={"router": {"GUNMA_ROUTER_REMINDER_INTERVAL_SECONDS": "2"}},
    )
    try:
        await system.start()
        yield system
    finally:
        await system.stop()
