"""DeliveryReady records for sender tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from services.common.contracts import DeliveryReady, SendMode, batch_id_for


def user_ids(n: int) -> tuple[str, ...]:
    return tuple("U" + uuid.uuid4().hex for _ in range(n))


def ready(
    *,
    recipients: int = 3,
    mode: SendMode = SendMode.MULTICAST,
    notice_id: uuid.UUID | None = None,
    batch_no: int = 0,
    language: str = "vi",
    notice_recipients: int | None = None,
    reply_token: str | None = None,
    reply_in: timedelta | None = None,
    messages: tuple[dict[str, Any], ...] = ({"type": "text", "text": "Xin chào"},),
) -> DeliveryReady:
    notice = notice_id or uuid.uuid4()
    ids = user_ids(recipients)
    return DeliveryReady(
        batch_id=batch_id_for(notice, language, batch_no),
        notice_id=notice,
        language=language,
        batch_no=batch_no,
        recipients=ids,
        notice_recipients=notice_recipients or recipients,
        planned_at=datetime.now(UTC),
        mode=mode,
        messages=messages,
        reply_token=reply_token,
        reply_token_expires_at=datetime.now(UTC) + reply_in if reply_in is not None else None,
    )
