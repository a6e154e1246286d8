"""Commands at any time (typed in any language or from the rich menu), consent, stop, delete, re-follow."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.common.contracts import (
    MessageReceived,
    NoticeCategory,
    SubscriberFollowed,
    SubscriberUnfollowed,
)
from services.router.dialogue import (
    CONSENT_VERSION,
    ErasePersonalData,
    LinkWorker,
    Modal,
    RecordConsent,
    ResumeAll,
    Step,
    StopAll,
    opted_out,
)
from services.router.dialogue import texts as t
from services.router.dialogue.keywords import match
from services.router.dialogue.postbacks import Action
from services.router.dialogue.prompts import Voice

from .chat import CONFIG, VALID_CODE, WORKER, Chat, all_text, consent_data, data, display, labels, texts_of


def linked(chat: Chat, worker_id: str) -> LinkWorker:
    """The link effect, resting on the consent the subscriber gave."""
    assert chat.state is not None and chat.state.consented_at is not None
    return LinkWorker(worker_id, CONSENT_VERSION, chat.state.consented_at)


def say(language: str, text: t.Text, /, **values: str) -> str:
    return Voice(CONFIG, language)(text, **values)


@pytest.mark.parametrize(
    ("typed", "action"),
    [
        ("language", Action.LANGUAGE),
        ("Language?", Action.LANGUAGE),
        ("ＬＡＮＧＵＡＧＥ", Action.LANGUAGE),
        ("idioma", Action.LANGUAGE),
        ("ngôn ngữ", Action.LANGUAGE),
        ("ngon ngu", Action.LANGUAGE),
        ("言語", Action.LANGUAGE),
        ("ことば", Action.LANGUAGE),
        ("언어", Action.LANGUAGE),
        ("भाषा", Action.LANGUAGE),
        ("язык", Action.LANGUAGE),
        ("TIL", Action.LANGUAGE),
        ("help", Action.HELP),
        ("Help!", Action.HELP),
        ("ayuda", Action.HELP),
        ("ajuda", Action.HELP),
        ("ヘルプ", Action.HELP),
        ("帮助", Action.HELP),
        ("tulong", Action.HELP),
        ("အကူအညီ", Action.HELP),
        ("stop", Action.STOP),
        ("STOP", Action.STOP),
        ("dừng lại", Action.STOP),
        ("停止", Action.STOP),
        ("стоп", Action.STOP),
        ("หยุด", Action.STOP),
        ("start", Action.START),
        ("再開", Action.START),
        ("começar", Action.START),
        ("delete", Action.DELETE),
        ("xóa", Action.DELETE),
        ("xoa", Action.DELETE),
        ("削除", Action.DELETE),
        ("hapus", Action.DELETE),
        ("borrar", Action.DELETE),
        ("supprimer", Action.DELETE),
        ("මකන්න", Action.DELETE),
        ("topics", Action.TOPICS),
        ("chủ đề", Action.TOPICS),
        ("reminders", Action.REMINDERS),
        ("在留カード", Action.REMINDERS),
    ],
)
def test_command_words_in_many_languages(typed: str, action: Action) -> None:
    assert match(typed, CONFIG) is action


@pytest.mark.parametrize(
    "typed",
    [
        "I want to stop smoking",
        "how do I delete a photo?",
        "Where is the language school?",
        "ayuda con impuestos por favor",
        "言語学校はどこですか",
        "Tôi muốn dừng xe ở đâu?",
        "stop by the office tomorrow",
        "helpful",
        "startup",
        "Hello",
        "ok",
        "thanks",
        "ありがとう",
        "",
        "   ",
        "😀",
    ],
)
def test_ordinary_messages_are_not_commands(typed: str) -> None:
    assert match(typed, CONFIG) is None


def _at_step(step: Step, language: str = "en") -> Chat:
    chat = Chat()
    chat.follow()
    if step is Step.LANGUAGE:
        return chat
    chat.tap(f"cmd=set_language&lang={language}")
    order = [Step.EMPLOYER_CODE, Step.NATIONALITY, Step.RESIDENCE_STATUS, Step.CONSENT, Step.CARD]
    for earlier in order[: order.index(step)] if step in order else order:
        if earlier is Step.CONSENT:
            chat.tap(consent_data())
        elif earlier is Step.CARD:
            chat.card()
        else:
            chat.tap(f"cmd=skip&step={earlier.value}")
    assert chat.state is not None and chat.state.step is step
    return chat


@pytest.mark.parametrize("step", list(Step))
@pytest.mark.parametrize(("language", "word"), [("es", "idioma"), ("vi", "ngôn ngữ"), ("ja", "言語")])
def test_change_language_at_any_step_then_carry_on(step: Step, language: str, word: str) -> None:
    chat = _at_step(step, language)
    picker = chat.say(word)
    assert texts_of(picker)[-1] == say(chat.state.language if chat.state else "en", t.CHOOSE_LANGUAGE)
    assert any("set_language" in d for d in data(picker))
    chosen = chat.tap("cmd=set_language&lang=uk")
    assert texts_of(chosen)[0] == "Мову змінено: Українська."
    assert chat.state is not None and chat.state.language == "uk" and chat.state.modal is None
    if step is Step.LANGUAGE:
        assert chat.state.step is Step.EMPLOYER_CODE
    else:
        assert chat.state.step is step  # the question being asked is asked again, now in Ukrainian
    if step is not Step.DONE:
        assert len(texts_of(chosen)) >= 2


@pytest.mark.parametrize("step", list(Step))
def test_help_at_any_step_then_the_question_again(step: Step) -> None:
    chat = _at_step(step, "pt-BR")
    reply = chat.say("ajuda")
    language = chat.state.language if chat.state else "en"
    help_text = texts_of(reply)[0]
    if language == "pt-BR":
        assert help_text.startswith("Você pode enviar estas palavras:\n“idioma”: mudar o idioma\n“temas”")
        assert "“parar” / “começar”" in help_text
    else:  # still choosing a language: help comes in the guessed one
        assert help_text.startswith("You can send these words:\n“language”: change the language")
    if step is Step.DONE:
        assert labels(reply) == ["Idioma", "Temas", "Lembretes", "Parar mensagens", "Apagar meus dados"]
    else:
        assert len(reply.replies) >= 2  # the current question follows, with its buttons
    assert chat.state is not None and chat.state.step is step


def test_help_shows_the_contact_when_configured() -> None:
    from dataclasses import replace

    chat = Chat(config=replace(CONFIG, contact="☎ 027-000-0000 (Mon–Fri 9–17)"))
    chat.onboard()
    reply = chat.say("help")
    assert texts_of(reply)[-1] == "For questions, please contact: ☎ 027-000-0000 (Mon–Fri 9–17)"


@pytest.mark.parametrize("step", [Step.EMPLOYER_CODE, Step.NATIONALITY, Step.CONSENT, Step.DONE])
def test_stop_and_start_at_any_step(step: Step) -> None:
    chat = _at_step(step, "th")
    stopped = chat.say("หยุด")
    assert stopped.effects == (StopAll("requested"),)
    assert texts_of(stopped) == [say("th", t.STOPPED, start="เริ่ม")]
    assert chat.state is not None and chat.state.stopped and chat.state.step is step
    again = chat.say("STOP")
    assert again.effects == ()  # already stopped: said again, not applied again
    started = chat.tap("cmd=start")
    assert started.effects == (ResumeAll("requested"),)
    assert texts_of(started)[0] == say("th", t.STARTED)
    assert not chat.state.stopped


def test_topics_can_be_switched_but_disasters_are_always_sent() -> None:
    chat = Chat()
    chat.onboard("en")
    menu = chat.say("topics")
    assert "✅ Taxes" in labels(menu)
    assert not any("Disasters" in label for label in labels(menu))
    assert "Always sent: Disasters." in all_text(menu)
    assert chat.state is not None and chat.state.modal is Modal.TOPICS
    off = chat.tap(data(menu)[labels(menu).index("✅ Taxes")])
    assert "⬜ Taxes" in labels(off)
    assert chat.state.categories_opted_out == frozenset({NoticeCategory.TAX})
    # Asking to drop disasters (an old or forged button) does nothing.
    chat.tap("cmd=topic&c=disaster&on=0")
    assert chat.state.categories_opted_out == frozenset({NoticeCategory.TAX})
    assert not opted_out(chat.state, NoticeCategory.DISASTER, CONFIG.mandatory_categories)
    assert opted_out(chat.state, NoticeCategory.TAX, CONFIG.mandatory_categories)
    # The same tap twice is the same as once (the button says what to set, not "toggle").
    chat.tap(data(menu)[labels(menu).index("✅ Taxes")])
    assert chat.state.categories_opted_out == frozenset({NoticeCategory.TAX})
    done = chat.tap("cmd=topics_done")
    assert texts_of(done) == ["Saved."] and chat.state.modal is None
    on = chat.tap("cmd=topic&c=tax&on=1")
    assert "✅ Taxes" in labels(on) and chat.state.categories_opted_out == frozenset()


def test_other_input_closes_an_open_menu_and_is_handled() -> None:
    chat = Chat()
    chat.onboard("en")
    chat.say("topics")
    reply = chat.say("language")
    assert chat.state is not None and chat.state.modal is Modal.LANGUAGE
    assert texts_of(reply) == ["Please choose your language."]


def test_delete_asks_first_and_anything_else_keeps_the_data() -> None:
    chat = Chat()
    chat.onboard("ko")
    confirm = chat.say("삭제")
    assert texts_of(confirm) == [say("ko", t.DELETE_CONFIRM)]
    assert labels(confirm) == ["삭제", "취소"]
    assert confirm.effects == () and chat.state is not None and chat.state.modal is Modal.CONFIRM_DELETE
    other = chat.say("안녕하세요")
    assert texts_of(other)[0] == say("ko", t.DELETE_CANCELLED)
    assert other.effects == () and chat.state.modal is None
    # A "Delete" button from that old question does not erase: it asks again.
    stale = chat.tap("cmd=delete_confirm")
    assert stale.effects == () and texts_of(stale) == [say("ko", t.DELETE_CONFIRM)]
    cancelled = chat.tap("cmd=delete_cancel")
    assert texts_of(cancelled) == [say("ko", t.DELETE_CANCELLED)] and chat.state.modal is None


def test_delete_confirmed_erases_and_a_later_message_starts_afresh() -> None:
    chat = Chat()
    chat.onboard("ne")
    chat.say("मेटाउनुहोस्")
    erased = chat.tap("cmd=delete_confirm")
    assert erased.state is None  # the router deletes the subscriber row
    assert erased.language == "ne"
    assert texts_of(erased) == [say("ne", t.DELETED)]
    assert [type(e) for e in erased.effects] == [ErasePersonalData]
    again = chat.say("hello")
    assert texts_of(again)[0].startswith("Hello!")  # a new subscriber, greeted in the default language
    assert chat.state is not None and chat.state.step is Step.LANGUAGE and not chat.state.worker_linked


def test_delete_during_onboarding() -> None:
    chat = _at_step(Step.NATIONALITY, "fr")
    chat.say("supprimer")
    assert chat.tap("cmd=delete_confirm").state is None


class TestConsent:
    def test_a_card_number_before_consent_is_not_used(self) -> None:
        chat = _at_step(Step.NATIONALITY, "vi")
        reply = chat.card()
        assert reply.effects == ()
        assert texts_of(reply)[0] == say("vi", t.CARD_NEEDS_CONSENT)
        assert texts_of(reply)[1].startswith("Lời nhắc cá nhân")
        assert chat.state is not None and chat.state.step is Step.CONSENT and not chat.state.worker_linked
        assert WORKER not in repr(chat.state) and WORKER not in repr(reply.replies)

    def test_consent_is_recorded_with_version_language_and_time(self) -> None:
        chat = _at_step(Step.CONSENT, "mn")
        reply = chat.tap(consent_data())
        (effect,) = reply.effects
        assert isinstance(effect, RecordConsent)
        assert effect.language == "mn" and effect.at == chat.clock + timedelta(seconds=1)
        assert chat.state is not None and chat.state.consent_version == effect.version
        assert chat.state.consented_at == effect.at and chat.state.step is Step.CARD
        # Agreeing again (double tap) records nothing new.
        assert chat.tap(consent_data()).effects == ()

    def test_a_button_under_an_older_consent_text_shows_the_current_one(self) -> None:
        chat = _at_step(Step.CONSENT, "en")
        reply = chat.tap(consent_data(version="reminders-v0"))
        assert reply.effects == ()
        assert texts_of(reply)[0] == say("en", t.CONSENT_CHANGED)
        assert texts_of(reply)[1].startswith("Personal reminders (optional)")
        assert chat.state is not None and chat.state.consent_version is None
        # An older consent on record does not allow a new card either.
        chat.state = chat.state.with_(consent_version="reminders-v0")
        assert chat.card().effects == ()

    def test_after_consent_a_card_links_the_worker_also_later(self) -> None:
        chat = _at_step(Step.CARD, "en")
        typed = chat.say("AB1234")  # a wrong number slipped past ingest's detector
        assert typed.effects == () and "AB1234" not in all_text(typed)
        assert texts_of(typed) == [say("en", t.CARD_INVALID)]
        assert labels(typed) == ["Later"]
        later = chat.tap("cmd=skip&step=card")
        assert texts_of(later)[0] == say("en", t.CONSENT_DECLINED, reminders="reminders")
        assert chat.state is not None and chat.state.step is Step.DONE
        # Consent stands: a card sent later is linked, and a new card replaces the old one.
        assert chat.card().effects == (linked(chat, WORKER),)
        assert chat.card("cd" * 32).effects == (linked(chat, "cd" * 32),)

    def test_not_now_then_reminders_asks_for_consent_again(self) -> None:
        chat = _at_step(Step.CONSENT, "es")
        chat.tap(consent_data("no"))
        assert chat.state is not None and chat.state.step is Step.DONE and chat.state.consent_version is None
        assert chat.card().effects == ()
        chat.tap(consent_data("no"))
        ask = chat.say("recordatorios")
        assert texts_of(ask)[0].startswith("Recordatorios personales (opcional)")
        agreed = chat.tap(consent_data())
        assert agreed.state is not None and agreed.state.step is Step.CARD
        assert chat.card().effects == (linked(chat, WORKER),)
        active = chat.say("recordatorios")
        assert texts_of(active) == [say("es", t.REMINDERS_ACTIVE)]

    def test_privacy_policy_link_goes_with_the_consent(self) -> None:
        from dataclasses import replace

        chat = Chat(config=replace(CONFIG, privacy_policy_url="https://example.org/privacy"))
        chat.follow()
        chat.tap("cmd=set_language&lang=en")
        chat.tap("cmd=skip&step=employer_code")
        chat.tap("cmd=skip&step=nationality")
        reply = chat.tap("cmd=skip&step=residence_status")
        assert texts_of(reply)[-1] == "How we protect your data: https://example.org/privacy"
        assert labels(reply) == ["I agree", "Not now"]

    def test_typing_instead_of_tapping_is_not_consent(self) -> None:
        chat = _at_step(Step.CONSENT, "fr")
        for typed in ("oui", "yes", "J’accepte", "OK"):
            reply = chat.say(typed)
            assert reply.effects == ()
            assert texts_of(reply) == [say("fr", t.USE_BUTTONS)]
            assert labels(reply) == ["J’accepte", "Pas maintenant"]


class TestFollowing:
    def test_unfollow_stops_everything_silently(self) -> None:
        chat = Chat()
        chat.onboard()
        gone = chat.unfollow()
        assert gone.effects == (StopAll("unfollowed"),) and gone.replies == ()
        assert chat.state is not None and not chat.state.followed
        # Late redeliveries of older messages get no answer.
        assert chat.say("help").replies == ()

    def test_refollow_resumes_with_the_old_preferences(self) -> None:
        chat = Chat()
        chat.onboard("id")
        chat.tap("cmd=topic&c=garbage&on=0")
        before = chat.state
        chat.unfollow()
        back = chat.follow(unblocked=True)
        assert back.effects == (ResumeAll("refollowed"),)
        assert texts_of(back) == [say("id", t.WELCOME_BACK)]
        assert chat.state is not None and before is not None
        assert chat.state.followed and chat.state.step is Step.DONE
        assert chat.state.categories_opted_out == before.categories_opted_out
        assert (chat.state.language, chat.state.nationality, chat.state.worker_linked) == ("id", "VN", True)

    def test_refollow_during_onboarding_asks_the_open_question(self) -> None:
        chat = _at_step(Step.NATIONALITY, "my")
        chat.unfollow()
        back = chat.follow(unblocked=True)
        assert texts_of(back)[0] == say("my", t.WELCOME_BACK)
        assert texts_of(back)[1] == say("my", t.ASK_NATIONALITY)

    def test_refollow_after_stop_stays_stopped_and_says_so(self) -> None:
        chat = Chat()
        chat.onboard("uz")
        chat.say("toʻxtatish")
        chat.unfollow()
        back = chat.follow(unblocked=True)
        assert back.effects == ()
        assert texts_of(back) == [say("uz", t.WELCOME_BACK), say("uz", t.STOPPED, start="boshlash")]
        assert chat.state is not None and chat.state.stopped

    def test_an_older_unfollow_delivered_late_does_not_undo_a_newer_follow(self) -> None:
        chat = Chat()
        chat.onboard()
        old_unfollow = chat.event(SubscriberUnfollowed)
        chat.unfollow()
        chat.follow(unblocked=True)
        late = chat.send(old_unfollow)
        assert late.effects == () and chat.state is not None and chat.state.followed

    def test_standby_channel_events_update_state_but_never_reply(self) -> None:
        chat = Chat()
        event = chat.event(SubscriberFollowed)
        reply = chat.send(event.model_copy(update={"mode": "standby"}))
        assert reply.replies == () and chat.state is not None and chat.state.followed
        message = chat.event(MessageReceived, message_type="text", text="help")
        assert chat.send(message.model_copy(update={"mode": "standby"})).replies == ()


def test_cannot_reply_here_is_not_repeated_to_chatter() -> None:
    chat = Chat()
    chat.onboard("hi")
    first = chat.say("धन्यवाद")
    assert texts_of(first) == [say("hi", t.UNKNOWN, help="मदद")]
    assert labels(first) == ["मदद", "भाषा", "विषय"]
    assert chat.sticker().replies == ()  # within the quiet period
    chat.clock += CONFIG.fallback_quiet_period
    assert texts_of(chat.say("hello?")) == [say("hi", t.UNKNOWN, help="मदद")]


def test_a_code_after_onboarding_changes_the_employer() -> None:
    chat = Chat()
    chat.onboard()
    moved = chat.say("new job: " + display(VALID_CODE).replace(VALID_CODE[:4], VALID_CODE[:4].lower()))
    assert [type(e).__name__ for e in moved.effects] == ["LinkEmployer"]
    assert texts_of(moved) == ["Thank you! You are now registered with your employer in Ota."]
    # Without the prefix an 8-character word after onboarding is just a word.
    assert chat.say(VALID_CODE).effects == ()
