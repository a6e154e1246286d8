"""Durable subscribers: at-least-once delivery to idempotent handlers, nothing dropped.

For every batch of records (``getmany``, up to ``max_records``):

1. each record is decoded and validated against the topic's contract; one that fails goes to the
   dead-letter topic with the field and the reason, the others go on;
2. the handler runs on the decoded batch. Transient failures (a database or broker that is down, a
   timeout) are retried with capped exponential backoff for as long as the service runs, so an outage
   never dead-letters good messages. Any other failure splits the batch and retries record by record;
   a record that still fails ``unexpected_attempts`` times, or raises :class:`PermanentError`, goes to
   the dead-letter topic with its reason;
3. only then are the batch's offsets committed, explicitly per partition (never "everything consumed
   so far", which is what fails during rebalances: aiokafka#929, #1054).

A crash anywhere before step 3 redelivers the batch, so handlers must be idempotent: :func:`tracked`
gives them an offset-tracking row written in the same PostgreSQL transaction as their effect.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError, RebalanceInProgressError
from faststream.kafka import KafkaBroker, KafkaRouter
from faststream.kafka.message import KafkaMessage
from faststream.middlewares import AckPolicy
from prometheus_client import Counter, Gauge
from pydantic import TypeAdapter, ValidationError

from services.common import errors

from .dead_letters import DeadLetters

log = logging.getLogger(__name__)

M = TypeVar("M")

CONSUMED = Counter(
    "gunma_messages_consumed_total", "Records handled by durable subscribers", ["consumer", "outcome"]
)
RETRIES = Counter("gunma_consumer_retries_total", "Handler retries", ["consumer", "kind"])
BLOCKED = Gauge("gunma_consumer_blocked", "1 while a consumer is retrying a transient failure", ["consumer"])


class PermanentError(Exception):
    """This message can never be processed: it goes to the dead-letter topic with this reason."""


class TransientError(Exception):
    """Worth retrying later: a dependency is unavailable or asks us to slow down."""


#: Failures that say nothing about the message itself, only about the world around it.
TRANSIENT: tuple[type[BaseException], ...] = (
    TransientError,
    OSError,  # includes ConnectionError
    TimeoutError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.LockNotAvailableError,
    KafkaError,
    httpx.TransportError,
)


@dataclass(frozen=True, slots=True)
class Consumed(Generic[M]):
    """A decoded record with where it came from."""

    value: M
    record: ConsumerRecord[Any, Any]

    @property
    def topic(self) -> str:
        return str(self.record.topic)

    @property
    def partition(self) -> int:
        return int(self.record.partition)

    @property
    def offset(self) -> int:
        return int(self.record.offset)


Handler = Callable[[list[Consumed[M]]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ConsumerPolicy:
    max_records: int = 500
    #: how long a poll waits for records; also the pause after an empty poll
    batch_timeout_ms: int = 50
    #: attempts for a single record failing with an unexpected error before it is dead-lettered
    unexpected_attempts: int = 3
    backoff_initial: float = 0.1
    backoff_max: float = 15.0
    max_partition_fetch_bytes: int = 4 * 1024 * 1024
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 3_000
    max_poll_interval_ms: int = 300_000


class _StoppingError(Exception):
    """The subscriber is stopping while a retry waits: leave the batch uncommitted."""


def _backoff(policy: ConsumerPolicy, attempt: int) -> float:
    cap = min(policy.backoff_max, policy.backoff_initial * (2 ** min(attempt, 16)))
    return random.uniform(cap / 2, cap)  # noqa: S311 - jitter, not cryptography


class _DurableConsumer(Generic[M]):
    def __init__(
        self,
        *,
        name: str,
        adapter: TypeAdapter[M],
        handler: Handler[M],
        dead_letters: DeadLetters,
        policy: ConsumerPolicy,
    ) -> None:
        self.name = name
        self.adapter = adapter
        self.handler = handler
        self.dead_letters = dead_letters
        self.policy = policy
        self.is_running: Callable[[], bool] = lambda: True

    async def __call__(self, message: KafkaMessage) -> None:
        # The passthrough decoder made the message its own cached body, a reference cycle that kept each
        # batch (records and payloads) alive until a full GC pass; dropping the cache frees it by refcount.
        message.clear_cache()
        raw = message.raw_message
        records: Sequence[ConsumerRecord[Any, Any]] = raw if isinstance(raw, tuple | list) else (raw,)
        if not records:
            return
        items: list[Consumed[M]] = []
        for record in records:
            try:
                value = self.adapter.validate_json(record.value or b"")
            except ValidationError as error:
                if any(e["type"] == "json_invalid" for e in error.errors(include_input=False)):
                    await self._dead_letter(
                        record, f"undecodable payload: {errors.summary(error)}", "undecodable"
                    )
                else:
                    await self._dead_letter(record, f"invalid payload: {errors.summary(error)}", "invalid")
                continue
            items.append(Consumed(value, record))
        await self._process(items)
        await self._commit(message, records)
        CONSUMED.labels(self.name, "processed").inc(len(items))

    async def _process(self, items: list[Consumed[M]]) -> None:
        if not items:
            return
        transient_attempts = 0
        unexpected_attempts = 0
        while True:
            try:
                await self.handler(items)
                BLOCKED.labels(self.name).set(0)
                return
            except PermanentError as error:
                if len(items) == 1:
                    await self._dead_letter(items[0].record, str(error) or type(error).__name__, "permanent")
                    return
                break
            except TRANSIENT as error:
                transient_attempts += 1
                BLOCKED.labels(self.name).set(1)
                RETRIES.labels(self.name, "transient").inc()
                delay = _backoff(self.policy, transient_attempts)
                log.warning(
                    "transient failure, retrying",
                    extra={"consumer": self.name, "error": repr(error)[:300], "retry_in_s": round(delay, 2)},
                )
                await self._pause(delay)
            except Exception as error:
                if len(items) > 1:
                    log.warning(
                        "batch failed, retrying record by record",
                        extra={"consumer": self.name, "records": len(items), "error": repr(error)[:300]},
                    )
                    break
                unexpected_attempts += 1
                RETRIES.labels(self.name, "unexpected").inc()
                if unexpected_attempts >= self.policy.unexpected_attempts:
                    log.exception("handler keeps failing", extra={"consumer": self.name})
                    await self._dead_letter(
                        items[0].record, f"{type(error).__name__}: {error}"[:2000], "handler_error"
                    )
                    return
                await self._pause(_backoff(self.policy, unexpected_attempts))
        for item in items:
            await self._process([item])

    async def _pause(self, seconds: float) -> None:
        step = 0.05
        waited = 0.0
        while waited < seconds:
            if not self.is_running():
                raise _StoppingError
            await asyncio.sleep(min(step, seconds - waited))
            waited += step

    async def _dead_letter(self, record: ConsumerRecord[Any, Any], reason: str, error_type: str) -> None:
        while True:
            try:
                await self.dead_letters.send(record, reason, error_type=error_type)
                CONSUMED.labels(self.name, "dead_lettered").inc()
                return
            except KafkaError as error:  # the DLQ is Kafka too: wait for it rather than drop
                log.warning("dead-letter publish failed, retrying", extra={"error": repr(error)})
                await self._pause(1.0)

    async def _commit(self, message: KafkaMessage, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
        consumer = getattr(message, "consumer", None)
        if not isinstance(consumer, AIOKafkaConsumer):
            await message.ack()  # FastStream's in-memory test broker
            return
        offsets: dict[TopicPartition, int] = {}
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            offsets[tp] = max(offsets.get(tp, 0), record.offset + 1)
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError, RebalanceInProgressError) as error:
            # The partitions moved to another member, which will see these records again; the handlers
            # are idempotent, so that costs time, not correctness.
            log.warning("offset commit refused during a rebalance", extra={"error": repr(error)})


async def _passthrough(message: KafkaMessage, _original: Any = None) -> KafkaMessage:
    """Hand the handler the whole StreamMessage (records, consumer) instead of a decoded body."""
    return message


def durable_subscriber(
    registrar: KafkaBroker | KafkaRouter,
    *,
    topic: str,
    group_id: str,
    payload: Any,
    handler: Handler[Any],
    dead_letters: DeadLetters,
    policy: ConsumerPolicy = ConsumerPolicy(),
    title: str | None = None,
    description: str | None = None,
) -> Any:
    """Register ``handler`` for ``topic`` in consumer group ``group_id``; returns the subscriber.

    ``payload`` is the contract (a model or an annotated union); the AsyncAPI document shows it.
    """
    consume = _DurableConsumer(
        name=group_id,
        adapter=TypeAdapter(payload),
        handler=handler,
        dead_letters=dead_letters,
        policy=policy,
    )

    async def entry(body: Any) -> None:
        await consume(body)

    # AsyncAPI is generated from the handler's signature: document the records as the contract.
    entry.__annotations__ = {"body": list[payload], "return": None}
    entry.__name__ = entry.__qualname__ = getattr(handler, "__name__", group_id)
    entry.__doc__ = description or getattr(handler, "__doc__", None)

    subscriber = registrar.subscriber(
        topic,
        group_id=group_id,
        batch=True,
        max_records=policy.max_records,
        batch_timeout_ms=policy.batch_timeout_ms,
        ack_policy=AckPolicy.MANUAL,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=policy.max_partition_fetch_bytes,
        session_timeout_ms=policy.session_timeout_ms,
        heartbeat_interval_ms=policy.heartbeat_interval_ms,
        max_poll_interval_ms=policy.max_poll_interval_ms,
        decoder=_passthrough,
        title=title,
        description=description,
    )
    consume.is_running = lambda: bool(getattr(subscriber, "running", True))
    subscriber(entry)
    return subscriber
