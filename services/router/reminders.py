"""Personal reminders: raised from the registry, held for quiet hours, published one per worker.

``evaluate`` reads the linked, reachable subscribers whose employment facts might make a rule due
(expiry within the longest lead time, a hire or separation within the longest window), lets the pure
rules of :mod:`services.router.domain.reminders` decide, and inserts what is due into
``reminder_deliveries`` (``ON CONFLICT DO NOTHING`` on rule, worker and trigger date: once, ever). It
runs periodically over everyone and at once for the workers an employment batch touched.

``publish_due`` sends the pending ones whose release time came, as DeliveryPlanned with
``purpose=reminder``, one recipient, ``values={date, city, employer}`` and the rule's stable
notice_id, after checking again that the subscriber still may receive it (still linked, following,
reachable, not stopped, not opted out of the category, rule still enabled).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.common import languages
from services.common.contracts import (
    DeliveryPlanned,
    NoticeCategory,
    Priority,
    Purpose,
    delivery_key,
)
from services.common.db import Connection, Pool
from services.common.kafka import Publisher

from . import metrics
from .domain import reminders as rules_domain
from .domain.quiet_hours import QuietHours, release_time
from .domain.reminders import Job, Rule, Trigger, Worker
from .planning import planned_event_id

log = logging.getLogger(__name__)


async def load_rules(conn: Connection, *, enabled_only: bool = True) -> list[Rule]:
    rows = await conn.fetch(
        "SELECT * FROM reminder_rules WHERE enabled OR NOT $1 ORDER BY rule_id", enabled_only
    )
    return [rule_of(r) for r in rows]


def rule_of(row: Any) -> Rule:
    return Rule(
        rule_id=row["rule_id"],
        trigger=Trigger(row["trigger"]),
        days=row["days"],
        window_days=row["window_days"],
        category=NoticeCategory(row["category"]),
        title=row["title"],
        body=row["body"],
        source_language=row["source_language"],
        residence_statuses=frozenset(row["residence_statuses"]),
        enabled=row["enabled"],
    )


_CANDIDATES = """
WITH candidates AS (
    SELECT DISTINCT s.worker_id
    FROM subscribers s JOIN employments e ON e.worker_id = s.worker_id
    WHERE s.worker_id IS NOT NULL AND s.followed AND s.unreachable_at IS NULL AND s.stopped_at IS NULL
      AND COALESCE(s.language, $5::text) = ANY($6::text[])
      AND ($1::text[] IS NULL OR s.worker_id = ANY($1::text[]))
      AND ((s.record_period_expires_on BETWEEN $2 AND $2 + $4::int)
           OR e.hired_on >= $2 - $3::int OR e.separated_on >= $2 - $3::int)
)
SELECT s.line_user_id, COALESCE(s.language, $5::text) AS language, s.worker_id, s.opted_out_categories,
       s.record_residence_status, s.record_period_expires_on,
       e.establishment_id, e.municipality_code, e.active, e.hired_on, e.separated_on
FROM candidates c
JOIN subscribers s ON s.worker_id = c.worker_id
JOIN employments e ON e.worker_id = c.worker_id
ORDER BY s.worker_id, e.establishment_id
"""


@dataclass(frozen=True, slots=True)
class _Recipient:
    line_user_id: str
    language: str
    opted_out: frozenset[str]


class ReminderPlanner:
    def __init__(
        self,
        *,
        pool: Pool,
        publisher: Publisher,
        topic: str,
        quiet: QuietHours,
        chunk: int,
        fallback_language: str | None,
    ) -> None:
        self._pool = pool
        self._publisher = publisher
        self._topic = topic
        self._quiet = quiet
        self._chunk = chunk
        self._fallback = fallback_language

    @property
    def zone(self) -> Any:
        return self._quiet.zone

    async def evaluate(self, conn: Connection, now: datetime, worker_ids: Sequence[str] | None = None) -> int:
        """Raise the reminders due today for these workers (None: every linked worker)."""
        rules = await load_rules(conn)
        if not rules or (worker_ids is not None and not worker_ids):
            return 0
        today = rules_domain.today_in(self._quiet.zone, now)
        back, ahead = rules_domain.lookback_days(rules)
        rows = await conn.fetch(
            _CANDIDATES,
            None if worker_ids is None else list(worker_ids),
            today,
            back,
            ahead,
            self._fallback,
            sorted(languages.LANGUAGE_CODES),
        )
        if not rows:
            return 0
        workers: dict[str, tuple[_Recipient, Worker]] = {}
        jobs: dict[str, list[Job]] = defaultdict(list)
        for r in rows:
            jobs[r["worker_id"]].append(
                Job(
                    r["establishment_id"],
                    r["municipality_code"],
                    r["active"],
                    r["hired_on"],
                    r["separated_on"],
                )
            )
            if r["worker_id"] not in workers:
                workers[r["worker_id"]] = (
                    _Recipient(r["line_user_id"], r["language"], frozenset(r["opted_out_categories"])),
                    Worker(r["worker_id"], r["record_residence_status"], r["record_period_expires_on"]),
                )
        by_id = {rule.rule_id: rule for rule in rules}
        due: list[tuple[_Recipient, str, rules_domain.Due]] = []
        for worker_id, (recipient, worker) in workers.items():
            worker = Worker(
                worker.worker_id, worker.residence_status, worker.period_expires_on, tuple(jobs[worker_id])
            )
            for item in rules_domain.due_all(rules, worker, today):
                if by_id[item.rule_id].category.value in recipient.opted_out:
                    continue
                due.append((recipient, worker_id, item))
        if not due:
            return 0
        cities, employers = await self._names(conn, [d for _, _, d in due])
        release_at, _ = release_time(now, Priority.NORMAL, self._quiet)
        columns: list[list[Any]] = [[] for _ in range(8)]
        for recipient, worker_id, item in due:
            values = rules_domain.placeholder_values(item, city_names=cities, employer_names=employers)
            for column, value in zip(
                columns,
                (
                    item.rule_id,
                    worker_id,
                    item.trigger_on,
                    recipient.line_user_id,
                    recipient.language,
                    values,
                    rules_domain.reminder_batch_id(
                        item.rule_id, worker_id, item.trigger_on, recipient.language
                    ),
                    release_at,
                ),
                strict=True,
            ):
                column.append(value)
        inserted = await conn.fetch(
            """
            INSERT INTO reminder_deliveries
                (rule_id, worker_id, trigger_on, line_user_id, language, "values", batch_id, release_at)
            SELECT * FROM unnest($1::text[], $2::text[], $3::date[], $4::text[], $5::text[], $6::jsonb[],
                                 $7::text[], $8::timestamptz[])
            ON CONFLICT DO NOTHING
            RETURNING rule_id
            """,
            *columns,
        )
        for row in inserted:
            metrics.REMINDERS_RAISED.labels(row["rule_id"]).inc()
        if inserted:
            log.info("reminders raised", extra={"reminders": len(inserted)})
        return len(inserted)

    @staticmethod
    async def _names(
        conn: Connection, items: Sequence[rules_domain.Due]
    ) -> tuple[dict[str, str], dict[str, str | None]]:
        codes = sorted({d.job.municipality_code for d in items if d.job is not None})
        ids = sorted({d.job.establishment_id for d in items if d.job is not None})
        city_rows = await conn.fetch(
            "SELECT code, name_en FROM municipalities WHERE code = ANY($1::text[])", codes
        )
        employer_rows = await conn.fetch(
            "SELECT establishment_id, name FROM establishments WHERE establishment_id = ANY($1::text[])", ids
        )
        return (
            {r["code"]: r["name_en"] for r in city_rows},
            {r["establishment_id"]: r["name"] for r in employer_rows},
        )

    async def publish_due(self, now: datetime) -> int:
        """Publish every pending reminder whose time came; returns how many were published."""
        if self._quiet.contains(now):
            async with self._pool.acquire() as conn:
                await conn.execute(
                    "UPDATE reminder_deliveries SET release_at = $2"
                    " WHERE state = 'pending' AND release_at <= $1",
                    now,
                    self._quiet.next_end(now),
                )
            return 0
        total = 0
        while True:
            published, seen = await self._publish_chunk(now)
            total += published
            if seen < self._chunk:
                return total

    async def _publish_chunk(self, now: datetime) -> tuple[int, int]:
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                """
                SELECT r.rule_id, r.worker_id, r.trigger_on, r.line_user_id, r.language, r."values",
                       r.batch_id, r.created_at,
                       CASE
                         WHEN NOT rr.enabled THEN 'rule_disabled'
                         WHEN s.line_user_id IS NULL THEN 'erased'
                         WHEN s.worker_id IS DISTINCT FROM r.worker_id THEN 'unlinked'
                         WHEN NOT s.followed THEN 'unfollowed'
                         WHEN s.unreachable_at IS NOT NULL THEN 'unreachable'
                         WHEN s.stopped_at IS NOT NULL THEN 'stopped'
                         WHEN s.opted_out_categories @> ARRAY[rr.category] THEN 'opted_out'
                       END AS skip_reason
                FROM reminder_deliveries r
                JOIN reminder_rules rr ON rr.rule_id = r.rule_id
                LEFT JOIN subscribers s ON s.line_user_id = r.line_user_id
                WHERE r.state = 'pending' AND r.release_at <= $1
                ORDER BY r.release_at, r.batch_id
                LIMIT $2
                FOR UPDATE OF r SKIP LOCKED
                """,
                now,
                self._chunk,
            )
            if not rows:
                return 0, 0
            rules = {rule.rule_id: rule for rule in await load_rules(conn, enabled_only=False)}
            events = []
            for r in rows:
                if r["skip_reason"] is not None:
                    continue
                rule = rules[r["rule_id"]]
                events.append(
                    (
                        delivery_key(rule.notice_id, r["language"]),
                        DeliveryPlanned(
                            event_id=planned_event_id(r["batch_id"]),
                            occurred_at=r["created_at"],
                            batch_id=r["batch_id"],
                            notice_id=rule.notice_id,
                            language=r["language"],
                            batch_no=0,
                            recipients=(r["line_user_id"],),
                            purpose=Purpose.REMINDER,
                            priority=Priority.NORMAL,
                            notice_recipients=1,
                            planned_at=r["created_at"],
                            content=rule.content(),
                            values=r["values"],
                        ),
                    )
                )
            if events:
                await self._publisher.publish_many(self._topic, events)
                metrics.BATCHES_PUBLISHED.labels(Purpose.REMINDER.value).inc(len(events))
            await conn.execute(
                """
                UPDATE reminder_deliveries r
                SET state = CASE WHEN p.reason IS NULL THEN 'published' ELSE 'skipped' END,
                    skip_reason = p.reason,
                    published_at = CASE WHEN p.reason IS NULL THEN $1::timestamptz END
                FROM unnest($2::text[], $3::text[]) AS p(batch_id, reason)
                WHERE r.batch_id = p.batch_id
                """,
                now,
                [r["batch_id"] for r in rows],
                [r["skip_reason"] for r in rows],
            )
            for r in rows:
                if r["skip_reason"] is not None:
                    metrics.REMINDERS_SKIPPED.labels(r["skip_reason"]).inc()
            return len(events), len(rows)

    async def purge(self, now: datetime, *, retention_days: int) -> int:
        today = rules_domain.today_in(self._quiet.zone, now)
        async with self._pool.acquire() as conn:
            status = await conn.execute(
                "DELETE FROM reminder_deliveries WHERE state <> 'pending' AND trigger_on < $1",
                today - timedelta(days=retention_days),
            )
        return int(status.split()[-1])
