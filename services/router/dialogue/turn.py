"""One turn of the dialogue: the state as it changes, and the replies and effects gathered on the way."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from . import prompts, texts
from .config import DialogueConfig
from .effects import Effect, Outcome
from .line_messages import Message, compact
from .postbacks import Action
from .prompts import Voice
from .state import ONBOARDING, Step, SubscriberState


class Turn:
    def __init__(self, state: SubscriberState, now: datetime, config: DialogueConfig) -> None:
        self.state = state
        self.now = now
        self.config = config
        self.replies: list[Message] = []
        self.effects: list[Effect] = []
        #: after "delete my data": the outcome has no state (the router deletes the row)
        self.erased = False

    @property
    def voice(self) -> Voice:
        """Texts in the subscriber's language as it is now (it may change during the turn)."""
        return Voice(self.config, self.state.language)

    def reply(self, *messages: Message) -> None:
        self.replies.extend(messages)

    def effect(self, effect: Effect) -> None:
        self.effects.append(effect)

    def update(self, **changes: Any) -> None:
        self.state = self.state.with_(**changes)

    def finish(self) -> Outcome:
        state = None if self.erased else self.state
        return Outcome(state, self.state.language, compact(self.replies), tuple(self.effects))

    # --- onboarding steps -------------------------------------------------------------------------
    def prompt(self) -> None:
        """Ask the current step's question again (quick replies vanish once the worker types)."""
        self.reply(*prompts.step_prompt(self.voice, self.state))

    def settle(self, *steps: Step) -> None:
        self.update(settled=self.state.settled | frozenset(steps))

    def advance(self) -> None:
        """Go to the first step not yet settled, and ask its question (or say onboarding is done)."""
        following = next((step for step in ONBOARDING if step not in self.state.settled), Step.DONE)
        self.update(step=following)
        if following is not Step.DONE:
            self.prompt()
        elif not self.state.onboarding_completed:
            self.update(onboarding_completed=True)
            self.reply(self.voice.say(texts.REGISTRATION_DONE, help=self.voice.word(Action.HELP)))

    def finish_step(self, step: Step) -> None:
        """``step`` is answered: settle it, and move on if it was the question being asked."""
        self.settle(step)
        if self.state.step is step:
            self.advance()
        elif not self.state.onboarded:
            self.prompt()

    def ask_consent(self, before: texts.Text | None = None) -> None:
        self.update(step=Step.CONSENT, settled=self.state.settled - {Step.CONSENT, Step.CARD})
        if before is not None:
            self.reply(self.voice.say(before))
        self.prompt()

    def nothing_to_act_on(self) -> None:
        """Input that answers nothing: repeat the open question; after onboarding, say we cannot chat."""
        step = self.state.step
        if step is Step.CONSENT:
            self.reply(self.voice.say(texts.USE_BUTTONS, prompts.consent_buttons(self.voice)))
        elif step is Step.CARD:
            self.reply(prompts.ask_card(self.voice, texts.CARD_INVALID))
        elif step is not Step.DONE:
            self.prompt()
        else:
            last = self.state.last_fallback_at
            if last is None or self.now - last >= self.config.fallback_quiet_period:
                self.update(last_fallback_at=self.now)
                self.reply(prompts.fallback(self.voice, self.state))
