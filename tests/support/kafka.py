"""Small Kafka helpers for tests: ad-hoc topics and reading a topic from the beginning."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic


async def create_topics(bootstrap: str, names: dict[str, int]) -> None:
    """Create topics (name -> partitions), each with its ``.dlq``."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        wanted = []
        for name, partitions in names.items():
            wanted.append(NewTopic(name, partitions, 1))
            wanted.append(NewTopic(f"{name}.dlq", 1, 1))
        await admin.create_topics(wanted)
    finally:
        await admin.close()


async def produce(bootstrap: str, topic: str, values: list[tuple[bytes | None, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        futures = [await producer.send(topic, value=value, key=key) for key, value in values]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def read_all(bootstrap: str, topic: str, *, expect: int, timeout: float = 30) -> list[Any]:
    """Read a topic from the start until ``expect`` records arrived (or the timeout)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    records: list[Any] = []
    try:
        deadline = time.monotonic() + timeout
        while len(records) < expect and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for part in batch.values():
                records.extend(part)
    finally:
        await consumer.stop()
    return records


async def read_to_end(bootstrap: str, topic: str, *, timeout: float = 60) -> list[ConsumerRecord[Any, Any]]:
    """Every record ``topic`` holds now: from each partition's start up to its end offset at the call.

    Positions are set with explicit seeks to the beginning offsets, and the reset policy is
    ``earliest``: an implicit reset racing with ``seek_to_beginning`` can otherwise move a
    partition to its end and the read would silently return nothing.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        group_id=None,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 << 20,
    )
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not partitions:
            return []
        consumer.assign(partitions)
        starts = await consumer.beginning_offsets(partitions)
        ends = await consumer.end_offsets(partitions)
        remaining = set()
        for tp in partitions:
            if starts[tp] < ends[tp]:
                consumer.seek(tp, starts[tp])
                remaining.add(tp)
        records: list[ConsumerRecord[Any, Any]] = []
        deadline = time.monotonic() + timeout
        while remaining:
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read {topic} to its end in {timeout:.0f} s")
            batch = await consumer.getmany(*remaining, timeout_ms=500, max_records=10_000)
            for tp, items in batch.items():
                records.extend(r for r in items if r.offset < ends[tp])
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:  # also past gaps such as control records
                    remaining.discard(tp)
        return records
    finally:
        await consumer.stop()
