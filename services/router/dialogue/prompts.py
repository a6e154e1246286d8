"""The dialogue's messages in the worker's language: questions with their buttons, menus, help."""

from __future__ import annotations

from dataclasses import dataclass

from services.common import languages
from services.common.contracts.notices import NoticeCategory

from . import answers, catalogs, texts
from .config import DialogueConfig
from .consent import CONSENT_VERSION
from .keywords import KEYWORD_TEXTS
from .line_messages import Button, Message, paginate, text
from .postbacks import Action, encode
from .state import Step, SubscriberState

#: Languages whose readers are shown the Japanese (kanji) spelling of a city.
_KANJI_READERS = frozenset({"ja", "ja-x-easy", "zh-Hans", "zh-Hant"})


@dataclass(frozen=True, slots=True)
class Voice:
    """Texts in one language."""

    config: DialogueConfig
    language: str

    @property
    def books(self) -> catalogs.Catalogs:
        return catalogs.load(self.config.locales_dir, self.config.languages, self.config.default_language)

    def __call__(self, text: texts.Text, /, **values: str) -> str:
        return self.books.text(self.language, text, **values)

    def word(self, command: Action) -> str:
        """The first keyword of ``command`` in this language, as help shows it."""
        return self.books.keywords(self.language, KEYWORD_TEXTS[command])[0]

    def button(self, label: texts.Text, action: Action, **params: str) -> Button:
        shown = self(label)
        return Button(shown, encode(action, **params), shown)

    def say(self, body: texts.Text, buttons: list[Button] | None = None, /, **values: str) -> Message:
        return text(self(body, **values), buttons or ())

    def city(self, name: str, latin: str | None) -> str:
        return name if self.language in _KANJI_READERS or not latin else latin


def _pager(voice: Voice, action: Action) -> tuple[Button, ...]:
    more = voice(texts.BUTTON_MORE) + " ▸"
    back = "◂ " + voice(texts.BUTTON_BACK)
    return (Button(more, encode(action, page="1")), Button(back, encode(action, page="0")))


def language_picker(voice: Voice, page: int, first: str | None = None) -> Message:
    """The offered languages by their own names; ``first`` (the guess) leads page one."""
    order = list(voice.config.languages)
    if first in order:
        order.remove(first)
        order.insert(0, first)
    names = {code: languages.get(code).native_name for code in order}
    choices = [Button(names[code], encode(Action.SET_LANGUAGE, lang=code), names[code]) for code in order]
    more, back = _pager(voice, Action.LANGUAGE)
    buttons = paginate(
        choices,
        page,
        more=lambda n: Button(more.label, encode(Action.LANGUAGE, page=str(n))),
        back=back,
    )
    return voice.say(texts.CHOOSE_LANGUAGE, buttons)


def _skip(voice: Voice, step: Step) -> Button:
    return voice.button(texts.BUTTON_SKIP, Action.SKIP, step=step.value)


def nationality_picker(voice: Voice, page: int, body: texts.Text = texts.ASK_NATIONALITY) -> Message:
    choices = []
    for code in voice.config.nationalities:
        label = answers.country_label(code, voice.language)
        choices.append(Button(label, encode(Action.SET_NATIONALITY, c=code), label))
    more, back = _pager(voice, Action.NATIONALITY)
    buttons = paginate(
        choices,
        page,
        fixed=[_skip(voice, Step.NATIONALITY)],
        more=lambda n: Button(more.label, encode(Action.NATIONALITY, page=str(n))),
        back=back,
    )
    return voice.say(body, buttons)


def status_picker(voice: Voice, body: texts.Text = texts.ASK_RESIDENCE_STATUS) -> Message:
    buttons = [
        voice.button(texts.STATUS_TEXTS[status], Action.SET_STATUS, s=status.value)
        for status in voice.config.residence_statuses
    ]
    return voice.say(body, [*buttons, _skip(voice, Step.RESIDENCE_STATUS)])


def consent_buttons(voice: Voice) -> list[Button]:
    return [
        voice.button(texts.BUTTON_AGREE, Action.CONSENT, v=CONSENT_VERSION, a="yes"),
        voice.button(texts.BUTTON_NOT_NOW, Action.CONSENT, v=CONSENT_VERSION, a="no"),
    ]


def consent(voice: Voice) -> list[Message]:
    """The consent text (and the privacy policy's address), with I agree / Not now."""
    body = voice(texts.CONSENT, delete=voice.word(Action.DELETE))
    url = voice.config.privacy_policy_url
    if url:
        return [text(body), text(voice(texts.PRIVACY_POLICY, url=url), consent_buttons(voice))]
    return [text(body, consent_buttons(voice))]


def ask_card(voice: Voice, body: texts.Text = texts.ASK_CARD) -> Message:
    return voice.say(body, [voice.button(texts.BUTTON_LATER, Action.SKIP, step=Step.CARD.value)])


def ask_employer_code(voice: Voice, body: texts.Text = texts.ASK_EMPLOYER_CODE) -> Message:
    return voice.say(body, [_skip(voice, Step.EMPLOYER_CODE)], example=voice.config.example_code)


def step_prompt(voice: Voice, state: SubscriberState) -> list[Message]:
    """The question of the current step, with its buttons (nothing once onboarding is done)."""
    match state.step:
        case Step.LANGUAGE:
            return [language_picker(voice, 0, first=state.language)]
        case Step.EMPLOYER_CODE:
            return [ask_employer_code(voice)]
        case Step.NATIONALITY:
            return [nationality_picker(voice, 0)]
        case Step.RESIDENCE_STATUS:
            return [status_picker(voice)]
        case Step.CONSENT:
            return consent(voice)
        case Step.CARD:
            return [ask_card(voice)]
        case Step.DONE:
            return []


def topics(voice: Voice, state: SubscriberState) -> Message:
    """The topics with ✅ (receiving) or ⬜ (not), as text and as on/off buttons."""
    mandatory = voice.config.mandatory_categories
    lines = [voice(texts.TOPICS), ""]
    buttons = []
    for category in NoticeCategory:
        if category in mandatory:
            continue
        on = category not in state.categories_opted_out
        label = f"{'✅' if on else '⬜'} {voice(texts.TOPIC_TEXTS[category])}"
        lines.append(label)
        buttons.append(Button(label, encode(Action.TOPIC, c=category.value, on="0" if on else "1")))
    if mandatory:
        names = ", ".join(voice(texts.TOPIC_TEXTS[c]) for c in NoticeCategory if c in mandatory)
        lines += ["", voice(texts.TOPICS_ALWAYS, topics=names)]
    buttons.append(voice.button(texts.BUTTON_DONE, Action.TOPICS_DONE))
    return text("\n".join(lines), buttons)


def command_buttons(voice: Voice, state: SubscriberState) -> list[Button]:
    stop_or_start = (
        voice.button(texts.BUTTON_START, Action.START)
        if state.stopped
        else voice.button(texts.BUTTON_STOP, Action.STOP)
    )
    return [
        voice.button(texts.BUTTON_LANGUAGE, Action.LANGUAGE),
        voice.button(texts.BUTTON_TOPICS, Action.TOPICS),
        voice.button(texts.BUTTON_REMINDERS, Action.REMINDERS),
        stop_or_start,
        voice.button(texts.BUTTON_DELETE_DATA, Action.DELETE),
    ]


def help_messages(voice: Voice, state: SubscriberState) -> list[Message]:
    words = {action.value: voice.word(action) for action in KEYWORD_TEXTS}
    messages = [text(voice(texts.HELP, **words))]
    if voice.config.contact:
        messages.append(text(voice(texts.CONTACT, contact=voice.config.contact)))
    if state.step is Step.DONE:
        messages[-1] = text(messages[-1]["text"], command_buttons(voice, state))
        return messages
    return messages + step_prompt(voice, state)


def fallback(voice: Voice, state: SubscriberState) -> Message:
    body = voice(texts.UNKNOWN, help=voice.word(Action.HELP))
    return text(body, [voice.button(texts.BUTTON_HELP, Action.HELP), *command_buttons(voice, state)[:2]])


def confirm_delete(voice: Voice) -> Message:
    return voice.say(
        texts.DELETE_CONFIRM,
        [
            voice.button(texts.BUTTON_DELETE, Action.DELETE_CONFIRM),
            voice.button(texts.BUTTON_CANCEL, Action.DELETE_CANCEL),
        ],
    )
