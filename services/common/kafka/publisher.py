"""Publishing contracts as JSON, one at a time or many at once with every acknowledgement awaited."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from faststream.kafka import KafkaBroker

from services.common.contracts import Event


def headers_for(event: Event) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "x-event-type": str(getattr(event, "type", type(event).__name__)),
        "x-schema-version": str(event.schema_version),
        "x-event-id": str(event.event_id),
    }


class Publisher:
    """Publishes events; returns only when the broker has acknowledged them (acks=all)."""

    def __init__(self, broker: KafkaBroker) -> None:
        self._broker = broker

    async def publish(self, topic: str, event: Event, *, key: str) -> None:
        await self._broker.publish(
            event.model_dump_json().encode(), topic=topic, key=key.encode(), headers=headers_for(event)
        )

    async def publish_many(self, topic: str, events: Iterable[tuple[str, Event]]) -> int:
        """Send all, then wait for every acknowledgement; raises if any failed (the caller retries)."""
        futures = [
            await self._broker.publish(
                event.model_dump_json().encode(),
                topic=topic,
                key=key.encode(),
                headers=headers_for(event),
                no_confirm=True,
            )
            for key, event in events
        ]
        if futures:
            await asyncio.gather(*futures)
        return len(futures)

    async def publish_raw(
        self, topic: str, value: bytes, *, key: bytes | None, headers: dict[str, str]
    ) -> None:
        await self._broker.publish(value, topic=topic, key=key, headers=headers)
