"""SQL of the sender: batches (attempts and outcomes) and notice admissions. One statement per call,
each covering a whole consumed batch (unnest), so the database costs a few round trips per poll."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from services.common.contracts import DeliveryReady
from services.common.db import Connection, Pool

from .delivery import Outcome
from .domain.decisions import Admission, QuotaStatus
from .domain.retry_keys import retry_key_for


@dataclass(frozen=True, slots=True)
class BatchRecord:
    batch_id: str
    status: str
    sent_via: str | None
    request_id: str | None
    http_status: int | None
    error: str | None
    failure_kind: str | None
    unreachable: tuple[str, ...]
    attempts: int
    in_doubt_since: datetime | None
    completed_at: datetime | None

    @property
    def finished(self) -> bool:
        return self.status in ("sent", "failed")


async def load(conn: Connection | Pool, batch_ids: Sequence[str]) -> dict[str, BatchRecord]:
    rows = await conn.fetch(
        """
        SELECT batch_id, status, sent_via, request_id, http_status, error, failure_kind, unreachable,
               attempts, in_doubt_since, completed_at
        FROM sender_batches WHERE batch_id = ANY($1::text[])
        """,
        list(batch_ids),
    )
    return {
        r["batch_id"]: BatchRecord(
            r["batch_id"],
            r["status"],
            r["sent_via"],
            r["request_id"],
            r["http_status"],
            r["error"],
            r["failure_kind"],
            tuple(r["unreachable"] or ()),
            r["attempts"],
            r["in_doubt_since"],
            r["completed_at"],
        )
        for r in rows
    }


async def mark_sending(conn: Connection | Pool, batches: Sequence[DeliveryReady]) -> None:
    """Before the first request can reach LINE: the batch may be accepted from now on."""
    if not batches:
        return
    await conn.execute(
        """
        INSERT INTO sender_batches AS b (batch_id, notice_id, language, batch_no, requested_mode, retry_key,
                                         recipients, status, planned_at, in_doubt_since)
        SELECT t.batch_id, t.notice_id, t.language, t.batch_no, t.mode, t.retry_key, t.recipients,
               'sending', t.planned_at, now()
        FROM unnest($1::text[], $2::uuid[], $3::text[], $4::int[], $5::text[], $6::uuid[], $7::int[],
                    $8::timestamptz[])
             AS t(batch_id, notice_id, language, batch_no, mode, retry_key, recipients, planned_at)
        ON CONFLICT (batch_id) DO UPDATE
            SET in_doubt_since = COALESCE(b.in_doubt_since, now()), updated_at = now()
            WHERE b.status = 'sending'
        """,
        [b.batch_id for b in batches],
        [b.notice_id for b in batches],
        [b.language for b in batches],
        [b.batch_no for b in batches],
        [b.mode.value for b in batches],
        [retry_key_for(b.batch_id) for b in batches],
        [len(b.recipients) for b in batches],
        [b.planned_at for b in batches],
    )


async def record_outcomes(conn: Connection | Pool, outcomes: Sequence[tuple[DeliveryReady, Outcome]]) -> None:
    """Final outcomes and held batches (monthly quota) in one statement."""
    if not outcomes:
        return
    await conn.execute(
        """
        INSERT INTO sender_batches AS b (batch_id, notice_id, language, batch_no, requested_mode, retry_key,
                                         recipients, status, planned_at, sent_via, request_id, http_status,
                                         error, failure_kind, unreachable, attempts, in_doubt_since,
                                         completed_at)
        SELECT t.batch_id, t.notice_id, t.language, t.batch_no, t.mode, t.retry_key, t.recipients,
               t.status, t.planned_at, t.sent_via, t.request_id, t.http_status, t.error, t.failure_kind,
               COALESCE(string_to_array(t.unreachable, ','), '{}'), t.attempts,
               CASE WHEN t.in_doubt THEN now() END,
               CASE WHEN t.status <> 'sending' THEN now() END
        FROM unnest($1::text[], $2::uuid[], $3::text[], $4::int[], $5::text[], $6::uuid[], $7::int[],
                    $8::text[], $9::timestamptz[], $10::text[], $11::text[], $12::int[], $13::text[],
                    $14::text[], $15::text[], $16::int[], $17::bool[])
             AS t(batch_id, notice_id, language, batch_no, mode, retry_key, recipients, status, planned_at,
                  sent_via, request_id, http_status, error, failure_kind, unreachable, attempts, in_doubt)
        ON CONFLICT (batch_id) DO UPDATE SET
            status = EXCLUDED.status,
            sent_via = EXCLUDED.sent_via,
            request_id = COALESCE(EXCLUDED.request_id, b.request_id),
            http_status = EXCLUDED.http_status,
            error = EXCLUDED.error,
            failure_kind = EXCLUDED.failure_kind,
            unreachable = EXCLUDED.unreachable,
            attempts = b.attempts + EXCLUDED.attempts,
            -- held (still 'sending'): keep the doubt only if an attempt may have been accepted
            in_doubt_since = CASE
                WHEN EXCLUDED.status <> 'sending' THEN b.in_doubt_since
                WHEN EXCLUDED.in_doubt_since IS NOT NULL THEN COALESCE(b.in_doubt_since, now())
                ELSE NULL END,
            completed_at = EXCLUDED.completed_at,
            updated_at = now()
        WHERE b.status = 'sending'
        """,
        [r.batch_id for r, _ in outcomes],
        [r.notice_id for r, _ in outcomes],
        [r.language for r, _ in outcomes],
        [r.batch_no for r, _ in outcomes],
        [r.mode.value for r, _ in outcomes],
        [retry_key_for(r.batch_id) for r, _ in outcomes],
        [len(r.recipients) for r, _ in outcomes],
        ["sending" if o.status is None else o.status.value for _, o in outcomes],
        [r.planned_at for r, _ in outcomes],
        [o.endpoint.value for _, o in outcomes],
        [o.request_id for _, o in outcomes],
        [o.http_status for _, o in outcomes],
        [o.error for _, o in outcomes],
        [o.failure_kind or None for _, o in outcomes],
        [",".join(o.unreachable) or None for _, o in outcomes],
        [o.attempts for _, o in outcomes],
        [o.in_doubt for _, o in outcomes],
    )


async def admission(conn: Connection | Pool, notice_id: uuid.UUID) -> Admission | None:
    row = await conn.fetchrow(
        "SELECT admitted, reason FROM sender_notice_admissions WHERE notice_id = $1", notice_id
    )
    return None if row is None else Admission(row["admitted"], row["reason"])


async def record_admission(
    conn: Connection | Pool, notice_id: uuid.UUID, recipients: int, quota: QuotaStatus, decision: Admission
) -> Admission:
    """Store the decision unless another replica stored one first; return the one that counts."""
    await conn.execute(
        """
        INSERT INTO sender_notice_admissions
            (notice_id, admitted, recipients, quota_limit, quota_used, reason)
        VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (notice_id) DO NOTHING
        """,
        notice_id,
        decision.admitted,
        recipients,
        quota.limit,
        quota.used,
        decision.reason,
    )
    stored = await admission(conn, notice_id)
    return stored or decision
