"""A driver for dialogue tests: plays LINE events into ``handle`` the way the router will.

Employer codes are answered from an in-memory table (the router answers from its registry), in the same
turn, and the two outcomes are joined with ``Outcome.then`` as the router must do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from services.common.contracts import (
    LineEvent,
    MessageReceived,
    PostbackReceived,
    SubscriberFollowed,
    SubscriberUnfollowed,
)
from services.router.dialogue import (
    CONSENT_VERSION,
    DialogueConfig,
    EmployerCodeAccepted,
    EmployerCodeRevoked,
    EmployerCodeUnknown,
    LinkEmployer,
    Outcome,
    SubscriberState,
    handle,
    render_effect_result,
)
from services.router.dialogue.employer_code import check_symbol

T0 = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
USER = "U" + "0123456789abcdef" * 2
VALID_CODE = "4F7HT2K" + check_symbol("4F7HT2K")
OTHER_CODE = "9QWERTY" + check_symbol("9QWERTY")
REVOKED_CODE = "7MNPQRS" + check_symbol("7MNPQRS")
WORKER = "ab" * 32
CONFIG = DialogueConfig()


def display(code: str) -> str:
    return f"GM-{code[:4]}-{code[4:]}"


def consent_data(answer: str = "yes", version: str = CONSENT_VERSION) -> str:
    return f"cmd=consent&v={version}&a={answer}"


@dataclass
class Chat:
    config: DialogueConfig = CONFIG
    profile_language: str | None = None
    state: SubscriberState | None = None
    clock: datetime = T0
    codes: dict[str, tuple[str, str | None]] = field(
        default_factory=lambda: {VALID_CODE: ("太田市", "Ota"), OTHER_CODE: ("前橋市", "Maebashi")}
    )
    revoked: frozenset[str] = frozenset({REVOKED_CODE})
    history: list[Outcome] = field(default_factory=list)
    serial: int = 0

    def event(self, kind: type[Any], **fields: Any) -> LineEvent:
        self.serial += 1
        self.clock += timedelta(seconds=5)
        event: LineEvent = kind(
            line_user_id=USER,
            webhook_event_id=f"01HWEBHOOK{self.serial:06d}",
            line_timestamp=self.clock,
            reply_token=f"reply-{self.serial}",
            **fields,
        )
        return event

    def send(self, event: LineEvent, *, at: datetime | None = None) -> Outcome:
        now = at or self.clock + timedelta(seconds=1)
        outcome = handle(
            self.state, event, now=now, config=self.config, profile_language=self.profile_language
        )
        for effect in outcome.effects:
            if isinstance(effect, LinkEmployer) and outcome.state is not None:
                outcome = outcome.then(
                    render_effect_result(outcome.state, self.answer(effect.code), now=now, config=self.config)
                )
        self.state = outcome.state
        self.history.append(outcome)
        return outcome

    def answer(self, code: str) -> EmployerCodeAccepted | EmployerCodeUnknown | EmployerCodeRevoked:
        if code in self.revoked:
            return EmployerCodeRevoked(code)
        if code in self.codes:
            name, latin = self.codes[code]
            return EmployerCodeAccepted(code, name, latin)
        return EmployerCodeUnknown(code)

    def follow(self, *, unblocked: bool = False) -> Outcome:
        return self.send(self.event(SubscriberFollowed, is_unblocked=unblocked))

    def unfollow(self) -> Outcome:
        return self.send(self.event(SubscriberUnfollowed))

    def say(self, text: str) -> Outcome:
        return self.send(self.event(MessageReceived, message_type="text", text=text))

    def sticker(self) -> Outcome:
        return self.send(self.event(MessageReceived, message_type="sticker"))

    def card(self, worker_id: str = WORKER) -> Outcome:
        return self.send(
            self.event(MessageReceived, message_type="text", text=None, card_worker_id=worker_id)
        )

    def tap(self, data: str) -> Outcome:
        return self.send(self.event(PostbackReceived, data=data))

    def onboard(self, language: str = "en") -> Outcome:
        """Follow and answer every question: the happy path, quickly."""
        self.follow()
        self.tap(f"cmd=set_language&lang={language}")
        self.say(display(VALID_CODE))
        self.tap("cmd=set_nationality&c=VN")
        self.tap("cmd=set_status&s=technical_intern_2b")
        self.tap(consent_data())
        return self.card()


def texts_of(outcome: Outcome) -> list[str]:
    return [message["text"] for message in outcome.replies]


def all_text(outcome: Outcome) -> str:
    return "\n".join(texts_of(outcome))


def buttons(outcome: Outcome) -> list[dict[str, Any]]:
    if not outcome.replies:
        return []
    items = outcome.replies[-1].get("quickReply", {}).get("items", [])
    return [item["action"] for item in items]


def labels(outcome: Outcome) -> list[str]:
    return [action["label"] for action in buttons(outcome)]


def data(outcome: Outcome) -> list[str]:
    return [action["data"] for action in buttons(outcome)]
