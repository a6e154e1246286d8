"""What a turn of the dialogue asks the router to do, and what the router answers back.

The router applies every effect in the same transaction as the LINE event and the new state, so a
redelivered event (skipped by the router's idempotency) never applies an effect twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from services.common.contracts.notices import NoticeCategory

from .line_messages import Message, compact
from .state import SubscriberState


@dataclass(frozen=True, slots=True)
class LinkEmployer:
    """Look up the registration code; link the subscriber to its establishment (and so its city).

    Answer with ``render_effect_result`` and one of EmployerCodeAccepted / Unknown / Revoked.
    """

    #: 8 canonical symbols, without prefix or hyphens (employer_code.display formats them)
    code: str


@dataclass(frozen=True, slots=True)
class LinkWorker:
    """Store the pseudonymous worker id on the subscriber (replacing an older one: new cards get new
    numbers) and link it to the employment record with that id, now or when it arrives.

    Carries the consent it rests on (``registry.link_worker`` stores them together). Only emitted when
    the subscriber agreed to the current consent version.
    """

    worker_id: str
    consent_version: str
    consented_at: datetime


@dataclass(frozen=True, slots=True)
class RecordConsent:
    """Append to the consent log: which text (version, language) the subscriber agreed to, and when."""

    version: str
    language: str
    at: datetime


@dataclass(frozen=True, slots=True)
class StopAll:
    """Stop every notice and reminder to this subscriber, including ones already planned or scheduled."""

    reason: Literal["unfollowed", "requested"]


@dataclass(frozen=True, slots=True)
class ResumeAll:
    """The subscriber may be targeted again (their categories still apply)."""

    reason: Literal["refollowed", "requested"]


@dataclass(frozen=True, slots=True)
class ErasePersonalData:
    """Delete the subscriber row and everything linked to it (employer and worker links, declared
    details, consent log entries with the LINE user id); keep only anonymous counts."""

    at: datetime


Effect = LinkEmployer | LinkWorker | RecordConsent | StopAll | ResumeAll | ErasePersonalData


@dataclass(frozen=True, slots=True)
class EmployerCodeAccepted:
    code: str
    #: the city's name as written in Japan (``太田市``), shown to readers of Japanese and Chinese
    city_name: str
    #: the city's name in Latin letters (``Ota``), shown to everyone else; falls back to ``city_name``
    city_name_latin: str | None = None


@dataclass(frozen=True, slots=True)
class EmployerCodeUnknown:
    code: str


@dataclass(frozen=True, slots=True)
class EmployerCodeRevoked:
    code: str


EffectResult = EmployerCodeAccepted | EmployerCodeUnknown | EmployerCodeRevoked


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of one turn.

    ``state`` None means there is no dialogue state to keep: after ErasePersonalData (the router deletes
    the row), or for an unfollow from someone never seen. Only the ErasePersonalData effect deletes.
    ``language`` is the language of ``replies`` (the DeliveryReady's language), also without a state.
    """

    state: SubscriberState | None
    language: str
    replies: tuple[Message, ...] = ()
    effects: tuple[Effect, ...] = ()

    def then(self, later: Outcome) -> Outcome:
        """This turn followed by ``later`` (e.g. the reply to an effect's result): one delivery."""
        return Outcome(
            state=later.state,
            language=later.language,
            replies=compact(self.replies + later.replies),
            effects=self.effects + later.effects,
        )


def opted_out(state: SubscriberState, category: NoticeCategory, mandatory: frozenset[NoticeCategory]) -> bool:
    """Whether the subscriber declined ``category`` (mandatory categories cannot be declined)."""
    return category in state.categories_opted_out and category not in mandatory
