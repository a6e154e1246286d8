"""Notices: recorded once, released on time, their audience snapshotted once and published in batches.

1. ``record_notices`` (the notices.v1 consumer, in its tracked transaction): one row per notice_id, so
   a redelivered NoticeSubmitted changes nothing. The release time is computed then: ``send_at`` (or
   now), moved to the end of quiet hours for a normal notice.
2. ``Planner.release_next`` (the scheduler): claims one due notice with ``FOR UPDATE SKIP LOCKED``
   (several replicas are safe) and a session advisory lock, re-checks quiet hours, and marks it
   ``publishing``.
3. The audience is then read language by language in pages of whole batches, in (language,
   line_user_id) order along an index of reachable subscribers, all pages under one exported MVCC
   snapshot; each page is numbered into batches of at most 500 and stored by one ``INSERT ... SELECT``
   (PostgreSQL does the work, no list of recipients is held here), committed, and published at once.
   The notice's size (every DeliveryPlanned carries it) is counted under the same snapshot while the
   first page is read. The first batches of a million-recipient notice leave within a second, while the
   rest is still being read (the snapshot used to take six seconds before the first publish).
4. A crash or a Kafka error mid-release leaves the notice ``publishing``: the next release worker (of
   any replica, once the advisory lock died with the connection) publishes the committed pages not yet
   published and continues the snapshot after them (see :class:`Planner`). Batch ids are
   ``notice_id:language:batch_no`` over a membership that never changes once committed, so the few
   batches sent twice around a crash carry the same ids and event ids, and later stages drop them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
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


#: Batches in the first page of a snapshot: few, so that the first of them leave within milliseconds.
FIRST_PAGE_BATCHES = 10
#: A session's scratch table of ids already planned (pg_temp.gunma_planned_already), used only when a
#: snapshot is resumed after a crash.
_RESUMED_FILTER = (
    "AND s.created_at <= $15 AND NOT EXISTS "
    "(SELECT 1 FROM pg_temp.gunma_planned_already p WHERE p.line_user_id = s.line_user_id)"
)


def _page_sql(*, includes_unset: bool, resumed: bool) -> str:
    """One page of one language's audience, numbered into batches and stored, in one statement.

    Parameters: the audience predicate ($1..$8), then $9 language, $10 the last id of the previous page,
    $11 ids in this page, $12 batch size, $13 notice id, $14 first batch number[, $15 snapshot_at].
    Pages start on batch boundaries and hold whole batches, so batch k of a language is the same 500
    ids whichever page it falls in.
    """
    resumed_sql = _RESUMED_FILTER if resumed else ""
    return f"""
    WITH page AS (
        SELECT s.line_user_id AS id
        FROM subscribers s
        WHERE {audience_store.one_language("$9", includes_unset=includes_unset)}
          AND s.line_user_id > $10
          AND {audience_store.predicate(1)}
          {resumed_sql}
        ORDER BY s.line_user_id
        LIMIT $11
    ), numbered AS (
        SELECT id, (row_number() OVER (ORDER BY id) - 1) / $12 AS k FROM page
    )
    INSERT INTO notice_batches (notice_id, language, batch_no, size, recipients)
    SELECT $13, $9, $14 + k, count(*), array_agg(id ORDER BY id)
    FROM numbered
    GROUP BY k
    RETURNING language, batch_no, size, recipients
    """  # noqa: S608 - fixed fragments with numbered parameters


def _count_sql(*, resumed: bool) -> str:
    """Recipients per language under the snapshot ($1..$8 the predicate[, $9 snapshot_at])."""
    return f"""
    SELECT {audience_store.language_expression("$7")} AS language, count(*) AS n
    FROM subscribers s
    WHERE {audience_store.predicate(1)} {"AND s.created_at <= $9" if resumed else ""}
    GROUP BY 1
    """  # noqa: S608 - fixed fragments with numbered parameters


_SNAPSHOT_ID = re.compile(r"^[0-9A-Fa-f]+-[0-9A-Fa-f]+(-[0-9A-Fa-f]+)?$")


@dataclass(frozen=True, slots=True)
class Released:
    notice_id: uuid.UUID
    recipients: int
    batches: int
    published: int


@dataclass(slots=True)
class _Notice:
    """What every DeliveryPlanned of a notice carries."""

    notice_id: uuid.UUID
    content: NoticeContent
    priority: Priority
    released_at: datetime
    #: all recipients across languages (for the sender's quota check); known before the first publish
    total: int | None
    published: int = 0


class Planner:
    """Releases due notices: the audience is snapshotted page by page and each page is published as soon
    as it is stored, so a large notice starts going out while the rest is still being read.

    Exactly once, also across crashes:

    - every page of a release reads one MVCC snapshot, exported by a read-only transaction that stays
      open while the pages are taken (``pg_export_snapshot`` / ``SET TRANSACTION SNAPSHOT``): a
      subscriber who changes language meanwhile is in exactly one language's pages;
    - pages are (language, line_user_id) ranges starting on batch boundaries, committed before they are
      published, so batch ``notice:language:k`` always has the same members and id;
    - a release cut short (crash, Kafka error) is resumed from the committed pages: their unpublished
      batches are published as stored; the rest of the audience is read again leaving out whoever is
      already in a batch of the notice (a language change across the crash) and whoever registered
      after the release began (``snapshot_at``).
    """

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
                return await self._plan(conn, notice_id, resumed=True)
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
                    SELECT notice_id FROM notices
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
                await conn.execute(
                    "UPDATE notices SET state = 'publishing', released_at = $2, snapshot_at = now()"
                    " WHERE notice_id = $1",
                    notice_id,
                    now,
                )
            metrics.NOTICES_RELEASED.inc()
            return await self._plan(conn, notice_id, resumed=False)
        finally:
            if locked is not None:
                await self._unlock(conn, locked)

    async def _plan(self, conn: Connection, notice_id: uuid.UUID, *, resumed: bool) -> Released:
        """Snapshot what is not snapshotted yet, publish what is not published yet, then mark planned."""
        row = await conn.fetchrow("SELECT * FROM notices WHERE notice_id = $1", notice_id)
        assert row is not None
        notice = _Notice(
            notice_id,
            NoticeContent.model_validate(row["content"]),
            Priority(row["priority"]),
            row["released_at"],
            row["recipients"],
        )
        started = time.perf_counter()
        with logs.bind(notice_id=str(notice_id)):
            if row["snapshot_completed_at"] is None:
                if resumed and notice.total is not None:
                    await self._publish_stored(conn, notice)  # pages committed before the cut
                await self._snapshot(conn, notice, audience_of(row), row["snapshot_at"], resumed=resumed)
                metrics.SNAPSHOT_SECONDS.observe(time.perf_counter() - started)
            await self._publish_stored(conn, notice)
            totals = await conn.fetchrow(
                """
                UPDATE notices SET state = 'planned', planned_at = $2,
                    snapshot_completed_at = COALESCE(snapshot_completed_at, $2),
                    recipients = (SELECT COALESCE(sum(size), 0) FROM notice_batches WHERE notice_id = $1),
                    batches = (SELECT count(*) FROM notice_batches WHERE notice_id = $1)
                WHERE notice_id = $1 AND state = 'publishing'
                RETURNING recipients, batches
                """,
                notice_id,
                self._clock(),
            )
            recipients = int(totals["recipients"]) if totals else int(notice.total or 0)
            batches = int(totals["batches"]) if totals else 0
            if totals is not None:
                metrics.RECIPIENTS_PLANNED.inc(recipients)
            log.info(
                "notice planned",
                extra={
                    "recipients": recipients,
                    "batches": batches,
                    "batches_published": notice.published,
                    "resumed": resumed,
                    "seconds": round(time.perf_counter() - started, 3),
                },
            )
        return Released(notice_id, recipients, batches, notice.published)

    async def _snapshot(
        self,
        conn: Connection,
        notice: _Notice,
        audience: Audience,
        snapshot_at: datetime | None,
        *,
        resumed: bool,
    ) -> None:
        """Take the audience page by page under one exported MVCC snapshot, publishing each page."""
        if not audience.nobody:
            parameters = audience_store.parameters(audience, self._fallback)
            progress: dict[str, Any] = {}
            extra: list[Any] = []
            if resumed:
                progress = await self._prepare_resume(conn, notice.notice_id)
                # (a release begun before migration 0200 has no snapshot_at: nobody is left out then)
                extra = [snapshot_at or datetime.max.replace(tzinfo=UTC)]
            async with (
                self._pool.acquire() as holder,
                holder.transaction(isolation="repeatable_read", readonly=True),
            ):
                snapshot = str(await holder.fetchval("SELECT pg_export_snapshot()"))
                if not _SNAPSHOT_ID.match(snapshot):
                    raise RuntimeError(f"unexpected snapshot id {snapshot!r}")
                counting = None
                if notice.total is None:
                    counting = asyncio.create_task(
                        holder.fetch(_count_sql(resumed=resumed), *parameters, *extra)
                    )
                try:
                    await self._pages(conn, notice, audience, parameters, extra, snapshot, progress, counting)
                finally:
                    if counting is not None and not counting.done():
                        counting.cancel()
                        with contextlib.suppress(asyncio.CancelledError, *TRANSIENT):
                            await counting
        elif notice.total is None:
            notice.total = 0
        await conn.execute(
            "UPDATE notices SET snapshot_completed_at = $2, recipients = COALESCE(recipients, $3)"
            " WHERE notice_id = $1",
            notice.notice_id,
            self._clock(),
            notice.total or 0,
        )

    async def _pages(
        self,
        conn: Connection,
        notice: _Notice,
        audience: Audience,
        parameters: list[Any],
        extra: list[Any],
        snapshot: str,
        progress: dict[str, Any],
        counting: asyncio.Task[list[Any]] | None,
    ) -> None:
        size = self._batch_size
        resumed = bool(extra)
        page_batches = min(FIRST_PAGE_BATCHES, self._chunk)
        pending: list[Any] = []  # stored, to publish: small languages share one publish
        for language in audience_store.languages_of(audience):
            last = progress.get(language)
            if last is not None and last["size"] < size:
                continue  # the language ended in a committed page before the cut
            cursor = last["last_id"] if last is not None else ""
            next_no = last["batch_no"] + 1 if last is not None else 0
            sql = _page_sql(includes_unset=language == self._fallback, resumed=resumed)
            while True:
                limit = page_batches * size
                async with conn.transaction(isolation="repeatable_read"):
                    await conn.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
                    rows = sorted(
                        await conn.fetch(
                            sql, *parameters, language, cursor, limit, size, notice.notice_id, next_no, *extra
                        ),
                        key=lambda r: r["batch_no"],
                    )
                if counting is not None:
                    await self._record_totals(conn, notice, await counting)
                    counting = None
                pending += rows
                if len(pending) >= page_batches:
                    await self._publish_rows(conn, notice, pending)
                    pending = []
                    page_batches = self._chunk
                if sum(r["size"] for r in rows) < limit:
                    break
                cursor, next_no = rows[-1]["recipients"][-1], rows[-1]["batch_no"] + 1
        if counting is not None:  # nobody in any language: the count is still wanted
            await self._record_totals(conn, notice, await counting)
        if pending:
            await self._publish_rows(conn, notice, pending)

    async def _record_totals(self, conn: Connection, notice: _Notice, counts: list[Any]) -> None:
        """The audience's size, known before the first publish; stored with the expected batch count."""
        per_language = {r["language"]: int(r["n"]) for r in counts}
        notice.total = sum(per_language.values())
        batches = sum(-(-n // self._batch_size) for n in per_language.values())
        await conn.execute(
            "UPDATE notices SET recipients = $2, batches = $3 WHERE notice_id = $1",
            notice.notice_id,
            notice.total,
            batches,
        )
        log.info("notice released", extra={"recipients": notice.total, "batches": batches})

    async def _prepare_resume(self, conn: Connection, notice_id: uuid.UUID) -> dict[str, Any]:
        """Where each language's committed pages end, and the ids already in a batch (in a temporary
        table, committed before the snapshot is exported, so the pages' snapshot sees it)."""
        rows = await conn.fetch(
            """
            SELECT DISTINCT ON (language) language, batch_no, size, recipients[size] AS last_id
            FROM notice_batches WHERE notice_id = $1
            ORDER BY language, batch_no DESC
            """,
            notice_id,
        )
        await conn.execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS gunma_planned_already"
            ' (line_user_id text COLLATE "C" PRIMARY KEY)'
        )
        await conn.execute("TRUNCATE pg_temp.gunma_planned_already")
        await conn.execute(
            "INSERT INTO pg_temp.gunma_planned_already"
            " SELECT DISTINCT unnest(recipients) FROM notice_batches WHERE notice_id = $1",
            notice_id,
        )
        await conn.execute("ANALYZE pg_temp.gunma_planned_already")
        return {r["language"]: r for r in rows}

    async def _publish_stored(self, conn: Connection, notice: _Notice) -> None:
        """Publish the committed batches not yet published (after a cut), in keyset pages."""
        after: tuple[str, int] = ("", -1)
        while True:
            rows = await conn.fetch(
                """
                SELECT language, batch_no, recipients FROM notice_batches
                WHERE notice_id = $1 AND published_at IS NULL AND (language, batch_no) > ($2, $3)
                ORDER BY language, batch_no
                LIMIT $4
                """,
                notice.notice_id,
                after[0],
                after[1],
                self._chunk,
            )
            if not rows:
                return
            await self._publish_rows(conn, notice, rows)
            after = (rows[-1]["language"], rows[-1]["batch_no"])

    async def _publish_rows(self, conn: Connection, notice: _Notice, rows: Sequence[Any]) -> None:
        """One DeliveryPlanned per stored batch; marked published once Kafka acknowledged them all."""
        total = notice.total if notice.total else sum(len(r["recipients"]) for r in rows)
        events = []
        for row in rows:
            batch_id = batch_id_for(notice.notice_id, row["language"], row["batch_no"])
            events.append(
                (
                    delivery_key(notice.notice_id, row["language"]),
                    # Built without validation: the ids are the subscribers table's (its CHECK is the
                    # contract's pattern), distinct by the snapshot's keyset order, at most batch_size.
                    DeliveryPlanned.model_construct(
                        event_id=planned_event_id(batch_id),
                        occurred_at=notice.released_at,
                        batch_id=batch_id,
                        notice_id=notice.notice_id,
                        language=row["language"],
                        batch_no=row["batch_no"],
                        recipients=tuple(row["recipients"]),
                        purpose=Purpose.NOTICE,
                        priority=notice.priority,
                        notice_recipients=total,
                        planned_at=notice.released_at,
                        content=notice.content,
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
            notice.notice_id,
            self._clock(),
            [r["language"] for r in rows],
            [r["batch_no"] for r in rows],
        )
        notice.published += len(rows)
        metrics.BATCHES_PUBLISHED.labels(Purpose.NOTICE.value).inc(len(rows))

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
