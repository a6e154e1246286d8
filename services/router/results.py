"""Delivery results: counts per notice and language, and subscribers LINE cannot reach.

One outcome row per batch id: a later report for the same batch (a failed batch retried and sent)
replaces the earlier one, an older or repeated one changes nothing. Users LINE reported unreachable
are marked and left out of every later audience and reminder, until they follow again after that.
Conversation replies count for reachability only; their outcomes are not kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from services.common.contracts import DeliveryResult, Purpose
from services.common.db import Connection

from . import metrics

_OUTCOMES = """
INSERT INTO delivery_outcomes AS o
    (batch_id, notice_id, language, purpose, recipients, status, unreachable, attempts, http_status,
     error, completed_at)
SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::int[], $6::text[], $7::int[],
                     $8::int[], $9::int[], $10::text[], $11::timestamptz[])
ON CONFLICT (batch_id) DO UPDATE SET
    status = EXCLUDED.status, recipients = EXCLUDED.recipients, unreachable = EXCLUDED.unreachable,
    attempts = EXCLUDED.attempts, http_status = EXCLUDED.http_status, error = EXCLUDED.error,
    completed_at = EXCLUDED.completed_at, recorded_at = now()
WHERE EXCLUDED.completed_at > o.completed_at
"""

_UNREACHABLE = """
UPDATE subscribers s SET unreachable_at = x.at, updated_at = now()
FROM unnest($1::text[], $2::timestamptz[]) AS x(line_user_id, at)
WHERE s.line_user_id = x.line_user_id AND s.unreachable_at IS NULL
  AND (s.follow_changed_at IS NULL OR s.follow_changed_at < x.at)
"""


async def apply_results(conn: Connection, results: Sequence[DeliveryResult]) -> None:
    newest: dict[str, DeliveryResult] = {}
    unreachable: dict[str, datetime] = {}
    for result in results:
        metrics.DELIVERY_RESULTS.labels(result.status.value).inc()
        for user in result.unreachable:
            unreachable[user] = max(unreachable.get(user, result.completed_at), result.completed_at)
        if result.purpose is Purpose.CONVERSATION:
            continue
        seen = newest.get(result.batch_id)
        if seen is None or result.completed_at > seen.completed_at:
            newest[result.batch_id] = result
    if newest:
        ordered = [newest[k] for k in sorted(newest)]
        await conn.execute(
            _OUTCOMES,
            [r.batch_id for r in ordered],
            [r.notice_id for r in ordered],
            [r.language for r in ordered],
            [r.purpose.value for r in ordered],
            [len(r.recipients) for r in ordered],
            [r.status.value for r in ordered],
            [len(r.unreachable) for r in ordered],
            [r.attempts for r in ordered],
            [r.http_status for r in ordered],
            [r.error for r in ordered],
            [r.completed_at for r in ordered],
        )
    if unreachable:
        users = sorted(unreachable)
        status = await conn.execute(_UNREACHABLE, users, [unreachable[u] for u in users])
        metrics.UNREACHABLE_MARKED.inc(int(status.split()[-1]))
