"""The DeliveryReady handler: one consumed batch of records at a time, sent concurrently.

Order of effects for a consumed batch (each step survives a crash of the ones after it):

1. look up the records' batches in PostgreSQL: finished ones are not sent again (their result is
   published again, with the same event id, in case the crash came before it was);
2. a batch LINE may have accepted more than ``retry_key_trust_seconds`` ago is not resent (LINE no longer
   remembers its key): failed, "outcome unknown"; a large notice is checked against the monthly quota
   once (``sender_notice_admissions``);
3. ``sending`` rows are written, then every batch is sent concurrently (bounded by ``max_in_flight`` and the
   token buckets) with its retry key;
4. outcomes are recorded in PostgreSQL, then DeliveryResults published and failures dead-lettered;
5. the durable subscriber commits the offsets.

A crash between LINE's acceptance and step 4 resends the batch with the same retry key: LINE answers 409
with the accepted request id, which counts as sent. Held batches (monthly quota) make the handler raise
:class:`TransientError` after step 4, so the consumer keeps the records uncommitted and retries later.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from services.common.contracts import (
    DeliveryReady,
    DeliveryResult,
    DeliveryStatus,
    SendMode,
    derived_id,
)
from services.common.db import Pool
from services.common.kafka import Consumed, DeadLetters, Publisher, TransientError

from . import metrics, repository
from .delivery import Deliverer, Outcome
from .domain.decisions import Admission, Endpoint, admit_notice, resend_is_safe
from .line_api import LineUnavailable
from .repository import BatchRecord
from .settings import SenderSettings

log = logging.getLogger(__name__)


def result_for(
    ready: DeliveryReady, outcome: Outcome | BatchRecord, *, completed_at: datetime
) -> DeliveryResult:
    """The DeliveryResult of a batch; its event id is derived from the batch id, so a result published
    again after a crash is recognisably the same event."""
    if isinstance(outcome, BatchRecord):
        status = DeliveryStatus(outcome.status)
        mode = SendMode(outcome.sent_via) if outcome.sent_via else ready.mode
        request_id, http_status, error = outcome.request_id, outcome.http_status, outcome.error
        unreachable, attempts = outcome.unreachable, outcome.attempts
        completed_at = outcome.completed_at or completed_at
    else:
        assert outcome.status is not None
        status, mode = outcome.status, outcome.mode
        request_id, http_status, error = outcome.request_id, outcome.http_status, outcome.error
        unreachable, attempts = outcome.unreachable, outcome.attempts
    # Built without validation: the batch's values come from the validated DeliveryReady, the outcome's
    # are bounded here (error cut to 2,000, attempts >= 1, unreachable within the recipients); checking
    # 500 recipient ids again per batch cost more than the rest of the result (docs/performance.md).
    return DeliveryResult.model_construct(
        event_id=derived_id("sender", "delivery-result", ready.batch_id),
        occurred_at=completed_at,
        batch_id=ready.batch_id,
        notice_id=ready.notice_id,
        language=ready.language,
        batch_no=ready.batch_no,
        recipients=ready.recipients,
        purpose=ready.purpose,
        priority=ready.priority,
        notice_recipients=ready.notice_recipients,
        planned_at=ready.planned_at,
        status=status,
        mode=mode,
        request_id=request_id,
        http_status=http_status,
        error=error[:2000] if error else None,
        unreachable=tuple(u for u in unreachable if u in ready.recipients),
        attempts=max(1, attempts),
        completed_at=completed_at,
    )


def _phase(name: str, since: float) -> float:
    now = time.perf_counter()
    metrics.PHASE.labels(name).observe(now - since)
    return now


class SendHandler:
    def __init__(
        self,
        *,
        settings: SenderSettings,
        pool: Pool,
        deliverer: Deliverer,
        publisher: Publisher,
        dead_letters: DeadLetters,
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.deliverer = deliverer
        self.publisher = publisher
        self.dead_letters = dead_letters
        self._admissions: dict[str, Admission] = {}
        #: results this process already published, so a held batch's retries do not repeat them
        self._reported: OrderedDict[str, None] = OrderedDict()
        self._recorded_batches = 0

    async def __call__(self, items: list[Consumed[DeliveryReady]]) -> None:
        # The same batch twice in one poll (a producer retry): handle the first, report both.
        first: dict[str, Consumed[DeliveryReady]] = {}
        for item in items:
            first.setdefault(item.value.batch_id, item)
        clock = time.perf_counter()
        records = await repository.load(self.pool, list(first))
        now = datetime.now(UTC)
        trust = timedelta(seconds=self.settings.retry_key_trust_seconds)

        decided: dict[str, tuple[DeliveryReady, Outcome]] = {}
        to_send: list[Consumed[DeliveryReady]] = []
        for batch_id, item in first.items():
            ready = item.value
            record = records.get(batch_id)
            if record is not None and record.finished:
                continue
            if record is not None and not resend_is_safe(record.in_doubt_since, now, trust=trust):
                metrics.OUTCOME_UNKNOWN.inc()
                decided[batch_id] = (ready, self._outcome_unknown(ready, record))
                continue
            admission = await self._admission(ready)
            if not admission.admitted:
                decided[batch_id] = (
                    ready,
                    Outcome(
                        DeliveryStatus.FAILED,
                        Endpoint(ready.mode.value),
                        error=admission.reason,
                        failure_kind="quota",
                    ),
                )
                continue
            to_send.append(item)

        clock = _phase("decide", clock)
        await repository.mark_sending(self.pool, [i.value for i in to_send])
        clock = _phase("mark", clock)
        sent = await self._send_all(to_send, records)
        clock = _phase("send", clock)
        outcomes = [*decided.values(), *sent]
        await repository.record_outcomes(self.pool, outcomes)
        clock = _phase("record", clock)
        self._maybe_crash_after_recording()

        finished = {r.batch_id: o for r, o in outcomes if not o.held}
        finished_records = {b: r for b, r in records.items() if r.finished}
        await self._report(items, finished, finished_records)
        _phase("report", clock)
        held = [r for r, o in outcomes if o.held]
        if held:
            metrics.HELD.inc(len(held))
            raise TransientError(
                f"LINE's monthly message quota is exhausted: {len(held)} batches held until it allows sending"
            )

    async def _send_all(
        self, items: Sequence[Consumed[DeliveryReady]], records: dict[str, BatchRecord]
    ) -> list[tuple[DeliveryReady, Outcome]]:
        async def one(item: Consumed[DeliveryReady]) -> tuple[DeliveryReady, Outcome]:
            ready = item.value
            record = records.get(ready.batch_id)
            attempted = record is not None and record.in_doubt_since is not None
            return ready, await self.deliverer.deliver(ready, attempted_before=attempted)

        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(item)) for item in items]
        return [task.result() for task in tasks]

    def _outcome_unknown(self, ready: DeliveryReady, record: BatchRecord) -> Outcome:
        since = record.in_doubt_since.isoformat() if record.in_doubt_since else "?"
        return Outcome(
            DeliveryStatus.FAILED,
            Endpoint(record.sent_via or ready.mode.value),
            error=(
                f"outcome unknown: an attempt since {since} may have been accepted by LINE, and LINE "
                "no longer remembers the retry key after 24 h; not resent to avoid a duplicate "
                "(check the LINE statistics for the request, then replay from the DLQ if it was not "
                "delivered)"
            ),
            attempts=0,
            failure_kind="outcome_unknown",
        )

    async def _admission(self, ready: DeliveryReady) -> Admission:
        if ready.notice_recipients < self.settings.quota_check_threshold or ready.mode is SendMode.REPLY:
            return Admission(True, "below the quota check threshold")
        key = str(ready.notice_id)
        found = self._admissions.get(key)
        if found is None:
            found = await repository.admission(self.pool, ready.notice_id)
        if found is None:
            try:
                quota = await self.deliverer.api.quota()
            except LineUnavailable as error:
                raise TransientError(str(error)) from None
            decision = admit_notice(ready.notice_recipients, quota, refuse=self.settings.quota_refuse)
            found = await repository.record_admission(
                self.pool, ready.notice_id, ready.notice_recipients, quota, decision
            )
            level = logging.INFO if decision.admitted else logging.ERROR
            log.log(level, "quota check for a large notice", extra={"notice_id": key, "reason": found.reason})
            if not found.admitted:
                metrics.NOTICES_REFUSED.inc()
        self._admissions[key] = found
        return found

    async def _report(
        self,
        items: list[Consumed[DeliveryReady]],
        finished: dict[str, Outcome],
        finished_records: dict[str, BatchRecord],
    ) -> None:
        now = datetime.now(UTC)
        results: list[tuple[str, DeliveryResult]] = []
        failed: list[tuple[Consumed[DeliveryReady], str, str]] = []
        for item in items:
            ready = item.value
            source: Outcome | BatchRecord | None = finished.get(ready.batch_id) or finished_records.get(
                ready.batch_id
            )
            if source is None or ready.batch_id in self._reported:
                continue
            result = result_for(ready, source, completed_at=now)
            results.append((ready.key, result))
            metrics.BATCHES.labels(result.status.value, result.mode.value).inc()
            if result.status is DeliveryStatus.FAILED:
                kind = source.failure_kind or "delivery_failed"
                failed.append((item, result.error or "failed", kind))
        await self.publisher.publish_many(self.settings.topics.deliveries_results, results)
        for item, reason, kind in failed:
            await self.dead_letters.send(item.record, reason, error_type=kind)
        for _, result in results:
            self._reported[result.batch_id] = None
        while len(self._reported) > 100_000:
            self._reported.popitem(last=False)

    def _maybe_crash_after_recording(self) -> None:
        if not self.settings.test_sigkill_after_recorded:
            return
        self._recorded_batches += 1
        if self._recorded_batches >= self.settings.test_sigkill_after_recorded:
            log.error("TEST: SIGKILL after recording outcomes (test_sigkill_after_recorded)")
            os.kill(os.getpid(), signal.SIGKILL)
