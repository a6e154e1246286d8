"""Events from LINE webhooks (topic line-events.v1, keyed by LINE user id).

``event_id`` is derived from LINE's ``webhookEventId``, so a redelivered webhook carries the same id.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, Field

from .base import Event, LineUserId, WorkerId


class _LineEvent(Event):
    line_user_id: LineUserId
    webhook_event_id: str = Field(min_length=1, max_length=64)
    is_redelivery: bool = False
    line_timestamp: AwareDatetime = Field(description="LINE's event timestamp")
    reply_token: str | None = Field(default=None, max_length=256)
    mode: Literal["active", "standby"] = "active"


class SubscriberFollowed(_LineEvent):
    type: Literal["line.followed"] = "line.followed"
    is_unblocked: bool = Field(default=False, description="A re-follow after a block")


class SubscriberUnfollowed(_LineEvent):
    type: Literal["line.unfollowed"] = "line.unfollowed"


class MessageReceived(_LineEvent):
    """A message from the worker.

    When the text is a residence card number, ingest replaces it: ``text`` is None and
    ``card_worker_id`` carries the pseudonymous id (HMAC) instead, so the number never enters Kafka.
    """

    type: Literal["line.message"] = "line.message"
    message_type: str = Field(max_length=32, description="text, sticker, image, ...")
    text: str | None = Field(default=None, max_length=5000)
    card_worker_id: WorkerId | None = None


class PostbackReceived(_LineEvent):
    type: Literal["line.postback"] = "line.postback"
    data: str = Field(max_length=300)
    params: dict[str, str] = Field(default_factory=dict)


LineEvent = Annotated[
    SubscriberFollowed | SubscriberUnfollowed | MessageReceived | PostbackReceived,
    Field(discriminator="type"),
]
