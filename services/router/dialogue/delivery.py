"""Turning a turn's replies into the DeliveryReady the router publishes (no translation step)."""

from __future__ import annotations

from datetime import datetime

from services.common.contracts import DeliveryReady, LineEvent, Purpose, SendMode, batch_id_for, derived_id

from .config import DialogueConfig
from .effects import Outcome


def conversation_delivery(
    event: LineEvent, outcome: Outcome, *, now: datetime, config: DialogueConfig, part: str = ""
) -> DeliveryReady | None:
    """The replies of ``outcome`` for ``event``'s sender, or None when there is nothing to say.

    Deterministic: the same event gives the same notice id, batch id and event id, so a redelivered
    webhook that slips past idempotency still cannot make the sender send twice (its retry key is the
    batch id). Reply while LINE's reply token is fresh (free of charge), push after that. Pass ``part``
    (e.g. "result") for replies produced later than the event's own turn, to keep their ids distinct.
    """
    if not outcome.replies:
        return None
    parts = ["conversation", event.line_user_id, event.webhook_event_id]
    notice_id = derived_id(*([*parts, part] if part else parts))
    batch_id = batch_id_for(notice_id, outcome.language, 0)
    expires = event.line_timestamp + config.reply_token_lifetime
    fresh = event.reply_token is not None and not part and now < expires
    return DeliveryReady(
        event_id=derived_id("delivery.ready", batch_id),
        occurred_at=now,
        batch_id=batch_id,
        notice_id=notice_id,
        language=outcome.language,
        batch_no=0,
        recipients=(event.line_user_id,),
        purpose=Purpose.CONVERSATION,
        notice_recipients=1,
        planned_at=now,
        mode=SendMode.REPLY if fresh else SendMode.PUSH,
        messages=outcome.replies,
        reply_token=event.reply_token if fresh else None,
        reply_token_expires_at=expires if fresh else None,
        translation_source="catalog",
    )
