"""Topic metadata for the ops CLI, from the admin API (a consumer only knows what it subscribed to)."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

_UNKNOWN_TOPIC = 3


async def partitions(bootstrap: str, names: list[str] | None = None) -> dict[str, list[int]]:
    """Partition ids of these topics (all topics when None); a topic that does not exist is left out."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap.split(","))
    await admin.start()
    try:
        wanted = sorted(await admin.list_topics()) if names is None else names
        if not wanted:
            return {}
        found: dict[str, list[int]] = {}
        for entry in await admin.describe_topics(wanted):
            if entry["error_code"] == _UNKNOWN_TOPIC:
                continue
            if entry["error_code"]:
                raise RuntimeError(f"describing topic {entry['topic']} failed: error {entry['error_code']}")
            found[entry["topic"]] = sorted(p["partition"] for p in entry["partitions"])
        return found
    finally:
        await admin.close()


async def stop(consumer: AIOKafkaConsumer) -> None:
    """Stop a consumer; aiokafka may raise the CancelledError of its own internal task when a consumer
    stops right after starting (its no-group coordinator's reset task): that one is not ours to raise."""
    try:
        await consumer.stop()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
