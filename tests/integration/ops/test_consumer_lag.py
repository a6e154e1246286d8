"""The consumer-lag gauge on a real broker: it counts what the group has not read yet, and forgets."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from prometheus_client import REGISTRY

from services.common.kafka import (
    Consumed,
    ConsumerPolicy,
    DeadLetters,
    create_broker,
    durable_subscriber,
)
from services.common.kafka.lag import LagSampler, lag_by_group
from services.common.settings import ServiceSettings
from tests.support.kafka import create_topics, produce


async def test_lag_gauge_follows_a_blocked_consumer_and_drops_its_series(
    kafka_bootstrap: str, run_id: str
) -> None:
    topic = f"{run_id}.lag-{uuid.uuid4().hex[:6]}"
    group = f"lag-{topic}"
    await create_topics(kafka_bootstrap, {topic: 1})
    await produce(kafka_bootstrap, topic, [(None, b'{"n": %d}' % n) for n in range(40)])
    broker = create_broker(ServiceSettings(kafka_bootstrap_servers=kafka_bootstrap), client_id="lag-test")
    release = asyncio.Event()
    handled: list[int] = []

    async def slow(items: list[Consumed[dict[str, Any]]]) -> None:
        await release.wait()
        handled.extend(item.value["n"] for item in items)

    durable_subscriber(
        broker,
        topic=topic,
        group_id=group,
        payload=dict[str, Any],
        handler=slow,
        dead_letters=DeadLetters(broker, consumer=group),
        policy=ConsumerPolicy(max_records=5),
    )
    sampler = LagSampler(broker, interval=0.2)
    await broker.start()
    try:
        sample: dict[tuple[str, str, str], int] = {}
        for _ in range(100):  # the first batch is in the handler's hands once assigned and fetched
            sample = await sampler.sample()
            if sample.get((group, topic, "0")) == 35:
                break
            await asyncio.sleep(0.1)
        assert sample == {(group, topic, "0"): 35}
        assert (
            REGISTRY.get_sample_value(
                "gunma_consumer_lag", {"group": group, "topic": topic, "partition": "0"}
            )
            == 35
        )
        assert lag_by_group(sample) == {group: 35}

        release.set()
        sampler.start()
        for _ in range(100):
            await asyncio.sleep(0.1)
            if (
                len(handled) == 40
                and REGISTRY.get_sample_value(
                    "gunma_consumer_lag", {"group": group, "topic": topic, "partition": "0"}
                )
                == 0
            ):
                break
        assert sorted(handled) == list(range(40))
        assert (
            REGISTRY.get_sample_value(
                "gunma_consumer_lag", {"group": group, "topic": topic, "partition": "0"}
            )
            == 0
        )
    finally:
        await sampler.stop()
        await broker.stop()
    # A stopped process no longer claims the partition's lag: its series is gone.
    assert (
        REGISTRY.get_sample_value("gunma_consumer_lag", {"group": group, "topic": topic, "partition": "0"})
        is None
    )
