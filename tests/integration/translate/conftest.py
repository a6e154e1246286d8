"""Fixtures of the translate tests: topics of their own and a real producer (Apertium: the session's
``apertium_url``, tests/support/apertium.py)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from services.common.kafka import Publisher, create_broker
from services.translate.settings import TranslateSettings
from tests.support.kafka import create_topics


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
