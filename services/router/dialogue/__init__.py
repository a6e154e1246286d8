"""The worker's conversation with the LINE account: onboarding, preferences, consent, stop, delete.

Pure: ``handle(state, event, now=..., config=...)`` returns an ``Outcome`` (new state, LINE reply
messages in the worker's language, effects for the router to apply in the same transaction).
See docs/onboarding.md for the state machine and how the router calls it.
"""

from .config import DialogueConfig
from .consent import CONSENT_VERSION
from .delivery import conversation_delivery
from .effects import (
    Effect,
    EffectResult,
    EmployerCodeAccepted,
    EmployerCodeRevoked,
    EmployerCodeUnknown,
    ErasePersonalData,
    LinkEmployer,
    LinkWorker,
    Outcome,
    RecordConsent,
    ResumeAll,
    StopAll,
    opted_out,
)
from .line_messages import Message
from .machine import handle, render_effect_result
from .postbacks import Action
from .postbacks import encode as postback_data
from .startup import prepare
from .state import Modal, Step, SubscriberState

__all__ = [
    "CONSENT_VERSION",
    "Action",
    "DialogueConfig",
    "Effect",
    "EffectResult",
    "EmployerCodeAccepted",
    "EmployerCodeRevoked",
    "EmployerCodeUnknown",
    "ErasePersonalData",
    "LinkEmployer",
    "LinkWorker",
    "Message",
    "Modal",
    "Outcome",
    "RecordConsent",
    "ResumeAll",
    "Step",
    "StopAll",
    "SubscriberState",
    "conversation_delivery",
    "handle",
    "opted_out",
    "postback_data",
    "prepare",
    "render_effect_result",
]
