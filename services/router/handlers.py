"""The router's Kafka consumers: thin handlers over the registry, the planner and the results store.

Every consumer is a durable subscriber (batches, explicit commits, dead letters) whose effect runs in
one PostgreSQL transaction with its offset-tracking row (``tracked``), so a redelivered record changes
nothing. Topics and groups:

| topic                 | group                   | effect                                              |
| employment.v1         | router.employment       | employments, establishments, linked subscribers,    |
|                       |                         | event-driven reminders                              |
| line-events.v1        | router.line-events      | follow / unfollow state; then the conversation hook |
| notices.v1            | router.notices          | the notice and its release time                     |
| deliveries.results.v1 | router.delivery-results | outcomes per batch, unreachable subscribers         |

The conversation (onboarding dialogue) plugs in as a :class:`ConversationHandler`: it is called for
every batch of LINE events, inside the same transaction, after the follow state was applied. A handler
that also implements :class:`ConversationHooks` is told before the transaction opens (to look things up
over the network without holding locks) and after it committed (to publish what it wrote).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from services.common.contracts import DeliveryResult, EmploymentEvent, LineEvent, NoticeSubmitted
from services.common.db import Connection
from services.common.kafka import Consumed, ConsumerPolicy, durable_subscriber, tracked
from services.common.runtime import Runtime

from . import metrics, registry, results
from .domain.quiet_hours import QuietHours
from .planning import record_notices
from .reminders import ReminderPlanner

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

EMPLOYMENT_GROUP = "router.employment"
LINE_EVENTS_GROUP = "router.line-events"
NOTICES_GROUP = "router.notices"
RESULTS_GROUP = "router.delivery-results"


class ConversationHandler(Protocol):
    """The dialogue's entry point: LINE events of one batch, in the consumer's transaction.

    Follow and unfollow state is already applied when it runs. It may read and change subscribers
    through :mod:`services.router.registry` with ``conn`` and publish replies; if it raises, the whole
    batch (follow state included) is rolled back and retried, so replies must carry deterministic ids.
    """

    async def __call__(self, conn: Connection, events: Sequence[Consumed[LineEvent]]) -> None: ...


@runtime_checkable
class ConversationHooks(Protocol):
    """Optional: around the consumer's transaction, and the handler's own background work."""

    async def before_transaction(self, events: Sequence[Consumed[LineEvent]]) -> None:
        """Called before each attempt's transaction (no connection held): network look-ups."""

    async def after_commit(self) -> None:
        """Called once the attempt's transaction committed: publish what it staged."""

    async def start(self) -> None:
        """Start background work and clients (in the lifespan, once the runtime runs)."""

    async def stop(self, timeout: float) -> None:
        """Stop it, waiting at most ``timeout`` seconds."""


def register_consumers(
    runtime: Runtime,
    *,
    employment_max_records: int,
    employment_consumers: int,
    employment_partition_fetch_bytes: int,
    quiet: QuietHours,
    clock: Clock,
    reminders: ReminderPlanner,
    wake: Callable[[], None],
    conversation: ConversationHandler | None = None,
) -> None:
    topics = runtime.settings.topics
    pool = runtime.pool
    # Environments sharing a cluster (a topic prefix each) must not share consumer groups either.
    prefix = runtime.settings.kafka_topic_prefix
    employment_group, line_group, notices_group, results_group = (
        prefix + group for group in (EMPLOYMENT_GROUP, LINE_EVENTS_GROUP, NOTICES_GROUP, RESULTS_GROUP)
    )

    async def apply_employment(conn: Connection, items: list[Consumed[EmploymentEvent]]) -> None:
        applied = await registry.apply_employment(conn, [item.value for item in items])
        metrics.EMPLOYMENT_EVENTS.labels("changed").inc(applied.changed)
        metrics.EMPLOYMENT_EVENTS.labels("unchanged").inc(applied.received - applied.changed)
        if applied.linked_workers and await reminders.evaluate(conn, clock(), applied.linked_workers):
            raised.set()

    async def apply_line_events(conn: Connection, items: list[Consumed[LineEvent]]) -> None:
        changed = await registry.apply_follow_state(conn, (item.value for item in items))
        metrics.FOLLOW_CHANGES.inc(changed)
        if conversation is not None:
            await conversation(conn, items)

    async def record(conn: Connection, items: list[Consumed[NoticeSubmitted]]) -> None:
        await record_notices(conn, [item.value for item in items], now=clock(), quiet=quiet)

    notices_tracked = tracked(pool, notices_group, record)

    async def on_notices(items: list[Consumed[NoticeSubmitted]]) -> None:
        await notices_tracked(items)
        wake()  # a notice due now is released at once, not at the next poll

    async def apply_results(conn: Connection, items: list[Consumed[DeliveryResult]]) -> None:
        await results.apply_results(conn, [item.value for item in items])

    employment_tracked = tracked(pool, employment_group, apply_employment)
    raised = asyncio.Event()  # reminders were raised: wake the publisher once they are committed

    async def employment_handler(items: list[Consumed[EmploymentEvent]]) -> None:
        await employment_tracked(items)
        if raised.is_set():
            raised.clear()
            wake()

    # Several members of one group in this process: while PostgreSQL applies one batch, the next one
    # is being validated and prepared (the partitions are split between them).
    for _ in range(employment_consumers):
        durable_subscriber(
            runtime.broker,
            topic=topics.employment,
            group_id=employment_group,
            payload=EmploymentEvent,
            handler=employment_handler,
            dead_letters=runtime.dead_letters(employment_group),
            policy=ConsumerPolicy(
                max_records=employment_max_records,
                max_partition_fetch_bytes=employment_partition_fetch_bytes,
            ),
            description="Employment facts from the feed into the registry",
        )
    line_tracked = tracked(pool, line_group, apply_line_events)
    hooks = conversation if isinstance(conversation, ConversationHooks) else None

    async def line_events_handler(items: list[Consumed[LineEvent]]) -> None:
        if hooks is not None:
            await hooks.before_transaction(items)
        await line_tracked(items)
        if hooks is not None:
            await hooks.after_commit()

    durable_subscriber(
        runtime.broker,
        topic=topics.line_events,
        group_id=line_group,
        payload=LineEvent,
        handler=line_events_handler if hooks is not None else line_tracked,
        dead_letters=runtime.dead_letters(line_group),
        description="Follow state of LINE subscribers, and the conversation",
    )
    durable_subscriber(
        runtime.broker,
        topic=topics.notices,
        group_id=notices_group,
        payload=NoticeSubmitted,
        handler=on_notices,
        dead_letters=runtime.dead_letters(notices_group),
        policy=ConsumerPolicy(max_records=100),
        description="Notices to schedule",
    )
    durable_subscriber(
        runtime.broker,
        topic=topics.deliveries_results,
        group_id=results_group,
        payload=DeliveryResult,
        handler=tracked(pool, results_group, apply_results),
        dead_letters=runtime.dead_letters(results_group),
        policy=ConsumerPolicy(max_records=2000),
        description="Outcomes of deliveries and unreachable subscribers",
    )
