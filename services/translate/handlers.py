"""Kafka handlers: DeliveryPlanned → DeliveryReady, and NoticeSubmitted → stored and pre-translated.

For one consumed batch of DeliveryPlanned records:

1. the notices' texts are remembered (for the staff API's preview and approvals);
2. the translation of each (notice, language, text) is looked up, and translated when missing (once;
   see :mod:`.translator`);
3. each batch is recorded with the translation revision it is rendered with; a redelivered batch
   gets the revision (and time) it had the first time, so its DeliveryReady is identical;
4. messages are rendered (placeholders filled per batch, in the text's locale) and every DeliveryReady
   is published, keyed ``notice_id:language``, before the offsets are committed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Sequence
from datetime import datetime

from services.common import languages
from services.common.contracts import (
    DeliveryPlanned,
    DeliveryReady,
    NoticeSubmitted,
    Purpose,
    SendMode,
    derived_id,
)
from services.common.db import Pool
from services.common.kafka import Consumed, Publisher

from . import metrics, store
from .domain.content import source_hash
from .domain.render import Rendered, render
from .store import TranslationRow
from .translator import Translator

log = logging.getLogger(__name__)


def ready_event_id(batch_id: str) -> uuid.UUID:
    """Stable per batch: a DeliveryReady published again is recognisably the same event."""
    return derived_id("translate", "delivery-ready", batch_id)


def send_mode(planned: DeliveryPlanned) -> SendMode:
    """Personal reminders go by push to their one recipient; everything else by multicast."""
    if planned.purpose is Purpose.REMINDER and len(planned.recipients) == 1:
        return SendMode.PUSH
    return SendMode.MULTICAST


def render_translation(row: TranslationRow, reader_language: str, values: dict[str, str]) -> Rendered:
    return render(
        title=row.title,
        body=row.body,
        reader_language=reader_language,
        text_language=row.text_language,
        fallback=row.is_fallback,
        values=values,
    )


class PlannedHandler:
    """DeliveryPlanned in, DeliveryReady out."""

    def __init__(self, *, pool: Pool, translator: Translator, publisher: Publisher, topic: str) -> None:
        self.pool = pool
        self.translator = translator
        self.publisher = publisher
        self.topic = topic

    async def __call__(self, items: list[Consumed[DeliveryPlanned]]) -> None:
        plans = [item.value for item in items]
        await store.remember_notices(
            self.pool,
            [(p.notice_id, p.content, source_hash(p.content)) for p in plans],
            origin="delivery",
        )
        rows = await self.translator.translations_for([(p.notice_id, p.content, p.language) for p in plans])
        chosen = await store.record_rendered(
            self.pool,
            [
                (
                    p.batch_id,
                    p.notice_id,
                    p.language,
                    rows[(p.notice_id, p.language, source_hash(p.content))].revision,
                )
                for p in plans
            ],
        )
        by_revision = {row.revision: row for row in rows.values()}
        earlier = {revision for revision, _ in chosen.values()} - by_revision.keys()
        if earlier:  # redelivered batches rendered with an older revision
            by_revision.update(await store.translations_by_revision(self.pool, earlier))
        cache: dict[tuple[int, str, str], Rendered] = {}
        events: list[tuple[str, DeliveryReady]] = []
        for plan in plans:
            revision, rendered_at = chosen[plan.batch_id]
            row = by_revision[revision]
            values_key = json.dumps(plan.values, sort_keys=True, ensure_ascii=False)
            cache_key = (revision, plan.language, values_key)
            rendered = cache.get(cache_key)
            if rendered is None:
                rendered = render_translation(row, plan.language, plan.values)
                cache[cache_key] = rendered
                if rendered.truncated:
                    log.warning(
                        "notice too long for 5 LINE messages: cut",
                        extra={"notice_id": str(plan.notice_id), "language": plan.language},
                    )
            if rendered.truncated:
                metrics.TRUNCATED.inc()
            for name in rendered.unfilled:
                metrics.UNFILLED.labels(name).inc()
            events.append((plan.key, self._ready(plan, row, rendered, rendered_at)))
            metrics.BATCHES.labels(row.source).inc()
        await self.publisher.publish_many(self.topic, events)

    @staticmethod
    def _ready(
        plan: DeliveryPlanned, row: TranslationRow, rendered: Rendered, rendered_at: datetime
    ) -> DeliveryReady:
        # Built without validation: every value comes from the validated DeliveryPlanned or from our own
        # renderer (text messages), and re-checking 500 recipient ids per batch was a fifth of the
        # handler's CPU (docs/performance.md). Consumers validate what they read.
        return DeliveryReady.model_construct(
            event_id=ready_event_id(plan.batch_id),
            occurred_at=rendered_at,
            batch_id=plan.batch_id,
            notice_id=plan.notice_id,
            language=plan.language,
            batch_no=plan.batch_no,
            recipients=plan.recipients,
            purpose=plan.purpose,
            priority=plan.priority,
            notice_recipients=plan.notice_recipients,
            planned_at=plan.planned_at,
            mode=send_mode(plan),
            messages=rendered.messages,
            translation_source=row.source,
        )


class NoticeHandler:
    """NoticeSubmitted: remember the text (and its audience's cities), and translate it ahead."""

    def __init__(
        self,
        *,
        pool: Pool,
        translator: Translator,
        pretranslate: bool,
        default_languages: Sequence[str],
    ) -> None:
        self.pool = pool
        self.translator = translator
        self.pretranslate = pretranslate
        self.default_languages = tuple(default_languages) or tuple(
            lang.code for lang in languages.DEFAULT_LANGUAGES
        )

    async def __call__(self, items: list[Consumed[NoticeSubmitted]]) -> None:
        notices = [item.value for item in items]
        await store.remember_notices(
            self.pool,
            [(n.notice_id, n.content, source_hash(n.content)) for n in notices],
            origin="notice",
            cities=[tuple(n.audience.cities) for n in notices],
            audience_languages=[tuple(n.audience.languages) for n in notices],
        )
        if not self.pretranslate:
            return
        work = [
            (n.notice_id, n.content, language)
            for n in notices
            for language in (n.audience.languages or self.default_languages)
        ]
        # translations_for translates what is missing, once, like the deliveries will ask for it.
        await self.translator.translations_for(work)
        log.info("notices pre-translated", extra={"notices": len(notices), "translations": len(work)})


async def purge_loop(pool: Pool, *, retention_days: int, interval_seconds: float = 3600.0) -> None:
    """Forget which revision old batches were rendered with (redelivery after weeks is not expected)."""
    while True:
        try:
            removed = await store.purge_rendered(pool, older_than_days=retention_days)
            if removed:
                log.info("rendered batches purged", extra={"removed": removed})
        except Exception:  # housekeeping must not take the service down
            log.warning("purging rendered batches failed", exc_info=True)
        await asyncio.sleep(interval_seconds)
