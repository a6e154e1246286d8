"""The onboarding conversation: happy paths, wrong inputs in several languages, pre-selection, paging."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.common.codes import ResidenceStatus
from services.router.dialogue import (
    LinkEmployer,
    LinkWorker,
    RecordConsent,
    Step,
    SubscriberState,
)
from services.router.dialogue import texts as t
from services.router.dialogue.employer_code import check_symbol
from services.router.dialogue.prompts import Voice

from .chat import (
    CONFIG,
    OTHER_CODE,
    REVOKED_CODE,
    VALID_CODE,
    WORKER,
    Chat,
    all_text,
    consent_data,
    data,
    display,
    labels,
    texts_of,
)


def say(language: str, text: t.Text, **values: str) -> str:
    return Voice(CONFIG, language)(text, **values)


EXAMPLE = CONFIG.example_code


def test_happy_path_in_english() -> None:
    chat = Chat()
    greeting = chat.follow()
    assert texts_of(greeting)[0].startswith("Hello! This is the LINE account of Gunma Prefecture")
    assert texts_of(greeting)[1] == "Please choose your language."
    assert "English" in labels(greeting)
    assert chat.state is not None and chat.state.step is Step.LANGUAGE and not chat.state.language_confirmed

    chosen = chat.tap("cmd=set_language&lang=en")
    assert texts_of(chosen) == [
        "Your language is now English.",
        say("en", t.ASK_EMPLOYER_CODE, example=EXAMPLE),
    ]
    assert labels(chosen) == ["Skip"]

    code = chat.say(f"my code is {display(VALID_CODE)}")
    assert code.effects == (LinkEmployer(VALID_CODE),)
    assert texts_of(code)[0] == "Thank you! You are now registered with your employer in Ota."
    assert texts_of(code)[1] == say("en", t.ASK_NATIONALITY)
    assert labels(code)[:3] == ["Vietnam", "Philippines", "Indonesia"]

    nationality = chat.tap("cmd=set_nationality&c=VN")
    assert texts_of(nationality) == [say("en", t.ASK_RESIDENCE_STATUS)]
    assert len(labels(nationality)) == 13 and labels(nationality)[-1] == "Skip"

    status = chat.tap("cmd=set_status&s=specified_skilled_worker_1")
    assert all_text(status).startswith("Personal reminders (optional)")
    assert labels(status) == ["I agree", "Not now"]

    agreed = chat.tap(consent_data())
    assert agreed.effects == (RecordConsent(t_version(), "en", chat.clock + timedelta(seconds=1)),)
    assert texts_of(agreed) == [say("en", t.ASK_CARD)]

    linked = chat.card()
    assert agreed.state is not None and agreed.state.consented_at is not None
    assert linked.effects == (LinkWorker(WORKER, t_version(), agreed.state.consented_at),)
    assert texts_of(linked) == [
        say("en", t.CARD_LINKED),
        "Registration is complete. Send “help” at any time to see what you can do.",
    ]
    state = chat.state
    assert state is not None
    assert state.step is Step.DONE and state.onboarding_completed
    assert (state.language, state.employer_linked, state.nationality) == ("en", True, "VN")
    assert state.residence_status is ResidenceStatus.SPECIFIED_SKILLED_WORKER_1
    assert state.worker_linked and state.consent_version == t_version()


def t_version() -> str:
    from services.router.dialogue import CONSENT_VERSION

    return CONSENT_VERSION


def test_happy_path_typed_in_vietnamese() -> None:
    chat = Chat(profile_language="vi")
    greeting = chat.follow()
    assert texts_of(greeting)[0].startswith("Xin chào!")
    assert labels(greeting)[0] == "Tiếng Việt"  # the profile language leads the picker

    chat.say("tieng viet")  # typed without accents
    assert chat.state is not None and chat.state.language_confirmed
    chat.say("mã: gm 4f7h-t2k" + VALID_CODE[-1].lower())
    chat.say("Việt Nam")
    assert chat.state.nationality == "VN"
    status = chat.say("特定技能１号")  # as printed on the card, full-width digit
    assert chat.state.residence_status is ResidenceStatus.SPECIFIED_SKILLED_WORKER_1
    assert all_text(status).startswith("Lời nhắc cá nhân (không bắt buộc)")
    assert labels(status) == ["Tôi đồng ý", "Để lúc khác"]


def test_profile_language_that_is_not_offered_greets_in_the_default() -> None:
    chat = Chat(profile_language="de")
    greeting = chat.follow()
    assert texts_of(greeting)[0].startswith("Hello!")
    assert labels(greeting)[0] == "English"


@pytest.mark.parametrize(
    ("profile", "language"),
    [("pt", "pt-BR"), ("zh-TW", "zh-Hant"), ("in", "id"), ("ja", "ja"), ("tl", "fil")],
)
def test_line_profile_codes_preselect_the_language(profile: str, language: str) -> None:
    chat = Chat(profile_language=profile)
    chat.follow()
    assert chat.state is not None and chat.state.language == language


def test_language_picker_pages_cover_every_language_once() -> None:
    chat = Chat()
    first = chat.follow()
    assert len(labels(first)) == 13 and labels(first)[-1] == "More ▸"
    second = chat.tap(data(first)[-1])
    assert texts_of(second) == ["Please choose your language."]
    offered = [d.split("lang=")[1] for d in data(first)[:-1] + data(second) if "lang=" in d]
    assert sorted(offered) == sorted(CONFIG.languages)
    assert len(labels(second)) == 13
    assert chat.state is not None and chat.state.step is Step.LANGUAGE


@pytest.mark.parametrize(
    ("typed", "language"),
    [
        ("Tiếng Việt", "vi"),
        ("VIETNAMESE", "vi"),
        ("ベトナム語", "vi"),
        ("Português", "pt-BR"),
        ("nepali", "ne"),
        ("やさしい にほんご", "ja-x-easy"),
        ("日本語", "ja"),
        ("繁體中文", "zh-Hant"),
        ("Oʻzbekcha", "uz"),
        ("o'zbekcha", "uz"),
    ],
)
def test_a_language_can_be_typed_by_name_in_any_language(typed: str, language: str) -> None:
    chat = Chat()
    chat.follow()
    chat.say(typed)
    assert chat.state is not None and chat.state.language == language and chat.state.language_confirmed


def test_an_ambiguous_or_unknown_language_name_shows_the_picker_again() -> None:
    chat = Chat()
    chat.follow()
    again = chat.say("Chinese")  # Simplified or Traditional? Ask.
    assert texts_of(again) == ["Please choose your language."]
    assert chat.state is not None and not chat.state.language_confirmed


@pytest.mark.parametrize(
    ("language", "typed"),
    [
        ("vi", "GM-1234-5678"),
        ("pt-BR", "gm 4f7h t2kx"),
        ("ne", "GM-ABCD-EFGU"),
        ("ja", "ＧＭ－ＡＡＡＡ－ＡＡＡＡ"),
    ],
)
def test_a_mistyped_code_gets_a_helpful_reply_in_the_workers_language(language: str, typed: str) -> None:
    chat = Chat()
    chat.follow()
    chat.tap(f"cmd=set_language&lang={language}")
    reply = chat.say(typed)
    assert reply.effects == ()  # the check symbol caught it: no registry look-up
    assert texts_of(reply) == [say(language, t.CODE_MALFORMED, example=EXAMPLE)]
    assert labels(reply) == [say(language, t.BUTTON_SKIP)]
    assert chat.state is not None and chat.state.step is Step.EMPLOYER_CODE and chat.state.code_failures == 1


@pytest.mark.parametrize(
    "typed",
    [
        display(VALID_CODE),
        display(VALID_CODE).lower(),
        VALID_CODE,
        f"{VALID_CODE[:4]} {VALID_CODE[4:]}",
        display(VALID_CODE).translate(
            str.maketrans(
                "0123456789ABCDEFGHJKMNPQRSTVWXYZ-",
                "０１２３４５６７８９ＡＢＣＤＥＦＧＨＪＫＭＮＰＱＲＳＴＶＷＸＹＺ－",
            )
        ),
        f"登録コード：{display(VALID_CODE)}",
        f"Hello, my company code is gm{VALID_CODE}. Thanks!",
    ],
)
def test_codes_are_recognised_however_they_are_typed(typed: str) -> None:
    chat = Chat()
    chat.follow()
    chat.tap("cmd=set_language&lang=en")
    assert chat.say(typed).effects == (LinkEmployer(VALID_CODE),)


def test_o_i_l_are_read_as_zero_and_one() -> None:
    canonical = "0011123" + check_symbol("0011123")
    typed = "0O1IL23" + canonical[-1]
    chat = Chat(codes={canonical: ("高崎市", "Takasaki")})
    chat.follow()
    chat.tap("cmd=set_language&lang=en")
    reply = chat.say(f"GM-{typed[:4]}-{typed[4:]}")
    assert reply.effects == (LinkEmployer(canonical),)
    assert "Takasaki" in all_text(reply)


def test_an_unknown_code_gets_another_try_then_onboarding_goes_on() -> None:
    chat = Chat(codes={})
    chat.follow()
    chat.tap("cmd=set_language&lang=es")
    for attempt in range(1, CONFIG.max_code_failures):
        reply = chat.say(display(VALID_CODE))
        assert texts_of(reply) == [say("es", t.CODE_NOT_FOUND)]
        assert labels(reply) == ["Omitir"]
        assert chat.state is not None and chat.state.code_failures == attempt
    last = chat.say(display(OTHER_CODE))
    assert texts_of(last)[:2] == [say("es", t.CODE_NOT_FOUND), say("es", t.CODE_GIVE_UP)]
    assert texts_of(last)[2] == say("es", t.ASK_NATIONALITY)
    assert chat.state is not None and chat.state.step is Step.NATIONALITY
    # Locked for a while: codes are not even looked up.
    locked = chat.say(display(VALID_CODE))
    assert locked.effects == ()
    assert texts_of(locked)[0] == say("es", t.CODE_TOO_MANY)
    # An hour later they are again.
    chat.clock += CONFIG.code_lockout
    chat.codes[VALID_CODE] = ("太田市", "Ota")
    again = chat.say(display(VALID_CODE))
    assert again.effects == (LinkEmployer(VALID_CODE),)
    assert "Ota" in all_text(again)
    assert chat.state.employer_linked and chat.state.code_failures == 0
    assert chat.state.step is Step.NATIONALITY  # the question being asked stays


def test_a_revoked_code_asks_for_a_new_one() -> None:
    chat = Chat()
    chat.follow()
    chat.tap("cmd=set_language&lang=fr")
    reply = chat.say(display(REVOKED_CODE))
    assert texts_of(reply) == [say("fr", t.CODE_REVOKED)]
    assert labels(reply) == ["Passer"]
    assert chat.state is not None and chat.state.step is Step.EMPLOYER_CODE


def test_skip_the_code() -> None:
    chat = Chat()
    chat.follow()
    chat.tap("cmd=set_language&lang=en")
    skipped = chat.tap("cmd=skip&step=employer_code")
    assert texts_of(skipped) == [say("en", t.ASK_NATIONALITY)]
    assert chat.state is not None and not chat.state.employer_linked


def test_text_that_is_not_a_code_asks_again_without_counting() -> None:
    chat = Chat()
    chat.follow()
    chat.tap("cmd=set_language&lang=id")
    reply = chat.say("saya tidak tahu")
    assert texts_of(reply) == [say("id", t.ASK_EMPLOYER_CODE, example=EXAMPLE)]
    assert chat.state is not None and chat.state.code_failures == 0


def test_a_deep_link_code_before_the_language_keeps_the_language_question() -> None:
    """A QR code adds the friend and sends the code at once, before any language is chosen."""
    chat = Chat(profile_language="th")
    chat.follow()
    reply = chat.say(display(VALID_CODE))
    assert reply.effects == (LinkEmployer(VALID_CODE),)
    assert texts_of(reply)[0] == say("th", t.CODE_ACCEPTED, city="Ota")
    assert texts_of(reply)[1] == say("th", t.CHOOSE_LANGUAGE)
    chosen = chat.tap("cmd=set_language&lang=th")
    assert texts_of(chosen)[1] == say("th", t.ASK_NATIONALITY)  # the code question is not asked


def test_readers_of_japanese_and_chinese_see_the_city_in_kanji() -> None:
    for language, city in (("ja", "太田市"), ("zh-Hant", "太田市"), ("ko", "Ota"), ("my", "Ota")):
        chat = Chat()
        chat.follow()
        chat.tap(f"cmd=set_language&lang={language}")
        assert texts_of(chat.say(display(VALID_CODE)))[0] == say(language, t.CODE_ACCEPTED, city=city)


def test_nationality_paging_and_typing() -> None:
    chat = Chat()
    chat.follow()
    chat.tap("cmd=set_language&lang=ko")
    first = chat.tap("cmd=skip&step=employer_code")
    assert labels(first)[0] == "베트남" and labels(first)[-2:] == ["더 보기 ▸", "건너뛰기"]
    second = chat.tap(data(first)[-2])
    assert labels(second)[-2:] == ["◂ 뒤로", "건너뛰기"]
    codes = [d.split("c=")[1] for d in data(first) + data(second) if "set_nationality" in d]
    assert codes == list(CONFIG.nationalities)
    unknown = chat.say("Atlantis")
    assert texts_of(unknown) == [say("ko", t.NATIONALITY_NOT_FOUND)]
    chat.say("페루")
    assert chat.state is not None and chat.state.nationality == "PE"


@pytest.mark.parametrize(
    ("typed", "code"),
    [("Brasil", "BR"), ("ネパール", "NP"), ("Myanmar", "MM"), ("Burma", "MM"), ("germany", "DE")],
)
def test_countries_are_found_by_name_in_any_language(typed: str, code: str) -> None:
    chat = Chat()
    chat.follow()
    chat.tap("cmd=set_language&lang=en")
    chat.tap("cmd=skip&step=employer_code")
    chat.say(typed)
    assert chat.state is not None and chat.state.nationality == code


@pytest.mark.parametrize(
    ("typed", "status"),
    [
        ("Thực tập sinh số 2", ResidenceStatus.TECHNICAL_INTERN_2B),
        ("技能実習2号イ", ResidenceStatus.TECHNICAL_INTERN_2A),
        ("estudante", ResidenceStatus.STUDENT),
        ("TEIJUSHA/LONGO PRAZO", ResidenceStatus.LONG_TERM_RESIDENT),
    ],
)
def test_statuses_can_be_typed(typed: str, status: ResidenceStatus) -> None:
    chat = Chat()
    chat.follow()
    chat.tap("cmd=set_language&lang=en")
    chat.tap("cmd=skip&step=employer_code")
    chat.tap("cmd=skip&step=nationality")
    chat.say(typed)
    assert chat.state is not None and chat.state.residence_status is status


def test_an_unknown_status_asks_to_use_the_buttons() -> None:
    chat = Chat()
    chat.follow()
    chat.tap("cmd=set_language&lang=ru")
    chat.tap("cmd=skip&step=employer_code")
    chat.tap("cmd=skip&step=nationality")
    reply = chat.say("не знаю")
    assert texts_of(reply) == [say("ru", t.USE_BUTTONS)]
    assert len(labels(reply)) == 13
    assert chat.state is not None and chat.state.step is Step.RESIDENCE_STATUS


def test_skipping_everything_still_completes_registration() -> None:
    chat = Chat()
    chat.follow()
    chat.tap("cmd=set_language&lang=en")
    chat.tap("cmd=skip&step=employer_code")
    chat.tap("cmd=skip&step=nationality")
    chat.tap("cmd=skip&step=residence_status")
    declined = chat.tap(consent_data("no"))
    assert declined.effects == ()
    assert texts_of(declined) == [
        "OK. You will still receive general information. For personal reminders later, send “reminders”.",
        "Registration is complete. Send “help” at any time to see what you can do.",
    ]
    assert chat.state == SubscriberState(
        language="en",
        language_confirmed=True,
        step=Step.DONE,
        settled=frozenset(s for s in Step if s is not Step.DONE),
        onboarding_completed=True,
        follow_changed_at=chat.state.follow_changed_at if chat.state else None,
    )


def test_stickers_during_onboarding_repeat_the_question() -> None:
    chat = Chat()
    chat.follow()
    chat.tap("cmd=set_language&lang=fil")
    assert texts_of(chat.sticker()) == [say("fil", t.ASK_EMPLOYER_CODE, example=EXAMPLE)]


def test_stale_buttons_from_earlier_questions_do_not_derail() -> None:
    chat = Chat()
    chat.onboard()
    # An old "Skip" under the code question, tapped after onboarding: nothing to say, nothing changes.
    before = chat.state
    reply = chat.tap("cmd=skip&step=employer_code")
    assert reply.replies == () and chat.state == before
    # An old nationality button still sets the nationality, and says so.
    saved = chat.tap("cmd=set_nationality&c=PH")
    assert texts_of(saved) == ["Saved."] and chat.state is not None and chat.state.nationality == "PH"
    # Postbacks that are not ours, or nonsense values, change nothing.
    fallback = say("en", t.UNKNOWN, help="help")
    for junk in ("", "foo=bar", "cmd=unknown", "cmd=set_language&lang=xx", "cmd=set_status&s=pirate"):
        before = chat.state
        reply = chat.tap(junk)
        assert texts_of(reply) in ([], [fallback])
        assert chat.state is not None and before is not None
        assert chat.state.with_(last_fallback_at=None) == before.with_(last_fallback_at=None)
