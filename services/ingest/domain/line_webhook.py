"""LINE webhooks: the signature, and LINE's events mapped to our contracts (line-events.v1).

The format is LINE's (Messaging API webhook: ``destination`` and ``events``, each with ``type``,
``timestamp`` in ms, ``mode``, ``webhookEventId``, ``deliveryContext.isRedelivery``, ``source``). Only
what the system uses is published: follow (also an unblock), unfollow, message, postback from a user
(1:1 chat). Other event types and group or room chats are acknowledged and counted, not published.

A text message that looks like a residence card number is published without its text: the contract
carries ``card_worker_id`` (the HMAC) instead, so the number never enters Kafka.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from services.common import pseudonym
from services.common.contracts import (
    LineEvent,
    MessageReceived,
    PostbackReceived,
    SubscriberFollowed,
    SubscriberUnfollowed,
)
from services.common.errors import FieldError, field_errors

from . import ids
from .employment import Outgoing

SOURCE = "line"


def signature_of(secret: bytes, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest()).decode()


def signature_valid(secret: bytes, body: bytes, signature: str) -> bool:
    """X-Line-Signature: base64 HMAC-SHA256 of the raw body under the channel secret, compared in
    constant time."""
    return hmac.compare_digest(signature_of(secret, body).encode(), signature.strip().encode())


@dataclass(frozen=True, slots=True)
class Ignored:
    """Acknowledged, not published; ``reason`` is a metric label (bounded set)."""

    reason: str


@dataclass(frozen=True, slots=True)
class Invalid:
    errors: list[FieldError]


def event_id_for(webhook_event_id: str) -> str:
    return ids.derived_id(SOURCE, webhook_event_id)


_MAPPED = frozenset({"follow", "unfollow", "message", "postback"})
_YEAR_3000_MS = 32_503_680_000_000


def to_contract(event: Any, *, pepper: bytes) -> LineEvent | Ignored | Invalid:
    """One webhook event object to its contract, or why it is not published."""
    if not isinstance(event, dict):
        return Invalid([{"field": "(event)", "reason": "must be an object"}])
    kind = event.get("type")
    if not isinstance(kind, str):
        return Invalid([{"field": "type", "reason": "missing"}])
    if kind not in _MAPPED:
        return Ignored(f"type:{kind}" if kind.isidentifier() and len(kind) <= 32 else "type:other")
    source = event.get("source")
    if not isinstance(source, dict) or source.get("type") != "user":
        kind_of_source = source.get("type") if isinstance(source, dict) else None
        return Ignored(f"source:{kind_of_source}" if kind_of_source in ("group", "room") else "source:other")
    webhook_event_id = event.get("webhookEventId")
    timestamp = event.get("timestamp")
    if not isinstance(webhook_event_id, str) or not webhook_event_id:
        return Invalid([{"field": "webhookEventId", "reason": "missing"}])
    if not isinstance(timestamp, int) or isinstance(timestamp, bool) or not 0 < timestamp < _YEAR_3000_MS:
        return Invalid([{"field": "timestamp", "reason": "must be milliseconds since the epoch"}])
    when = datetime.fromtimestamp(timestamp / 1000, UTC)
    context = event.get("deliveryContext")
    common: dict[str, Any] = {
        "event_id": event_id_for(webhook_event_id),
        "occurred_at": when,
        "line_user_id": source.get("userId"),
        "webhook_event_id": webhook_event_id,
        "is_redelivery": bool(context.get("isRedelivery")) if isinstance(context, dict) else False,
        "line_timestamp": when,
        "reply_token": event.get("replyToken"),
        "mode": event.get("mode", "active"),
    }
    try:
        if kind == "follow":
            follow = event.get("follow")
            unblocked = bool(follow.get("isUnblocked")) if isinstance(follow, dict) else False
            return SubscriberFollowed(**common, is_unblocked=unblocked)
        if kind == "unfollow":
            return SubscriberUnfollowed(**common)
        if kind == "postback":
            postback = event.get("postback")
            if not isinstance(postback, dict):
                return Invalid([{"field": "postback", "reason": "missing"}])
            params = postback.get("params") or {}
            if not isinstance(params, dict):
                return Invalid([{"field": "postback.params", "reason": "must be an object"}])
            return PostbackReceived(
                **common, data=postback.get("data"), params={str(k): str(v) for k, v in params.items()}
            )
        message = event.get("message")
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            return Invalid([{"field": "message.type", "reason": "missing"}])
        if message["type"] != "text":
            return MessageReceived(**common, message_type=message["type"])
        text = message.get("text")
        if not isinstance(text, str):
            return Invalid([{"field": "message.text", "reason": "missing"}])
        if pseudonym.looks_like_card_number(text):
            # The onboarding dialogue links the worker with consent; the number itself stays here.
            return MessageReceived(
                **common, message_type="text", text=None, card_worker_id=ids.worker_id(text, pepper)
            )
        return MessageReceived(**common, message_type="text", text=text)
    except ValidationError as error:
        return Invalid(field_errors(error))


def outgoing(event: LineEvent) -> Outgoing:
    """The line-events.v1 record: keyed by the LINE user id, deduplicated on webhookEventId."""
    return Outgoing(
        source_event_id=event.webhook_event_id,
        event_id=str(event.event_id),
        fingerprint=ids.digest(event.type, event.line_user_id, event.line_timestamp.isoformat()),
        key=event.line_user_id.encode(),
        event_type=event.type,
        payload=event.model_dump_json().encode(),
    )
