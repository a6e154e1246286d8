"""Acting on one input: open menus, answers to questions, commands; anything else re-asks."""

from __future__ import annotations

from services.common import codes, languages
from services.common.codes import ResidenceStatus
from services.common.contracts.notices import NoticeCategory

from . import answers, flows, inputs, prompts, texts
from .effects import ErasePersonalData, ResumeAll, StopAll
from .postbacks import Action, Intent
from .state import Modal, Step
from .turn import Turn

_SKIPPABLE = frozenset({Step.EMPLOYER_CODE, Step.NATIONALITY, Step.RESIDENCE_STATUS, Step.CARD})
#: What answers an open menu; any other input closes it and is handled as usual.
_MODAL_ACTIONS = {
    Modal.LANGUAGE: frozenset({Action.SET_LANGUAGE, Action.LANGUAGE}),
    Modal.TOPICS: frozenset({Action.TOPIC, Action.TOPICS, Action.TOPICS_DONE}),
    Modal.CONFIRM_DELETE: frozenset({Action.DELETE, Action.DELETE_CONFIRM, Action.DELETE_CANCEL}),
}


def run(turn: Turn, given: inputs.Input) -> None:
    modal = turn.state.modal
    if modal is not None and not _answers_modal(turn, modal, given):
        turn.update(modal=None)
        if modal is Modal.CONFIRM_DELETE:
            turn.reply(turn.voice.say(texts.DELETE_CANCELLED))
    match given:
        case Intent():
            intent(turn, given)
        case inputs.Card(worker_id):
            flows.card(turn, worker_id)
        case inputs.Code(candidate):
            flows.code(turn, candidate)
        case inputs.Text(typed):
            free_text(turn, typed)
        case inputs.Other():
            turn.nothing_to_act_on()


def _answers_modal(turn: Turn, modal: Modal, given: inputs.Input) -> bool:
    if isinstance(given, inputs.Text):
        return modal is Modal.LANGUAGE and answers.language(given.text, turn.config) is not None
    return isinstance(given, Intent) and given.action in _MODAL_ACTIONS[modal]


def intent(turn: Turn, intent: Intent) -> None:
    match intent.action:
        case Action.LANGUAGE:
            if turn.state.step is not Step.LANGUAGE:
                turn.update(modal=Modal.LANGUAGE)
            turn.reply(prompts.language_picker(turn.voice, intent.page(), first=turn.state.language))
        case Action.SET_LANGUAGE:
            set_language(turn, intent.get("lang"))
        case Action.TOPICS:
            turn.update(modal=Modal.TOPICS)
            turn.reply(prompts.topics(turn.voice, turn.state))
        case Action.TOPIC:
            topic(turn, intent.get("c"), on=intent.get("on") == "1")
        case Action.TOPICS_DONE:
            turn.update(modal=None)
            turn.reply(turn.voice.say(texts.SAVED))
            turn.prompt()
        case Action.REMINDERS:
            flows.reminders(turn)
        case Action.STOP:
            if not turn.state.stopped:
                turn.update(stopped=True)
                turn.effect(StopAll("requested"))
            turn.reply(turn.voice.say(texts.STOPPED, start=turn.voice.word(Action.START)))
        case Action.START:
            if turn.state.stopped:
                turn.update(stopped=False)
                turn.effect(ResumeAll("requested"))
            turn.reply(turn.voice.say(texts.STARTED))
            turn.prompt()
        case Action.DELETE:
            turn.update(modal=Modal.CONFIRM_DELETE)
            turn.reply(prompts.confirm_delete(turn.voice))
        case Action.DELETE_CONFIRM:
            delete_confirmed(turn)
        case Action.DELETE_CANCEL:
            turn.update(modal=None)
            turn.reply(turn.voice.say(texts.DELETE_CANCELLED))
            turn.prompt()
        case Action.HELP:
            turn.reply(*prompts.help_messages(turn.voice, turn.state))
        case Action.NATIONALITY:
            turn.reply(prompts.nationality_picker(turn.voice, intent.page()))
        case Action.SET_NATIONALITY:
            set_nationality(turn, intent.get("c").upper())
        case Action.SET_STATUS:
            set_status(turn, intent.get("s"))
        case Action.SKIP:
            skip(turn, intent.get("step"))
        case Action.CONSENT:
            flows.consent(turn, intent.get("v"), agreed=intent.get("a") == "yes")


def set_language(turn: Turn, code: str) -> None:
    if code not in turn.config.languages:
        turn.nothing_to_act_on()
        return
    turn.update(language=code, language_confirmed=True, modal=None)
    turn.reply(turn.voice.say(texts.LANGUAGE_SET, language=languages.get(code).native_name))
    turn.finish_step(Step.LANGUAGE)


def set_nationality(turn: Turn, code: str) -> None:
    if not codes.is_country_code(code):
        turn.nothing_to_act_on()
        return
    turn.update(nationality=code)
    if turn.state.step is not Step.NATIONALITY:
        turn.reply(turn.voice.say(texts.SAVED))
    turn.finish_step(Step.NATIONALITY)


def set_status(turn: Turn, value: str) -> None:
    try:
        status = ResidenceStatus(value)
    except ValueError:
        turn.nothing_to_act_on()
        return
    turn.update(residence_status=status)
    if turn.state.step is not Step.RESIDENCE_STATUS:
        turn.reply(turn.voice.say(texts.SAVED))
    turn.finish_step(Step.RESIDENCE_STATUS)


def skip(turn: Turn, value: str) -> None:
    step = next((s for s in _SKIPPABLE if s.value == value), None)
    if step is None or step is not turn.state.step:
        # A button from an earlier question: just ask the current one again.
        turn.prompt()
        return
    if step is Step.CARD:
        turn.reply(turn.voice.say(texts.CONSENT_DECLINED, reminders=turn.voice.word(Action.REMINDERS)))
    turn.finish_step(step)


def topic(turn: Turn, value: str, *, on: bool) -> None:
    """Set one topic on or off (the button says which, so a double tap changes nothing)."""
    category = next((c for c in NoticeCategory if c.value == value), None)
    if category is not None and category not in turn.config.mandatory_categories:
        out = turn.state.categories_opted_out
        turn.update(categories_opted_out=out - {category} if on else out | {category})
    turn.update(modal=Modal.TOPICS)
    turn.reply(prompts.topics(turn.voice, turn.state))


def free_text(turn: Turn, typed: str) -> None:
    """Text that is neither a command nor a code: an answer to the open question, if it is one."""
    step = turn.state.step
    language = answers.language(typed, turn.config)
    if language is not None and (turn.state.modal is Modal.LANGUAGE or step is Step.LANGUAGE):
        set_language(turn, language)
    elif step is Step.NATIONALITY:
        found = answers.country(typed, turn.config)
        if found is None:
            turn.reply(prompts.nationality_picker(turn.voice, 0, texts.NATIONALITY_NOT_FOUND))
        else:
            set_nationality(turn, found)
    elif step is Step.RESIDENCE_STATUS:
        status = answers.residence_status(typed, turn.config)
        if status is None:
            turn.reply(prompts.status_picker(turn.voice, texts.USE_BUTTONS))
        else:
            set_status(turn, status.value)
    else:
        # Includes the card step: ingest turns card numbers into ids, so this text is not one.
        # It is never echoed back.
        turn.nothing_to_act_on()


def delete_confirmed(turn: Turn) -> None:
    if turn.state.modal is not Modal.CONFIRM_DELETE:
        # A stale "Delete" button: ask again rather than erase on an old tap.
        intent(turn, Intent(Action.DELETE))
        return
    turn.reply(turn.voice.say(texts.DELETED))
    turn.effect(ErasePersonalData(turn.now))
    turn.erased = True
