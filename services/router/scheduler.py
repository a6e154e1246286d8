"""The router's background loops, started in its lifespan.

- release workers (``release_workers`` of them): release due notices and finish half-published ones;
  they sleep until the next release time (at most ``scheduler_poll_seconds``) unless woken by a new
  notice. The schedule lives in PostgreSQL, so a restart loses nothing: due notices are released by
  whichever replica looks first (``FOR UPDATE SKIP LOCKED``).
- reminder publisher: publishes personal reminders whose release time came.
- reminder evaluator: every ``reminder_interval_seconds``, raises reminders for every linked worker
  (expiry dates come closer without any event), and purges old snapshots and reminders.

The clock is injected (``clock()`` returns an aware datetime), so tests can move time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from services.common.db import Pool

from . import metrics
from .planning import Planner
from .reminders import ReminderPlanner

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


class Scheduler:
    def __init__(
        self,
        *,
        pool: Pool,
        planner: Planner,
        reminders: ReminderPlanner,
        clock: Clock,
        poll_seconds: float,
        reminder_interval_seconds: float,
        release_workers: int,
        recipients_retention_days: int,
        reminders_retention_days: int,
    ) -> None:
        self._pool = pool
        self._planner = planner
        self._reminders = reminders
        self._clock = clock
        self._poll = poll_seconds
        self._interval = reminder_interval_seconds
        self._workers = release_workers
        self._recipients_retention = recipients_retention_days
        self._reminders_retention = reminders_retention_days
        self._events: list[asyncio.Event] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    def wake(self) -> None:
        """Look for due work now (a notice or reminder was just recorded)."""
        for event in self._events:
            event.set()

    def start(self) -> None:
        loops: list[tuple[str, Callable[[], Awaitable[bool]], Callable[[], Awaitable[float]]]] = [
            (f"release-{n}", self._release_once, self._until_next_release) for n in range(self._workers)
        ]
        loops.append(("reminder-publisher", self._publish_reminders_once, self._poll_interval))
        loops.append(("reminder-evaluator", self._evaluate_once, self._evaluation_interval))
        for name, step, pause in loops:
            event = asyncio.Event()
            self._events.append(event)
            self._tasks.append(
                asyncio.create_task(self._loop(name, step, pause, event), name=f"router-{name}")
            )

    async def stop(self, timeout: float = 10.0) -> None:
        self._stopping = True
        self.wake()
        if not self._tasks:
            return
        _, pending = await asyncio.wait(self._tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            _, stuck = await asyncio.wait(pending, timeout=5)
            for task in stuck:  # cleanup that ignores cancellation: say so rather than hang the stop
                log.error("a scheduler task did not stop when cancelled", extra={"task": task.get_name()})
        self._tasks.clear()

    async def _loop(
        self,
        name: str,
        step: Callable[[], Awaitable[bool]],
        pause: Callable[[], Awaitable[float]],
        event: asyncio.Event,
    ) -> None:
        failures = 0
        while not self._stopping:
            event.clear()
            try:
                more = await step()
                failures = 0
                if more:
                    continue
                delay = await pause()
            except Exception:
                failures += 1
                metrics.SCHEDULER_ERRORS.labels(name.split("-")[0]).inc()
                log.exception("scheduler step failed", extra={"task": name, "failures": failures})
                cap = min(30.0, 0.5 * 2 ** min(failures, 6))
                delay = random.uniform(cap / 2, cap)  # noqa: S311 - jitter
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), timeout=max(delay, 0.01))

    async def _release_once(self) -> bool:
        return await self._planner.release_next(self._clock()) is not None

    async def _until_next_release(self) -> float:
        next_at = await self._planner.next_release_at()
        if next_at is None:
            return self._poll
        return min(max((next_at - self._clock()).total_seconds(), 0.05), self._poll)

    async def _poll_interval(self) -> float:
        return self._poll

    async def _publish_reminders_once(self) -> bool:
        await self._reminders.publish_due(self._clock())
        return False

    async def _evaluation_interval(self) -> float:
        return self._interval

    async def _evaluate_once(self) -> bool:
        now = self._clock()
        async with self._pool.acquire() as conn, conn.transaction():
            raised = await self._reminders.evaluate(conn, now)
        if raised:
            self.wake()
        await self._housekeeping(now)
        return False

    async def _housekeeping(self, now: datetime) -> None:
        """Personal data is kept no longer than needed: LINE ids in old snapshots, old reminders."""
        async with self._pool.acquire() as conn:
            status = await conn.execute(
                """
                UPDATE notice_batches b SET recipients = NULL
                FROM notices n
                WHERE n.notice_id = b.notice_id AND n.state = 'planned' AND n.planned_at < $1
                  AND b.recipients IS NOT NULL
                """,
                now - timedelta(days=self._recipients_retention),
            )
        purged_batches = int(status.split()[-1])
        purged_reminders = await self._reminders.purge(now, retention_days=self._reminders_retention)
        if purged_batches or purged_reminders:
            log.info(
                "retention applied",
                extra={"snapshot_batches_emptied": purged_batches, "reminders_deleted": purged_reminders},
            )
