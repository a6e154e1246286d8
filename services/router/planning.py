"""Notices: recorded once, released on time, their audience snapshotted once and published in batches.

1. ``record_notices`` (the notices.v1 consumer, in its tracked transaction): one row per notice_id, so
   a redelivered NoticeSubmitted changes nothing. The release time is computed then: ``send_at`` (or
   now), moved to the end of quiet hours for a normal notice.
2. ``Planner.release_next`` (the scheduler): claims one due notice with ``FOR UPDATE SKIP LOCKED``
   (several replicas are safe), re-checks quiet hours, and in one transaction snapshots the audience
   into ``notice_batches`` with ``INSERT ... SELECT``: ordered by (language, line_user_id) and numbered
   into batches of at most 500 with window functions; PostgreSQL does the work, no list of recipients
   is held here.
3. It then publishes one DeliveryPlanned per batch, reading the snapshot in chunks (keyset order) and
   marking each chunk published after Kafka acknowledged it. A session advisory lock on the notice keeps
   two replicas from publishing the same notice; it dies with the connection, so when a router crashes
   mid-publish another (or the restarted one) resumes from the first unpublished batch. Batch ids are
   ``notice_id:language:batch_no`` over a membership that never changes, so the few batches sent twice
   around a crash carry the same ids and event ids, and later stages drop the duplicates.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.common import logs
from services.common.contracts import (
    AudienceFilter,
    DeliveryPlanned,
    NoticeContent,
    NoticeSubmitted,
    Priority,
    Purpose,
    batch_id_for,
    delivery_key,
    derived_id,
    utcnow,
)
from services.common.db import Connection, Pool
from services.common.kafka import Publisher
from services.common.kafka.consumer import TRANSIENT

from . import audience_store, metrics
from .domain.audience import Audience, resolve
from .domain.quiet_hours import QuietHours, release_time

log = logging.getLogger(__name__)

#: First key of the advisory locks on notices (the second is hashtext(notice_id)).
_LOCK_SPACE = "hashtext('gunma.router.notice')"


def planned_event_id(batch_id: str) -> uuid.UUID:
    """The same batch always gets the same event id, also when it is published again."""
    return derived_id("delivery-planned", batch_id)


async def record_notices(
    conn: Connection, notices: Sequence[NoticeSubmitted], *, now: datetime, quiet: QuietHours
) -> list[uuid.UUID]:
    """Store notices not seen before; return the ids stored now (notices are few: one insert each)."""
    stored: list[uuid.UUID] = []
    for notice in notices:
        audience = resolve(
            notice.audience, scope_cities=notice.scope_cities, category=notice.content.category
        )
        due = max(notice.send_at or now, now)
        release_at, held = release_time(due, notice.priority, quiet)
        if audience.dropped_cities:
            log.warning(
                "notice asks for cities outside its key's scope; they are left out",
                extra={"notice_id": str(notice.notice_id), "dropped": list(audience.dropped_cities)},
            )
        inserted = await conn.fetchval(
            """
            INSERT INTO notices (
                notice_id, event_id, content, category, priority, audience, cities, nationalities,
                languages, residence_statuses, employers, scope_cities, dropped_cities, send_at,
                submitted_by, submitted_at, received_at, release_at, held_reason)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
            ON CONFLICT (notice_id) DO NOTHING
            RETURNING notice_id
            """,
            notice.notice_id,
            notice.event_id,
            notice.content.model_dump(mode="json"),
            notice.content.category.value,
            notice.priority.value,
            notice.audience.model_dump(mode="json"),
            *_arrays(audience),
            list(notice.scope_cities),
            list(audience.dropped_cities),
            notice.send_at,
            notice.submitted_by,
            notice.occurred_at,
            now,
            release_at,
            held,
        )
        if inserted is not None:
            stored.append(notice.notice_id)
            metrics.NOTICES_RECEIVED.inc()
            if held:
                metrics.NOTICES_HELD.labels("received").inc()
    return stored


def _arrays(audience: Audience) -> list[list[str] | None]:
    def listed(values: tuple[str, ...] | None) -> list[str] | None:
        return None if values is None else list(values)

    return [
        listed(audience.cities),
        listed(audience.nationalities),
        listed(audience.languages),
        listed(audience.residence_statuses),
        listed(audience.employers),
    ]


def audience_of(row: Any) -> Audience:
    """The resolved audience stored with a notice."""

    def tupled(values: list[str] | None) -> tuple[str, ...] | None:
        return None if values is None else tuple(values)

    return Audience(
        cities=tupled(row["cities"]),
        nationalities=tupled(row["nationalities"]),
        languages=tupled(row["languages"]),
        residence_statuses=tupled(row["residence_statuses"]),
        employers=tupled(row["employers"]),
        category=row["category"],
    )


_SNAPSHOT = f"""
INSERT INTO notice_batches (notice_id, language, batch_no, size, recipients)
SELECT $9, language, batch_no, count(*), array_agg(line_user_id ORDER BY line_user_id)
FROM (
    SELECT language, line_user_id,
           (row_number() OVER (PARTITION BY language ORDER BY line_user_id) - 1) / $10 AS batch_no
    FROM (
        SELECT {audience_store.language_expression("$7")} COLLATE "C" AS language, s.line_user_id
        FROM subscribers s
        WHERE {audience_store.predicate(1)}
    ) AS audience
) AS numbered
GROUP BY language, batch_no
"""  # noqa: S608 - fixed text with numbered parameters


@dataclass(frozen=True, slots=True)
class Released:
    notice_id: uuid.UUID
    recipients: int
    batches: int
    published: int


class Planner:
    def __init__(
        self,
        *,
        pool: Pool,
        publisher: Publisher,
        topic: str,
        quiet: QuietHours,
        batch_size: int,
        publish_chunk: int,
        fallback_language: str | None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._pool = pool
        self._clock = clock
        self._publisher = publisher
        self._topic = topic
        self._quiet = quiet
        self._batch_size = batch_size
        self._chunk = publish_chunk
        self._fallback = fallback_language

    async def release_next(self, now: datetime) -> Released | None:
        """Finish one half-published notice, or release one due notice; None when there is none."""
        async with self._pool.acquire() as conn:
            resumed = await self._resume(conn, now)
            if resumed is not None:
                return resumed
            await self._hold_in_quiet_hours(conn, now)
            return await self._release_due(conn, now)

    async def next_release_at(self) -> datetime | None:
        async with self._pool.acquire() as conn:
            value: datetime | None = await conn.fetchval(
                "SELECT min(release_at) FROM notices WHERE state = 'scheduled'"
            )
            metrics.SCHEDULED_NOTICES.set(
                await conn.fetchval("SELECT count(*) FROM notices WHERE state = 'scheduled'")
            )
            return value

    async def _resume(self, conn: Connection, now: datetime) -> Released | None:
        rows = await conn.fetch(
            "SELECT notice_id FROM notices WHERE state = 'publishing' ORDER BY released_at LIMIT 20"
        )
        for row in rows:
            notice_id = row["notice_id"]
            if not await self._try_lock(conn, notice_id):
                continue  # another replica is publishing it
            try:
                state = await conn.fetchval("SELECT state FROM notices WHERE notice_id = $1", notice_id)
                if state != "publishing":
                    continue
                log.info("resuming a notice left half-published", extra={"notice_id": str(notice_id)})
                return await self._publish(conn, notice_id)
            finally:
                await self._unlock(conn, notice_id)
        return None

    async def _hold_in_quiet_hours(self, conn: Connection, now: datetime) -> None:
        """Normal notices that became due in quiet hours wait for their end (e.g. after an outage)."""
        if not self._quiet.contains(now):
            return
        status = await conn.execute(
            """
            UPDATE notices SET release_at = $2, held_reason = 'quiet_hours'
            WHERE state = 'scheduled' AND priority = 'normal' AND release_at <= $1
            """,
            now,
            self._quiet.next_end(now),
        )
        held = int(status.split()[-1])
        if held:
            metrics.NOTICES_HELD.labels("release").inc(held)
            log.info("notices held until quiet hours end", extra={"notices": held})

    async def _release_due(self, conn: Connection, now: datetime) -> Released | None:
        locked: uuid.UUID | None = None
        try:
            async with conn.transaction():
                row = await conn.fetchrow(
                    """
                    SELECT * FROM notices
                    WHERE state = 'scheduled' AND release_at <= $1
                    ORDER BY (priority = 'emergency') DESC, release_at, notice_id
                    LIMIT 1
                    FOR UPDATE SKIP LOCKED
                    """,
                    now,
                )
                if row is None:
                    return None
                notice_id = row["notice_id"]
                # A session lock: it outlives this transaction until publishing is done, and dies
                # with the connection if the process does.
                if not await self._try_lock(conn, notice_id):
                    return None
                locked = notice_id
                started = time.perf_counter()
                await conn.execute("SET LOCAL work_mem = '256MB'")
                audience = audience_of(row)
                if not audience.nobody:
                    await conn.execute(
                        _SNAPSHOT,
                        *audience_store.parameters(audience, self._fallback),
                        notice_id,
                        self._batch_size,
                    )
                totals = await conn.fetchrow(
                    "SELECT count(*) AS batches, COALESCE(sum(size), 0) AS recipients "
                    "FROM notice_batches WHERE notice_id = $1",
                    notice_id,
                )
                assert totals is not None
                await conn.execute(
                    """
                    UPDATE notices SET state = 'publishing', released_at = $2, recipients = $3, batches = $4
                    WHERE notice_id = $1
                    """,
                    notice_id,
                    now,
                    int(totals["recipients"]),
                    int(totals["batches"]),
                )
            elapsed = time.perf_counter() - started
            metrics.SNAPSHOT_SECONDS.observe(elapsed)
            metrics.NOTICES_RELEASED.inc()
            metrics.RECIPIENTS_PLANNED.inc(int(totals["recipients"]))
            log.info(
                "notice released",
                extra={
                    "notice_id": str(notice_id),
                    "recipients": int(totals["recipients"]),
                    "batches": int(totals["batches"]),
                    "snapshot_s": round(elapsed, 3),
                },
            )
            return await self._publish(conn, notice_id)
        finally:
            if locked is not None:
                await self._unlock(conn, locked)

    async def _publish(self, conn: Connection, notice_id: uuid.UUID) -> Released:
        notice = await conn.fetchrow(
            "SELECT content, priority, recipients, batches, released_at FROM notices WHERE notice_id = $1",
            notice_id,
        )
        assert notice is not None
        content = NoticeContent.model_validate(notice["content"])
        priority = Priority(notice["priority"])
        total: int = notice["recipients"]
        released_at: datetime = notice["released_at"]
        published = 0
        after: tuple[str, int] = ("", -1)
        with logs.bind(notice_id=str(notice_id)):
            while True:
                rows = await conn.fetch(
                    """
                    SELECT language, batch_no, recipients FROM notice_batches
                    WHERE notice_id = $1 AND published_at IS NULL AND (language, batch_no) > ($2, $3)
                    ORDER BY language, batch_no
                    LIMIT $4
                    """,
                    notice_id,
                    after[0],
                    after[1],
                    self._chunk,
                )
                if not rows:
                    break
                events = []
                for row in rows:
                    batch_id = batch_id_for(notice_id, row["language"], row["batch_no"])
                    events.append(
                        (
                            delivery_key(notice_id, row["language"]),
                            DeliveryPlanned(
                                event_id=planned_event_id(batch_id),
                                occurred_at=released_at,
                                batch_id=batch_id,
                                notice_id=notice_id,
                                language=row["language"],
                                batch_no=row["batch_no"],
                                recipients=tuple(row["recipients"]),
                                purpose=Purpose.NOTICE,
                                priority=priority,
                                notice_recipients=total,
                                planned_at=released_at,
                                content=content,
                            ),
                        )
                    )
                await self._publisher.publish_many(self._topic, events)
                await conn.execute(
                    """
                    UPDATE notice_batches b SET published_at = $2
                    FROM unnest($3::text[], $4::int[]) AS p(language, batch_no)
                    WHERE b.notice_id = $1 AND b.language = p.language AND b.batch_no = p.batch_no
                    """,
                    notice_id,
                    self._clock(),
                    [r["language"] for r in rows],
                    [r["batch_no"] for r in rows],
                )
                published += len(rows)
                metrics.BATCHES_PUBLISHED.labels(Purpose.NOTICE.value).inc(len(rows))
                after = (rows[-1]["language"], rows[-1]["batch_no"])
            await conn.execute(
                "UPDATE notices SET state = 'planned', planned_at = $2"
                " WHERE notice_id = $1 AND state = 'publishing'",
                notice_id,
                self._clock(),
            )
            log.info("notice planned", extra={"batches_published": published, "recipients": total})
        return Released(notice_id, total, int(notice["batches"]), published)

    @staticmethod
    async def _try_lock(conn: Connection, notice_id: uuid.UUID) -> bool:
        return bool(
            await conn.fetchval(
                f"SELECT pg_try_advisory_lock({_LOCK_SPACE}, hashtext($1::text))",
                str(notice_id),
            )
        )

    @staticmethod
    async def _unlock(conn: Connection, notice_id: uuid.UUID) -> None:
        # A broken connection has released the lock already; do not hide the error that broke it.
        with contextlib.suppress(*TRANSIENT):
            await conn.execute(
                f"SELECT pg_advisory_unlock({_LOCK_SPACE}, hashtext($1::text))",
                str(notice_id),
            )


# --------------------------------------------------------------------------------------------------
# Staff: cancel and status


async def cancel(conn: Connection, notice_id: uuid.UUID, *, by: str, now: datetime) -> str | None:
    """Cancel a notice not yet released; returns its state afterwards (None: unknown notice)."""
    row = await conn.fetchrow(
        """
        UPDATE notices SET state = 'cancelled', cancelled_at = $2, cancelled_by = $3
        WHERE notice_id = $1 AND state = 'scheduled'
        RETURNING state
        """,
        notice_id,
        now,
        by,
    )
    if row is not None:
        return str(row["state"])
    state: str | None = await conn.fetchval("SELECT state FROM notices WHERE notice_id = $1", notice_id)
    return state


@dataclass(frozen=True, slots=True)
class LanguageStatus:
    language: str
    batches: int
    planned: int
    published_batches: int
    sent: int
    failed: int
    unreachable: int

    @property
    def pending(self) -> int:
        return max(self.planned - self.sent - self.failed, 0)


async def notice_row(conn: Connection, notice_id: uuid.UUID) -> Any:
    return await conn.fetchrow("SELECT * FROM notices WHERE notice_id = $1", notice_id)


async def language_status(conn: Connection, notice_id: uuid.UUID) -> list[LanguageStatus]:
    """Planned (snapshot), and sent / failed / unreachable (sender's results) per language."""
    rows = await conn.fetch(
        """
        WITH planned AS (
            SELECT language, count(*) AS batches, sum(size) AS planned,
                   count(*) FILTER (WHERE published_at IS NOT NULL) AS published
            FROM notice_batches WHERE notice_id = $1 GROUP BY language
        ), outcome AS (
            SELECT language,
                   COALESCE(sum(recipients) FILTER (WHERE status = 'sent'), 0) AS sent,
                   COALESCE(sum(recipients) FILTER (WHERE status = 'failed'), 0) AS failed,
                   COALESCE(sum(unreachable), 0) AS unreachable
            FROM delivery_outcomes WHERE notice_id = $1 GROUP BY language
        )
        SELECT COALESCE(p.language, o.language) AS language,
               COALESCE(p.batches, 0) AS batches, COALESCE(p.planned, 0) AS planned,
               COALESCE(p.published, 0) AS published, COALESCE(o.sent, 0) AS sent,
               COALESCE(o.failed, 0) AS failed, COALESCE(o.unreachable, 0) AS unreachable
        FROM planned p FULL JOIN outcome o ON o.language = p.language
        ORDER BY 1
        """,
        notice_id,
    )
    return [
        LanguageStatus(
            r["language"],
            int(r["batches"]),
            int(r["planned"]),
            int(r["published"]),
            int(r["sent"]),
            int(r["failed"]),
            int(r["unreachable"]),
        )
        for r in rows
    ]


def audience_filter_of(row: Any) -> AudienceFilter:
    return AudienceFilter.model_validate(row["audience"])
