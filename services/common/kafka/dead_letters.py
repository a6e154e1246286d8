"""Dead-letter topics: ``<topic>.dlq`` receives the original bytes and headers, plus why."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from faststream.kafka import KafkaBroker
from prometheus_client import Counter

log = logging.getLogger(__name__)

DEAD_LETTERED = Counter(
    "gunma_dead_lettered_total", "Messages sent to a dead-letter topic", ["consumer", "topic", "error_type"]
)

#: Headers the dead-letter helper adds; replay strips them.
DLQ_HEADERS = (
    "x-dlq-reason",
    "x-dlq-error-type",
    "x-dlq-source-topic",
    "x-dlq-source-partition",
    "x-dlq-source-offset",
    "x-dlq-consumer",
    "x-dlq-failed-at",
)


class DeadLetters:
    def __init__(self, broker: KafkaBroker, *, consumer: str) -> None:
        self._broker = broker
        self._consumer = consumer

    async def send(self, record: Any, reason: str, *, error_type: str) -> None:
        """Publish ``record`` (an aiokafka ConsumerRecord) to its topic's DLQ; waits for acks=all."""
        headers = {
            name: (value or b"").decode("utf-8", "backslashreplace") for name, value in record.headers or ()
        }
        headers.update(
            {
                "x-dlq-reason": reason[:4000],
                "x-dlq-error-type": error_type,
                "x-dlq-source-topic": record.topic,
                "x-dlq-source-partition": str(record.partition),
                "x-dlq-source-offset": str(record.offset),
                "x-dlq-consumer": self._consumer,
                "x-dlq-failed-at": datetime.now(UTC).isoformat(),
            }
        )
        await self._broker.publish(
            record.value or b"", topic=f"{record.topic}.dlq", key=record.key, headers=headers
        )
        DEAD_LETTERED.labels(self._consumer, record.topic, error_type).inc()
        log.warning(
            "message dead-lettered",
            extra={
                "consumer": self._consumer,
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
                "error_type": error_type,
                "reason": reason[:500],
            },
        )
