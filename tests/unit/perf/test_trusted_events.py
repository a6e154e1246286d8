"""Events built without validation on hot paths (``model_construct``) are exactly what validation
would have produced: a consumer reading them back gets an equal, valid event."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from services.common.contracts import (
    DeliveryPlanned,
    DeliveryReady,
    DeliveryResult,
    DeliveryStatus,
    NoticeCategory,
    NoticeContent,
    Priority,
    Purpose,
    SendMode,
    batch_id_for,
)
from services.sender.delivery import Outcome
from services.sender.domain.decisions import Endpoint
from services.sender.handlers import result_for
from services.translate.domain.render import render
from services.translate.handlers import PlannedHandler
from services.translate.store import TranslationRow


def _plan(purpose: Purpose = Purpose.NOTICE, recipients: int = 500) -> DeliveryPlanned:
    notice_id = uuid.uuid4()
    return DeliveryPlanned(
        batch_id=batch_id_for(notice_id, "vi", 3),
        notice_id=notice_id,
        language="vi",
        batch_no=3,
        recipients=tuple(f"U{uuid.uuid4().hex}" for _ in range(recipients)),
        purpose=purpose,
        priority=Priority.EMERGENCY,
        notice_recipients=123_456,
        planned_at=datetime.now(UTC),
        content=NoticeContent(
            title="Rain", body="Heavy rain.", source_language="en", category=NoticeCategory.DISASTER
        ),
    )


def _same_after_a_round_trip(event: DeliveryReady | DeliveryResult) -> None:
    again = type(event).model_validate_json(event.model_dump_json())
    assert again == event
    assert again.model_dump() == event.model_dump()


def test_translate_builds_the_ready_event_validation_would() -> None:
    rendered = render(
        title="Mưa lớn",
        body="Đêm nay mưa lớn.",
        reader_language="vi",
        text_language="vi",
        fallback=False,
        values={},
    )
    for plan in (_plan(), _plan(Purpose.REMINDER, recipients=1)):
        ready = PlannedHandler._ready(plan, _row(plan), rendered, datetime.now(UTC))
        _same_after_a_round_trip(ready)
        assert ready.recipients == plan.recipients and ready.type == "delivery.ready"
        assert ready.mode is (SendMode.PUSH if plan.purpose is Purpose.REMINDER else SendMode.MULTICAST)
        assert ready.translation_source == "machine"


def _row(plan: DeliveryPlanned) -> TranslationRow:
    return TranslationRow(
        revision=1,
        notice_id=plan.notice_id,
        language="vi",
        source_hash="0" * 64,
        title="Mưa lớn",
        body="Đêm nay mưa lớn.",
        source="machine",
        text_language="vi",
        engine="apertium",
        route="en>vi",
        retry_at=None,
        reason=None,
        human_translation_id=None,
        created_at=datetime.now(UTC),
    )


def test_sender_builds_the_result_event_validation_would() -> None:
    plan = _plan()
    ready = DeliveryReady.model_validate(
        {
            **plan.model_dump(exclude={"type", "content", "values"}),
            "messages": ({"type": "text", "text": "hi"},),
        }
    )
    outcomes = [
        Outcome(DeliveryStatus.SENT, Endpoint.MULTICAST, request_id="r-1", http_status=200, attempts=2),
        Outcome(
            DeliveryStatus.FAILED,
            Endpoint.MULTICAST,
            http_status=400,
            error="x" * 5000,
            attempts=0,
            unreachable=(ready.recipients[0], "U" + "0" * 32),
            failure_kind="rejected",
        ),
    ]
    for outcome in outcomes:
        result = result_for(ready, outcome, completed_at=datetime.now(UTC))
        _same_after_a_round_trip(result)
        assert result.attempts >= 1 and (result.error is None or len(result.error) <= 2000)
        assert set(result.unreachable) <= set(ready.recipients)
