"""Message contracts shared by every service (pydantic v2). Events are named in the past tense."""

from .base import Contract, Event, derived_id, utcnow
from .deliveries import (
    MAX_MESSAGES,
    MAX_RECIPIENTS,
    DeliveryPlanned,
    DeliveryReady,
    DeliveryResult,
    DeliveryStatus,
    Purpose,
    SendMode,
    batch_id_for,
    delivery_key,
)
from .employment import (
    EmploymentEvent,
    Establishment,
    ResidenceStatusChanged,
    WorkerHired,
    WorkerSeparated,
)
from .line import (
    LineEvent,
    MessageReceived,
    PostbackReceived,
    SubscriberFollowed,
    SubscriberUnfollowed,
)
from .notices import AudienceFilter, NoticeCategory, NoticeContent, NoticeSubmitted, Priority

__all__ = [
    "MAX_MESSAGES",
    "MAX_RECIPIENTS",
    "AudienceFilter",
    "Contract",
    "DeliveryPlanned",
    "DeliveryReady",
    "DeliveryResult",
    "DeliveryStatus",
    "EmploymentEvent",
    "Establishment",
    "Event",
    "LineEvent",
    "MessageReceived",
    "NoticeCategory",
    "NoticeContent",
    "NoticeSubmitted",
    "PostbackReceived",
    "Priority",
    "Purpose",
    "ResidenceStatusChanged",
    "SendMode",
    "SubscriberFollowed",
    "SubscriberUnfollowed",
    "WorkerHired",
    "WorkerSeparated",
    "batch_id_for",
    "delivery_key",
    "derived_id",
    "utcnow",
]
