"""Text folding, employer codes, postback data, paging, message compaction, state and delivery."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.common.contracts import (
    DeliveryReady,
    MessageReceived,
    PostbackReceived,
    Purpose,
    SendMode,
    derived_id,
)
from services.router.dialogue import (
    DialogueConfig,
    Outcome,
    Step,
    SubscriberState,
    conversation_delivery,
    postback_data,
)
from services.router.dialogue import employer_code as codes
from services.router.dialogue.line_messages import Button, compact, fit_label, paginate, text
from services.router.dialogue.normalize import fold
from services.router.dialogue.postbacks import Action, decode

from .chat import T0, USER, Chat

symbols = st.text(alphabet=codes.ALPHABET, min_size=7, max_size=7)


@pytest.mark.parametrize(
    ("typed", "folded"),
    [
        ("ｓｔｏｐ！", "stop"),
        ("  Stop.  ", "stop"),
        ("Ngôn ngữ", "ngonngu"),
        ("Đổi", "doi"),
        ("Oʻzbekcha", "ozbekcha"),
        ("Вʼєтнам", "вєтнам"),
        ("й", "й"),  # Cyrillic letters keep their marks
        ("भाषा", "भाषा"),  # so do Indic vowel signs
        ("ශ්\u200dරී ලංකාව", "ශ්රීලංකාව"),  # zero-width joiners do not matter
        ("ﾍﾙﾌﾟ", "ヘルプ"),  # half-width katakana
    ],
)
def test_fold(typed: str, folded: str) -> None:
    assert fold(typed) == folded


@given(symbols)
def test_every_generated_code_is_valid_and_one_wrong_symbol_is_caught(payload: str) -> None:
    code = payload + codes.check_symbol(payload)
    assert codes.is_valid(code)
    for position in range(codes.LENGTH):
        for symbol in codes.ALPHABET:
            if symbol != code[position]:
                assert not codes.is_valid(code[:position] + symbol + code[position + 1 :])


@given(symbols)
def test_swapped_neighbours_are_caught(payload: str) -> None:
    """Luhn mod 32 misses exactly one swap of neighbours: 0 and Z (like 09/90 in decimal Luhn)."""
    code = payload + codes.check_symbol(payload)
    for i in range(codes.LENGTH - 1):
        a, b = code[i], code[i + 1]
        if a == b:
            continue
        swapped = code[:i] + b + a + code[i + 2 :]
        values = {codes.ALPHABET.index(a), codes.ALPHABET.index(b)}
        if values == {0, 31}:
            continue
        assert not codes.is_valid(swapped), (code, swapped)


def test_generate_uses_the_given_randomness() -> None:
    rng = random.Random(7)
    first = [codes.generate(rng.randrange) for _ in range(50)]
    assert all(codes.is_valid(c) and len(c) == 8 for c in first)
    assert len(set(first)) == 50
    rng = random.Random(7)
    assert [codes.generate(rng.randrange) for _ in range(50)] == first
    assert codes.display(first[0], "GM") == f"GM-{first[0][:4]}-{first[0][4:]}"


def test_find_codes_in_text() -> None:
    code = "4F7HT2K" + codes.check_symbol("4F7HT2K")
    assert codes.find(f"code: gm-{code.lower()}", "GM", bare=False) == codes.CodeCandidate(code, True, True)
    assert codes.find(code, "GM", bare=False) is None  # a bare code only counts where one is expected
    assert codes.find(f" {code[:4]} - {code[4:]} ", "GM", bare=True) == codes.CodeCandidate(code, True, False)
    assert codes.find("PASSWORD", "GM", bare=True) is None  # a plain word, no digit, invalid
    assert codes.find("AB12CD34", "GM", bare=True) is not None  # looks like a code: checked, maybe malformed
    assert codes.find("sigma1234abcd", "GM", bare=False) is None  # GM inside a word is no prefix
    assert codes.find(f"GM{code}X", "GM", bare=False) is None  # nine symbols are not a code
    assert codes.find(f"XY-{code}", "XY", bare=False) == codes.CodeCandidate(code, True, True)


def test_postback_data_round_trip_and_limits() -> None:
    data = postback_data(Action.TOPIC, c="tax", on="0")
    assert data == "cmd=topic&c=tax&on=0"
    intent = decode(data)
    assert intent is not None and intent.action is Action.TOPIC and intent.get("c") == "tax"
    assert decode("cmd=nope") is None and decode("x=1") is None and decode("") is None
    assert decode("cmd=language&page=999999").page() == 0  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="300"):
        postback_data(Action.HELP, x="y" * 300)


def test_paging_fits_any_number_of_choices() -> None:
    def page(n: int, index: int, fixed: int) -> list[Button]:
        choices = [Button(str(i), f"c{i}") for i in range(n)]
        extra = [Button("skip", "s")] * fixed
        return paginate(
            choices, index, fixed=extra, more=lambda k: Button("more", f"p{k}"), back=Button("back", "p0")
        )

    for n in range(1, 60):
        for fixed in (0, 1):
            seen: list[str] = []
            index = 0
            while True:
                items = page(n, index, fixed)
                assert 1 <= len(items) <= 13
                seen += [b.data for b in items if b.data.startswith("c")]
                nxt = [b.data for b in items if b.label == "more"]
                if not nxt:
                    break
                index = int(nxt[0][1:])
            assert seen == [f"c{i}" for i in range(n)], (n, fixed)


def test_long_labels_are_cut_and_many_messages_joined() -> None:
    assert fit_label("x" * 30) == "x" * 19 + "…"
    assert fit_label("Residente Permanente") == "Residente Permanente"
    many = [text(f"m{i}", [Button("b", "d")]) for i in range(8)]
    joined = compact(many)
    assert len(joined) == 5
    assert joined[0]["text"] == "m0\n\nm1\n\nm2\n\nm3"
    assert "quickReply" in joined[-1] and all("quickReply" not in m for m in joined[:-1])


def test_state_round_trips_through_json() -> None:
    chat = Chat()
    chat.onboard("vi")
    chat.tap("cmd=topic&c=tax&on=0")
    state = chat.state
    assert state is not None
    data = json.loads(json.dumps(state.to_dict()))
    assert data["version"] == 1 and data["categories_opted_out"] == ["tax"]
    assert SubscriberState.from_dict(data) == state
    with pytest.raises(ValueError, match="version"):
        SubscriberState.from_dict({**data, "version": 99})


def test_config_is_validated() -> None:
    with pytest.raises(ValueError, match="default_language"):
        DialogueConfig(languages=("vi",), default_language="en")
    with pytest.raises(ValueError, match="unsupported"):
        DialogueConfig(languages=("en", "xx"))
    with pytest.raises(ValueError, match="ISO"):
        DialogueConfig(nationalities=("VN", "XX"))
    with pytest.raises(ValueError, match="prefix"):
        DialogueConfig(employer_code_prefix="g-m")


class TestDelivery:
    def _turn(self) -> tuple[MessageReceived, Outcome]:
        chat = Chat()
        chat.follow()
        event = chat.event(MessageReceived, message_type="text", text="help")
        assert isinstance(event, MessageReceived)
        return event, chat.send(event)

    def test_a_fresh_reply_token_is_used(self) -> None:
        event, outcome = self._turn()
        config = DialogueConfig()
        delivery = conversation_delivery(
            event, outcome, now=event.line_timestamp + timedelta(seconds=3), config=config
        )
        assert isinstance(delivery, DeliveryReady)
        assert delivery.mode is SendMode.REPLY and delivery.reply_token == event.reply_token
        assert delivery.reply_token_expires_at == event.line_timestamp + config.reply_token_lifetime
        assert delivery.purpose is Purpose.CONVERSATION and delivery.translation_source == "catalog"
        assert delivery.recipients == (USER,) and delivery.notice_recipients == 1
        assert delivery.notice_id == derived_id("conversation", USER, event.webhook_event_id)
        assert (
            delivery.batch_id == f"{delivery.notice_id}:en:0" and delivery.key == f"{delivery.notice_id}:en"
        )
        assert delivery.messages == outcome.replies
        # Redelivered: the same ids, so the sender's retry key makes it harmless.
        again = conversation_delivery(
            event, outcome, now=event.line_timestamp + timedelta(seconds=3), config=config
        )
        assert again == delivery

    def test_a_stale_token_means_push(self) -> None:
        event, outcome = self._turn()
        late = event.line_timestamp + timedelta(minutes=5)
        delivery = conversation_delivery(event, outcome, now=late, config=DialogueConfig())
        assert delivery is not None and delivery.mode is SendMode.PUSH and delivery.reply_token is None

    def test_later_parts_get_their_own_ids_and_push(self) -> None:
        event, outcome = self._turn()
        now = event.line_timestamp + timedelta(seconds=1)
        first = conversation_delivery(event, outcome, now=now, config=DialogueConfig())
        later = conversation_delivery(event, outcome, now=now, config=DialogueConfig(), part="result")
        assert first is not None and later is not None
        assert later.notice_id != first.notice_id and later.mode is SendMode.PUSH

    def test_nothing_to_say_means_no_delivery(self) -> None:
        event, outcome = self._turn()
        silent = Outcome(outcome.state, "en")
        assert conversation_delivery(event, silent, now=T0, config=DialogueConfig()) is None

    def test_the_language_of_an_erased_subscriber_is_kept_for_the_goodbye(self) -> None:
        chat = Chat()
        chat.onboard("km")
        chat.say("លុប")
        event = chat.event(
            PostbackReceived,
            data="cmd=delete_confirm",
        )
        outcome = chat.send(event)
        delivery = conversation_delivery(event, outcome, now=chat.clock, config=DialogueConfig())
        assert outcome.state is None and delivery is not None and delivery.language == "km"


def test_onboarding_step_order() -> None:
    assert [s.value for s in Step] == [
        "language",
        "employer_code",
        "nationality",
        "residence_status",
        "consent",
        "card",
        "done",
    ]


def test_prepare_fails_fast_on_a_missing_catalog(tmp_path: Path) -> None:
    from services.router.dialogue import prepare

    prepare(DialogueConfig())
    with pytest.raises(FileNotFoundError, match=r"no onboarding\.po catalog"):
        prepare(DialogueConfig(locales_dir=tmp_path))
