"""Deliveries: planned by the router, rendered by translate, sent by sender.

Kafka key for all three topics: ``f"{notice_id}:{language}"``, so one partition sees every batch of one
translation, in order.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any, Literal

from pydantic import AwareDatetime, Field, field_validator

from .base import Event, LanguageCode, LineUserId
from .notices import NoticeContent, Priority

#: LINE's multicast limit.
MAX_RECIPIENTS = 500
#: LINE's limit of message objects per request.
MAX_MESSAGES = 5


class Purpose(StrEnum):
    NOTICE = "notice"
    REMINDER = "reminder"
    CONVERSATION = "conversation"


class SendMode(StrEnum):
    MULTICAST = "multicast"
    PUSH = "push"
    REPLY = "reply"


def delivery_key(notice_id: uuid.UUID, language: str) -> str:
    return f"{notice_id}:{language}"


def batch_id_for(notice_id: uuid.UUID, language: str, batch_no: int) -> str:
    """Deterministic: the same notice, language and batch number always give the same id."""
    return f"{notice_id}:{language}:{batch_no}"


class _Delivery(Event):
    batch_id: str = Field(min_length=1, max_length=200)
    notice_id: uuid.UUID
    language: LanguageCode
    batch_no: int = Field(ge=0)
    recipients: tuple[LineUserId, ...] = Field(min_length=1, max_length=MAX_RECIPIENTS)
    purpose: Purpose = Purpose.NOTICE
    priority: Priority = Priority.NORMAL
    #: All recipients of the notice across languages and batches (for the sender's quota check).
    notice_recipients: int = Field(ge=1)
    planned_at: AwareDatetime

    @field_validator("recipients")
    @classmethod
    def _distinct(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("recipients must be distinct")
        return value

    @property
    def key(self) -> str:
        return delivery_key(self.notice_id, self.language)


class DeliveryPlanned(_Delivery):
    """One notice, one language, at most 500 recipients: to be translated."""

    type: Literal["delivery.planned"] = "delivery.planned"
    content: NoticeContent
    #: Placeholder values for a personal message (ISO dates, city and employer names).
    values: dict[str, str] = Field(default_factory=dict)


class DeliveryReady(_Delivery):
    """Rendered LINE message objects in the batch's language: to be sent."""

    type: Literal["delivery.ready"] = "delivery.ready"
    mode: SendMode = SendMode.MULTICAST
    #: LINE message objects (text, with optional quickReply, ...), as LINE's API takes them.
    messages: tuple[dict[str, Any], ...] = Field(min_length=1, max_length=MAX_MESSAGES)
    reply_token: str | None = Field(default=None, max_length=256)
    #: Until when the reply token may be used; after it the sender pushes instead.
    reply_token_expires_at: AwareDatetime | None = None
    #: approved, memory, machine, fallback or catalog (conversation texts)
    translation_source: str = Field(default="machine", max_length=32)

    @field_validator("messages")
    @classmethod
    def _typed(cls, value: tuple[dict[str, Any], ...]) -> tuple[dict[str, Any], ...]:
        for i, message in enumerate(value):
            if not isinstance(message.get("type"), str):
                raise ValueError(f"messages[{i}] has no type")
        return value


class DeliveryStatus(StrEnum):
    SENT = "sent"
    FAILED = "failed"


class DeliveryResult(_Delivery):
    """What happened to one batch."""

    type: Literal["delivery.result"] = "delivery.result"
    status: DeliveryStatus
    mode: SendMode
    #: LINE's x-line-request-id, or x-line-accepted-request-id when LINE had already accepted the key.
    request_id: str | None = None
    http_status: int | None = None
    error: str | None = Field(default=None, max_length=2000)
    #: Recipients LINE reported as unreachable (blocked, unfollowed, unknown).
    unreachable: tuple[LineUserId, ...] = ()
    attempts: int = Field(default=1, ge=1)
    completed_at: AwareDatetime
