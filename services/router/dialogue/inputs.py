"""What a LINE message or postback means, before the state machine acts on it."""

from __future__ import annotations

from dataclasses import dataclass

from services.common.contracts.line import MessageReceived, PostbackReceived

from . import employer_code, keywords, postbacks
from .config import DialogueConfig
from .postbacks import Intent
from .state import Step, SubscriberState


@dataclass(frozen=True, slots=True)
class Card:
    """A residence card number, already replaced by its pseudonym (HMAC) in ingest."""

    worker_id: str


@dataclass(frozen=True, slots=True)
class Code:
    candidate: employer_code.CodeCandidate


@dataclass(frozen=True, slots=True)
class Text:
    """Free text: maybe an answer to the open question."""

    text: str


@dataclass(frozen=True, slots=True)
class Other:
    """A sticker, image, unknown postback, ...: nothing to act on."""


Input = Intent | Card | Code | Text | Other


def read(event: MessageReceived | PostbackReceived, state: SubscriberState, config: DialogueConfig) -> Input:
    """Commands first (typed or tapped), then codes, then free text."""
    if isinstance(event, PostbackReceived):
        return postbacks.decode(event.data) or Other()
    if event.card_worker_id is not None:
        return Card(event.card_worker_id)
    if event.text is None:
        return Other()
    command = keywords.match(event.text, config)
    if command is not None:
        return Intent(command)
    # Without the prefix, only while a code is expected: elsewhere an 8-character word is just a word.
    bare = state.step in (Step.LANGUAGE, Step.EMPLOYER_CODE)
    candidate = employer_code.find(event.text, config.employer_code_prefix, bare=bare)
    if candidate is not None:
        return Code(candidate)
    return Text(event.text)
