"""Consumer lag as a Prometheus gauge, per consumer group, topic and partition, sampled periodically.

Lag here is what this process still has to read: the partition's high watermark (the offset after the
last record written, as the last fetch response reported it) minus the consumer's position (the next
offset it will hand to the handler). Each replica reports the partitions assigned to it, so
``sum by (group) (gunma_consumer_lag)`` is the group's lag across replicas; a partition moved away in a
rebalance stops being reported by the old owner. Up to one batch that is in the handler's hands counts
as read (KEDA's Kafka scaler measures from the committed offset instead, so it sees that batch too).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import IllegalStateError, KafkaError
from faststream.kafka import KafkaBroker
from prometheus_client import Gauge

log = logging.getLogger(__name__)

CONSUMER_LAG = Gauge(
    "gunma_consumer_lag",
    "Records behind the partition's end for this consumer group (high watermark - position), sampled",
    ["group", "topic", "partition"],
)
LAG_SAMPLED = Gauge(
    "gunma_consumer_lag_sampled_timestamp_seconds", "When consumer lag was last sampled", ["group"]
)

LabelKey = tuple[str, str, str]


def _consumers(broker: KafkaBroker) -> Iterable[tuple[str, AIOKafkaConsumer]]:
    for subscriber in broker.subscribers:
        group = getattr(subscriber, "group_id", None)
        if not group:
            continue  # without a group there is no shared position to lag behind
        members = getattr(subscriber, "consumer_subgroup", None) or [getattr(subscriber, "consumer", None)]
        for consumer in members:
            if isinstance(consumer, AIOKafkaConsumer):
                yield str(group), consumer


async def _partition_lag(consumer: AIOKafkaConsumer, timeout: float) -> dict[TopicPartition, int]:
    try:
        assigned = sorted(consumer.assignment())
    except IllegalStateError:
        return {}
    if not assigned:
        return {}
    highwater: dict[TopicPartition, int] = {}
    unknown: list[TopicPartition] = []
    for tp in assigned:
        hw = consumer.highwater(tp)
        if hw is None:
            unknown.append(tp)  # nothing fetched from it yet
        else:
            highwater[tp] = hw
    if unknown:
        async with asyncio.timeout(timeout):
            ends: dict[TopicPartition, int] = await consumer.end_offsets(unknown)
        highwater.update(ends)
    lag: dict[TopicPartition, int] = {}
    for tp in assigned:
        try:
            async with asyncio.timeout(timeout):
                position = await consumer.position(tp)
        except (IllegalStateError, TimeoutError):
            continue  # revoked meanwhile, or no position yet (still resetting): next sample
        if tp in highwater:
            lag[tp] = max(0, highwater[tp] - int(position))
    return lag


class LagSampler:
    """Samples every durable subscriber's lag into :data:`CONSUMER_LAG` until stopped."""

    def __init__(self, broker: KafkaBroker, *, interval: float = 15.0, timeout: float = 5.0) -> None:
        self._broker = broker
        self._interval = interval
        self._timeout = timeout
        self._reported: set[LabelKey] = set()
        self._task: asyncio.Task[None] | None = None

    async def sample(self) -> dict[LabelKey, int]:
        """Take one sample, update the gauge, forget partitions no longer assigned; return it."""
        sample: dict[LabelKey, int] = {}
        groups: set[str] = set()
        for group, consumer in _consumers(self._broker):
            groups.add(group)
            try:
                lag = await _partition_lag(consumer, self._timeout)
            except (KafkaError, TimeoutError, OSError) as error:
                log.debug("lag sample failed", extra={"group": group, "error": repr(error)})
                continue
            for tp, value in lag.items():
                sample[(group, tp.topic, str(tp.partition))] = value
        for key, value in sample.items():
            CONSUMER_LAG.labels(*key).set(value)
        for key in self._reported - sample.keys():
            with contextlib.suppress(KeyError):
                CONSUMER_LAG.remove(*key)
        self._reported = set(sample)
        for group in groups:
            LAG_SAMPLED.labels(group).set_to_current_time()
        return sample

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="gunma-lag-sampler")

    async def _run(self) -> None:
        while asyncio.current_task() is self._task:  # a stopped sampler's loop ends at its next turn
            try:
                await self.sample()
            except Exception:  # a metric must never take the service down
                log.warning("lag sampling failed", exc_info=True)
            await asyncio.sleep(self._interval)

    async def stop(self) -> None:
        """Stop sampling and drop this process's series (its partitions are someone else's now)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            # Bounded: a cancellation lost inside a client call must not hang the service's shutdown
            # (the loop ends by itself at its next turn, as the task is no longer ours).
            await asyncio.wait([task], timeout=self._timeout)
        for key in self._reported:
            with contextlib.suppress(KeyError):
                CONSUMER_LAG.remove(*key)
        self._reported = set()


def lag_by_group(sample: dict[LabelKey, int]) -> dict[str, int]:
    """Total lag per group of one sample (for logs and the ops CLI)."""
    totals: dict[str, int] = {}
    for (group, _topic, _partition), value in sample.items():
        totals[group] = totals.get(group, 0) + value
    return totals


__all__ = ["CONSUMER_LAG", "LagSampler", "lag_by_group"]
