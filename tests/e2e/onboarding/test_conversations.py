"""Workers' conversations end to end: a phone in the LINE sandbox, signed webhooks into ingest, Kafka,
the router's dialogue and registry, the sender, and the replies in the phone's inbox.

Expected texts come from the message catalogs (``Voice``), so these tests check that the worker reads
the right sentence in the right language, not merely that something came back.
"""

from __future__ import annotations

import asyncio
import secrets
import string
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from services.common import languages
from services.common.contracts import derived_id
from services.line_sandbox.phone import Phone
from services.router.dialogue import CONSENT_VERSION, Action, DialogueConfig, texts
from services.router.dialogue.employer_code import check_symbol, display
from services.router.dialogue.prompts import Voice
from tests.support.line_stack import LineStack

CONFIG = DialogueConfig()
TOKYO = ZoneInfo("Asia/Tokyo")
MAEBASHI = "10201"


def voice(language: str) -> Voice:
    return Voice(CONFIG, language)


def card_number() -> str:
    letters = string.ascii_uppercase
    return (
        "".join(secrets.choice(letters) for _ in range(2))
        + f"{secrets.randbelow(10**8):08d}"
        + "".join(secrets.choice(letters) for _ in range(2))
    )


def unknown_code() -> str:
    payload = "".join(secrets.choice("0123456789ABCDEFGHJKMNPQRSTVWXYZ") for _ in range(7))
    return display(payload + check_symbol(payload), "GM")


def typo_of(code: str) -> str:
    """The printed code with one symbol changed: the check symbol catches it."""
    body = code.replace("GM-", "").replace("-", "")
    wrong = "1" if body[2] != "1" else "2"
    return display(body[:2] + wrong + body[3:], "GM")


async def subscriber(stack: LineStack, phone: Phone) -> dict[str, Any] | None:
    rows = await stack.query("SELECT * FROM subscribers WHERE line_user_id = $1", phone.user_id)
    return rows[0] if rows else None


async def audience_count(stack: LineStack, employer: str) -> int:
    async with httpx.AsyncClient(base_url=stack.router.url, trust_env=False, timeout=30) as http:
        answer = await http.post(
            "/v1/audience/count",
            json={"audience": {"employers": [employer]}},
            headers={"Authorization": f"Bearer {stack.keys['staff']}"},
        )
    assert answer.status_code == 200, answer.text
    return int(answer.json()["total"])


async def test_happy_path_from_follow_to_a_personal_reminder(line_stack: LineStack) -> None:
    vi = voice("vi")
    code = await line_stack.issue_code(name="Ota Foods", municipality_code="10205")
    assert code["deep_link"] == f"https://line.me/R/oaMessage/%40gunma-e2e/?{code['code']}"
    # The feed knows the worker: a job in Maebashi since last year, the period of stay ends in 75 days,
    # so the 90-day reminder is due as soon as the worker links the card.
    card = card_number()
    today = datetime.now(TOKYO).date()
    fed = await line_stack.feed(
        [
            {
                "type": "hired",
                "event_id": f"e2e-{uuid.uuid4().hex}",
                "reported_at": (datetime.now(UTC) - timedelta(days=300)).isoformat(),
                "residence_card_number": card,
                "nationality": "VN",
                "residence_status": "特定技能1号",
                "period_expires_on": (today + timedelta(days=75)).isoformat(),
                "hired_on": (today - timedelta(days=400)).isoformat(),
                "establishment": {
                    "establishment_id": f"{uuid.uuid4().int % 10**11:011d}",
                    "name": "Maebashi Seiki",
                    "municipality_code": MAEBASHI,
                },
            }
        ]
    )
    assert fed["accepted"] == 1

    phone = await line_stack.phone(language="vi")  # the phone is set to Vietnamese
    greeting = await phone.follow()
    assert greeting.language == "vi", "LINE's profile language pre-selects the greeting's language"
    assert greeting.endpoint == "reply", "answered with the webhook's reply token (free of charge)"
    assert greeting.texts == [
        vi(texts.WELCOME, organization=vi(texts.ORGANIZATION_NAME)),
        vi(texts.CHOOSE_LANGUAGE),
    ]
    assert greeting.quick_replies[0] == "Tiếng Việt"

    chosen = await phone.tap("cmd=set_language&lang=vi")
    assert chosen.texts[0] == vi(texts.LANGUAGE_SET, language="Tiếng Việt")
    accepted = await phone.say(code["message"])  # what the QR code's deep link makes the phone send
    assert accepted.texts[0] == vi(texts.CODE_ACCEPTED, city="Ota")
    nationality = await phone.say("Việt Nam")  # typed, not tapped
    assert vi(texts.ASK_RESIDENCE_STATUS) in nationality.texts[-1]
    status = await phone.tap("cmd=set_status&s=specified_skilled_worker_1")
    assert vi(texts.CONSENT, delete=vi.word(Action.DELETE)) in status.text
    consent = await phone.tap(f"cmd=consent&v={CONSENT_VERSION}&a=yes")
    assert consent.texts[-1] == vi(texts.ASK_CARD)
    linked = await phone.say(card)  # ingest turns it into its keyed hash before Kafka
    assert linked.texts[0] == vi(texts.CARD_LINKED)
    assert vi(texts.REGISTRATION_DONE, help=vi.word(Action.HELP)) in linked.texts

    reminder = await phone.wait_for_notice(derived_id("reminder", "residence-expiry-90"))
    assert reminder.language == "vi" and reminder.endpoint == "push"

    row = await subscriber(line_stack, phone)
    assert row is not None
    assert (row["language"], row["declared_nationality"], row["declared_residence_status"]) == (
        "vi",
        "VN",
        "specified_skilled_worker_1",
    )
    assert row["declared_establishment_id"] == code["establishment_id"] and row["worker_id"] is not None
    # Consent scope: audiences use the declared city (Ota), the record's (Maebashi) only for reminders.
    assert (row["municipality_code"], row["record_municipality_code"]) == ("102059", "102016")
    assert card not in str(row), "the card number is never stored"
    consents = await line_stack.query(
        "SELECT consent_version, language FROM consent_log WHERE line_user_id = $1", phone.user_id
    )
    assert consents == [{"consent_version": CONSENT_VERSION, "language": "vi"}]
    used = await line_stack.query(
        "SELECT registrations FROM registration_codes WHERE code = $1", code["symbols"]
    )
    assert used == [{"registrations": 1}]
    # Every reply went out exactly once.
    assert await line_stack.sandbox_client.duplicates() == []


async def test_wrong_codes_in_nepali_get_a_helpful_reply_and_another_try(line_stack: LineStack) -> None:
    ne = voice("ne")
    code = await line_stack.issue_code(name="Isesaki Parts", municipality_code="10204")
    phone = await line_stack.phone(language="ne")
    assert (await phone.follow()).language == "ne"
    await phone.tap("cmd=set_language&lang=ne")
    not_found = await phone.say(unknown_code())
    assert not_found.texts[0] == ne(texts.CODE_NOT_FOUND)
    assert ne(texts.BUTTON_SKIP) in not_found.quick_replies, "the worker can skip instead"
    typo = await phone.say(typo_of(code["code"]))
    assert typo.texts[0] == ne(texts.CODE_MALFORMED, example=CONFIG.example_code)
    accepted = await phone.say(code["code"].lower().replace("-", " "))
    assert accepted.texts[0] == ne(texts.CODE_ACCEPTED, city="Isesaki")
    row = await subscriber(line_stack, phone)
    assert row is not None and row["declared_municipality_code"] == "102041"


async def test_wrong_answers_in_portuguese_and_typing_yes_is_not_consent(line_stack: LineStack) -> None:
    pt = voice("pt-BR")
    phone = await line_stack.phone(language="pt-BR")
    await phone.follow()
    chosen = await phone.say("Português")  # the language typed by name
    assert chosen.texts[0] == pt(texts.LANGUAGE_SET, language=languages.get("pt-BR").native_name)
    await phone.tap("cmd=skip&step=employer_code")
    mars = await phone.say("Marte")
    assert mars.texts[0] == pt(texts.NATIONALITY_NOT_FOUND)
    brazil = await phone.say("Brasil")
    assert pt(texts.ASK_RESIDENCE_STATUS) in brazil.text
    unclear = await phone.say("não sei")
    assert unclear.texts[0] == pt(texts.USE_BUTTONS)
    await phone.tap("cmd=set_status&s=long_term_resident")
    typed_yes = await phone.say("sim")
    assert typed_yes.texts[0] == pt(texts.USE_BUTTONS)
    card = await phone.say(card_number())
    assert pt(texts.CARD_NEEDS_CONSENT) in card.texts, "a card without consent is dropped"
    row = await subscriber(line_stack, phone)
    assert row is not None and row["worker_id"] is None and row["declared_nationality"] == "BR"
    assert await line_stack.query("SELECT 1 FROM consent_log WHERE line_user_id = $1", phone.user_id) == []


async def test_a_code_sent_by_the_qr_link_before_choosing_a_language(line_stack: LineStack) -> None:
    ja = voice("ja")
    code = await line_stack.issue_code(name="太田食品", municipality_code="10205")
    phone = await line_stack.phone(language="ja")
    await phone.follow()
    accepted = await phone.say(code["message"])
    assert accepted.texts[0] == ja(texts.CODE_ACCEPTED, city="太田市"), "readers of Japanese see the kanji"
    assert accepted.texts[-1] == ja(texts.CHOOSE_LANGUAGE), "the language question stays open"


async def test_commands_at_any_time_in_several_languages_and_delete_my_data(line_stack: LineStack) -> None:
    es, fr = voice("es"), voice("fr")
    code = await line_stack.issue_code(name="Kiryu Textiles", municipality_code="10203")
    phone = await line_stack.phone(language="es")
    await phone.follow()
    await phone.tap("cmd=set_language&lang=es")
    await phone.say(code["code"])
    picker = await phone.say("idioma")
    assert picker.texts[0] == es(texts.CHOOSE_LANGUAGE)
    french = await phone.tap("cmd=set_language&lang=fr")
    assert french.texts[0] == fr(texts.LANGUAGE_SET, language="Français")
    topics = await phone.say("temas")  # a Spanish word works after switching to French
    assert topics.texts[0].startswith(fr(texts.TOPICS))
    await phone.tap("cmd=topic&c=tax&on=0")
    saved = await phone.tap("cmd=topics_done")
    assert saved.texts[0] == fr(texts.SAVED)
    helped = await phone.say("帮助")  # "help" in Chinese
    assert helped.language == "fr" and len(helped.texts) >= 1
    row = await subscriber(line_stack, phone)
    assert row is not None and row["opted_out_categories"] == ["tax"] and row["language"] == "fr"

    stopped = await phone.say("หยุด")  # "stop" in Thai
    assert stopped.texts[0] == fr(texts.STOPPED, start=fr.word(Action.START))
    assert (await subscriber(line_stack, phone) or {})["stopped_at"] is not None
    assert await audience_count(line_stack, code["establishment_id"]) == 0, "stopped: in no audience"
    started = await phone.say("再開")  # "start" in Japanese
    assert started.texts[0] == fr(texts.STARTED)
    assert (await subscriber(line_stack, phone) or {})["stopped_at"] is None
    assert await audience_count(line_stack, code["establishment_id"]) == 1

    erased_before = await line_stack.query("SELECT COALESCE(sum(erasures), 0) AS n FROM subscriber_erasures")
    confirm = await phone.say("xóa")  # "delete" in Vietnamese
    assert confirm.texts[0] == fr(texts.DELETE_CONFIRM)
    assert await subscriber(line_stack, phone) is not None, "nothing is deleted before the confirmation"
    goodbye = await phone.tap("cmd=delete_confirm")
    assert goodbye.texts == [fr(texts.DELETED)]
    assert await subscriber(line_stack, phone) is None
    assert await line_stack.query("SELECT 1 FROM consent_log WHERE line_user_id = $1", phone.user_id) == []
    erased_after = await line_stack.query("SELECT COALESCE(sum(erasures), 0) AS n FROM subscriber_erasures")
    assert erased_after[0]["n"] == erased_before[0]["n"] + 1, "an anonymous count is kept"
    assert await audience_count(line_stack, code["establishment_id"]) == 0


async def test_unfollow_stops_everything_and_a_refollow_resumes_with_the_old_preferences(
    line_stack: LineStack,
) -> None:
    ko = voice("ko")
    code = await line_stack.issue_code(name="Tatebayashi Foods", municipality_code="10207")
    phone = await line_stack.phone(language="ko")
    await phone.follow()
    await phone.tap("cmd=set_language&lang=ko")
    await phone.say(code["code"])
    await phone.tap("cmd=topic&c=garbage&on=0")
    assert await audience_count(line_stack, code["establishment_id"]) == 1
    received = len(await phone.inbox())
    await phone.unfollow()

    async def unfollowed() -> bool:
        row = await subscriber(line_stack, phone)
        return row is not None and not row["followed"]

    await wait_until(unfollowed)
    assert await audience_count(line_stack, code["establishment_id"]) == 0, "an unfollow stops all sending"
    await asyncio.sleep(1)
    assert len(await phone.inbox()) == received, "no reply to an unfollow"

    back = await phone.follow()  # LINE sets follow.isUnblocked
    assert phone.events[-1]["follow"]["isUnblocked"] is True
    assert back.language == "ko" and back.texts[0] == ko(texts.WELCOME_BACK)
    row = await subscriber(line_stack, phone)
    assert row is not None and row["followed"] and row["language"] == "ko"
    assert (
        row["opted_out_categories"] == ["garbage"]
        and row["declared_establishment_id"] == code["establishment_id"]
    )
    assert await audience_count(line_stack, code["establishment_id"]) == 1


async def test_a_redelivered_webhook_changes_nothing_and_sends_nothing_twice(line_stack: LineStack) -> None:
    phone = await line_stack.phone(language="en")
    await phone.follow()
    await phone.tap("cmd=set_language&lang=en")
    stop = await phone.say("stop")
    assert stop.texts[0] == voice("en")(texts.STOPPED, start="start")
    before = await subscriber(line_stack, phone)
    received = await phone.inbox()
    for event in phone.events:  # every event of the conversation, as LINE redelivers them
        again = await line_stack.sandbox_client.redeliver(event["webhookEventId"])
        assert again["delivery"]["status"] == 200 and again["event"]["deliveryContext"]["isRedelivery"]
    marker = await phone.say("help")  # behind the redeliveries on the same partition
    assert marker.texts
    await asyncio.sleep(1)
    after = await subscriber(line_stack, phone)
    assert before is not None and after is not None
    assert after["stopped_at"] == before["stopped_at"] and after["dialogue"] == before["dialogue"]
    inbox = await phone.inbox()
    assert inbox[: len(received)] == received and len(inbox) == len(received) + 1, "only the marker's reply"
    assert await line_stack.sandbox_client.duplicates() == []


async def wait_until(predicate: Any, timeout: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail("condition not met in time")
        await asyncio.sleep(0.1)


@pytest.mark.slow
async def test_a_router_killed_between_its_commit_and_the_publish_still_answers_exactly_once(
    line_stack: LineStack,
) -> None:
    en = voice("en")
    phone = await line_stack.phone(language="en")
    await phone.follow()
    await phone.tap("cmd=set_language&lang=en")
    router = line_stack.router
    normal = dict(router.env)
    await asyncio.to_thread(router.stop)
    router.env = {**normal, "GUNMA_ROUTER_TEST_SIGKILL_AFTER_COMMIT": "1"}
    await asyncio.to_thread(router.start)
    try:
        sent = await line_stack.sandbox_client.message(phone.user_id, "stop")
        assert sent["delivery"]["status"] == 200
        assert router.process is not None
        code = await asyncio.to_thread(router.process.wait, 60)
        assert code == -9, "the router died right after committing the turn"
        row = await subscriber(line_stack, phone)
        assert row is not None and row["stopped_at"] is not None, "the turn was committed"
        notice = str(derived_id("conversation", phone.user_id, sent["event"]["webhookEventId"]))
        assert all(entry["notice_id"] != notice for entry in await phone.inbox()), "and not answered yet"
    finally:
        router.env = normal
        await asyncio.to_thread(router.start)
    # The restarted router's relay finds the reply in the outbox; the redelivered LINE event is skipped.
    reply = await phone.reply_to(sent["event"]["webhookEventId"], timeout=60)
    assert reply.texts[0] == en(texts.STOPPED, start="start")
    marker = await phone.say("help")
    assert marker.texts
    answers = [entry for entry in await phone.inbox() if entry["notice_id"] == notice]
    assert len(answers) == 1 and await line_stack.sandbox_client.duplicates() == []
    after = await subscriber(line_stack, phone)
    assert after is not None and after["stopped_at"] == row["stopped_at"]
