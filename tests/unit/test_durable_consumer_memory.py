"""The durable subscriber's rules on FastStream's in-memory broker (no Kafka needed)."""

from __future__ import annotations

import orjson
from faststream.kafka import TestKafkaBroker
from pydantic import BaseModel

from services.common.kafka import (
    Consumed,
    ConsumerPolicy,
    DeadLetters,
    PermanentError,
    create_broker,
    durable_subscriber,
)
from services.common.settings import ServiceSettings

FAST = ConsumerPolicy(backoff_initial=0.001, backoff_max=0.002)


class Ping(BaseModel):
    n: int


def _broker():  # type: ignore[no-untyped-def]
    return create_broker(ServiceSettings(), client_id="memory-test")


async def _raw_body(message, _original=None):  # type: ignore[no-untyped-def]
    return message.body


async def test_transient_failures_are_retried_until_they_pass() -> None:
    broker = _broker()
    calls: list[int] = []

    async def handle(items: list[Consumed[Ping]]) -> None:
        calls.append(len(items))
        if len(calls) < 4:
            raise ConnectionRefusedError("database restarting")

    durable_subscriber(
        broker,
        topic="t",
        group_id="g",
        payload=Ping,
        handler=handle,
        dead_letters=DeadLetters(broker, consumer="g"),
        policy=FAST,
    )
    dead: list[bytes] = []

    @broker.subscriber("t.dlq", decoder=_raw_body)
    async def collect(body: bytes) -> None:
        dead.append(body)

    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish_batch(orjson.dumps({"n": 1}), orjson.dumps({"n": 2}), topic="t")
    assert calls == [2, 2, 2, 2]
    assert dead == []


async def test_a_permanent_error_dead_letters_only_its_record() -> None:
    broker = _broker()
    handled: set[int] = set()

    async def handle(items: list[Consumed[Ping]]) -> None:
        for item in items:
            if item.value.n == 13:
                raise PermanentError("13 is never accepted")
        handled.update(i.value.n for i in items)

    durable_subscriber(
        broker,
        topic="t",
        group_id="g",
        payload=Ping,
        handler=handle,
        dead_letters=DeadLetters(broker, consumer="g"),
        policy=FAST,
    )
    dead: list[bytes] = []

    @broker.subscriber("t.dlq", decoder=_raw_body)
    async def collect(body: bytes) -> None:
        dead.append(body)

    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish_batch(
            *(orjson.dumps({"n": n}) for n in (12, 13, 14)), b'{"n": "x"}', topic="t"
        )
    assert handled == {12, 14}
    assert sorted(dead) == sorted([orjson.dumps({"n": 13}), b'{"n": "x"}'])
