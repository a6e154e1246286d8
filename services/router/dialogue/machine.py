"""The onboarding and preferences dialogue as a pure function: (state, event) → (state, replies, effects).

No I/O, no clock, no randomness: ``now`` and the config come in as arguments, so the same state and
event always give the same outcome (the router's idempotency then makes redelivery harmless).
docs/onboarding.md draws the state machine.
"""

from __future__ import annotations

from datetime import datetime

from services.common import languages
from services.common.contracts.line import (
    LineEvent,
    MessageReceived,
    PostbackReceived,
    SubscriberFollowed,
    SubscriberUnfollowed,
)

from . import dispatch, flows, inputs, texts
from .config import DialogueConfig
from .effects import EffectResult, Outcome, ResumeAll, StopAll
from .postbacks import Action
from .state import SubscriberState
from .turn import Turn


def handle(
    state: SubscriberState | None,
    event: LineEvent,
    *,
    now: datetime,
    config: DialogueConfig,
    profile_language: str | None = None,
) -> Outcome:
    """One LINE event for one subscriber (``state`` None: no registry row yet).

    ``profile_language`` is LINE's profile language (GET /v2/bot/profile), when the router knows it;
    it only matters for a first follow.
    """
    if isinstance(event, SubscriberUnfollowed):
        return _unfollow(state, event, config)
    if isinstance(event, SubscriberFollowed):
        return _follow(state, event, now, config, profile_language)
    if state is None:
        # Someone we have no row for (e.g. after "delete my data"): greet as on a first follow.
        fresh = _new_state(event, config, profile_language)
        return _greet(Turn(fresh, now, config), standby=event.mode == "standby")
    if not state.followed or event.mode == "standby":
        # A late redelivery from before an unfollow, or another channel has the chat: stay silent.
        return Outcome(state, state.language)
    turn = Turn(state, now, config)
    dispatch.run(turn, inputs.read(event, state, config))
    return turn.finish()


def render_effect_result(
    state: SubscriberState, result: EffectResult, *, now: datetime, config: DialogueConfig
) -> Outcome:
    """The reply to the router's answer for a LinkEmployer effect (apply in the same transaction)."""
    turn = Turn(state, now, config)
    flows.code_result(turn, result)
    return turn.finish()


def _new_state(
    event: SubscriberFollowed | MessageReceived | PostbackReceived,
    config: DialogueConfig,
    profile_language: str | None,
) -> SubscriberState:
    guessed = languages.from_line_profile(profile_language)
    language = guessed.code if guessed and guessed.code in config.languages else config.default_language
    return SubscriberState(language=language, follow_changed_at=event.line_timestamp)


def _is_late(state: SubscriberState, at: datetime, followed: bool) -> bool:
    """Follow and unfollow are applied by LINE's event time: a late, older one changes nothing."""
    last = state.follow_changed_at
    return last is not None and (at < last or (at == last and state.followed == followed))


def _unfollow(state: SubscriberState | None, event: SubscriberUnfollowed, config: DialogueConfig) -> Outcome:
    if state is None:
        return Outcome(None, config.default_language)
    if _is_late(state, event.line_timestamp, followed=False):
        return Outcome(state, state.language)
    new = state.with_(followed=False, modal=None, follow_changed_at=event.line_timestamp)
    return Outcome(new, new.language, effects=(StopAll("unfollowed"),))


def _follow(
    state: SubscriberState | None,
    event: SubscriberFollowed,
    now: datetime,
    config: DialogueConfig,
    profile_language: str | None,
) -> Outcome:
    standby = event.mode == "standby"
    if state is None:
        return _greet(Turn(_new_state(event, config, profile_language), now, config), standby=standby)
    if _is_late(state, event.line_timestamp, followed=True):
        return Outcome(state, state.language)
    # A re-follow (LINE sets isUnblocked): welcome back, with every preference as it was.
    turn = Turn(state.with_(followed=True, modal=None, follow_changed_at=event.line_timestamp), now, config)
    if not turn.state.stopped:
        turn.effect(ResumeAll("refollowed"))
    if not standby:
        turn.reply(turn.voice.say(texts.WELCOME_BACK))
        if turn.state.stopped:
            turn.reply(turn.voice.say(texts.STOPPED, start=turn.voice.word(Action.START)))
        turn.prompt()
    return turn.finish()


def _greet(turn: Turn, *, standby: bool) -> Outcome:
    if not standby:
        voice = turn.voice
        turn.reply(voice.say(texts.WELCOME, organization=voice(texts.ORGANIZATION_NAME)))
        turn.prompt()
    return turn.finish()
