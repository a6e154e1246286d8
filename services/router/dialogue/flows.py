"""The two flows that need the router's help or the worker's consent: employer codes, residence cards."""

from __future__ import annotations

from . import employer_code, prompts, texts
from .consent import CONSENT_VERSION
from .effects import (
    EffectResult,
    EmployerCodeAccepted,
    EmployerCodeRevoked,
    EmployerCodeUnknown,
    LinkEmployer,
    LinkWorker,
    RecordConsent,
)
from .postbacks import Action
from .state import Step
from .turn import Turn


# --- employer registration code -------------------------------------------------------------------
def _failures(turn: Turn) -> int:
    last = turn.state.last_code_failure_at
    if last is not None and turn.now - last >= turn.config.code_lockout:
        return 0
    return turn.state.code_failures


def code(turn: Turn, candidate: employer_code.CodeCandidate) -> None:
    if _failures(turn) >= turn.config.max_code_failures:
        # Too many wrong codes lately: do not even look codes up (guessing is pointless).
        turn.reply(turn.voice.say(texts.CODE_TOO_MANY))
        turn.prompt()
    elif not candidate.valid:
        code_failed(turn, texts.CODE_MALFORMED)
    else:
        # The router looks the code up and answers through render_effect_result.
        turn.effect(LinkEmployer(candidate.body))


def code_failed(turn: Turn, message: texts.Text) -> None:
    failures = _failures(turn) + 1
    turn.update(code_failures=failures, last_code_failure_at=turn.now)
    example = turn.config.example_code
    if turn.state.step is not Step.EMPLOYER_CODE:
        turn.reply(turn.voice.say(message, example=example))
        turn.prompt()
    elif failures >= turn.config.max_code_failures:
        turn.reply(turn.voice.say(message, example=example), turn.voice.say(texts.CODE_GIVE_UP))
        turn.finish_step(Step.EMPLOYER_CODE)
    else:
        turn.reply(prompts.ask_employer_code(turn.voice, message))


def code_result(turn: Turn, result: EffectResult) -> None:
    match result:
        case EmployerCodeAccepted(_, city_name, city_name_latin):
            turn.update(employer_linked=True, code_failures=0, last_code_failure_at=None)
            city = turn.voice.city(city_name, city_name_latin)
            turn.reply(turn.voice.say(texts.CODE_ACCEPTED, city=city))
            turn.finish_step(Step.EMPLOYER_CODE)
        case EmployerCodeUnknown():
            code_failed(turn, texts.CODE_NOT_FOUND)
        case EmployerCodeRevoked():
            if turn.state.step is Step.EMPLOYER_CODE:
                turn.reply(prompts.ask_employer_code(turn.voice, texts.CODE_REVOKED))
            else:
                turn.reply(turn.voice.say(texts.CODE_REVOKED))
                turn.prompt()


# --- consent and the residence card ---------------------------------------------------------------
def consent(turn: Turn, version: str, *, agreed: bool) -> None:
    if version != CONSENT_VERSION:
        # The worker tapped a button under an older text: show the current one.
        turn.ask_consent(texts.CONSENT_CHANGED)
    elif not agreed:
        turn.settle(Step.CONSENT, Step.CARD)
        turn.reply(turn.voice.say(texts.CONSENT_DECLINED, reminders=turn.voice.word(Action.REMINDERS)))
        if turn.state.step in (Step.CONSENT, Step.CARD):
            turn.advance()
    else:
        if turn.state.consent_version != version:
            turn.effect(RecordConsent(version, turn.state.language, turn.now))
            turn.update(consent_version=version, consented_at=turn.now)
        if turn.state.worker_linked:
            turn.reply(turn.voice.say(texts.REMINDERS_ACTIVE))
            turn.finish_step(Step.CONSENT)
        else:
            turn.settle(Step.CONSENT)
            turn.update(step=Step.CARD, settled=turn.state.settled - {Step.CARD})
            turn.prompt()


def card(turn: Turn, worker_id: str) -> None:
    if turn.state.consent_version != CONSENT_VERSION:
        # Only after explicit consent to the current text; the id is dropped, never stored.
        turn.ask_consent(texts.CARD_NEEDS_CONSENT)
        return
    consented_at = turn.state.consented_at
    if consented_at is None:
        raise ValueError("subscriber state has consent_version but no consented_at")
    turn.effect(LinkWorker(worker_id, CONSENT_VERSION, consented_at))
    turn.update(worker_linked=True)
    turn.reply(turn.voice.say(texts.CARD_LINKED))
    turn.finish_step(Step.CARD)


def reminders(turn: Turn) -> None:
    if turn.state.consent_version != CONSENT_VERSION:
        turn.ask_consent()
    elif turn.state.worker_linked:
        turn.reply(turn.voice.say(texts.REMINDERS_ACTIVE))
        turn.prompt()
    else:
        turn.update(step=Step.CARD, settled=turn.state.settled - {Step.CARD})
        turn.prompt()
