"""Placeholders and glossary terms: protected from the engine, restored, verified."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.translate.domain.protect import (
    GlossaryTerm,
    TokensMangled,
    check,
    placeholders,
    protect,
    restore,
)

TERMS = [
    GlossaryTerm("residence card", "tarjeta de residencia"),
    GlossaryTerm("Immigration Services Agency", "Agencia de Servicios de Inmigración"),
    GlossaryTerm("Immigration Services Agency of Japan", "Agencia de Servicios de Inmigración de Japón"),
]


def test_placeholders_become_tokens_and_come_back() -> None:
    protected = protect("Your stay ends on {date} in {city}; apply before {date}.")
    assert "{" not in protected.text
    assert protected.text.count("XQZAA") == 2  # the same placeholder, the same token
    engine_output = protected.text.replace("Your stay ends on", "Su estancia termina el")
    assert (
        restore(engine_output, protected) == "Su estancia termina el {date} in {city}; apply before {date}."
    )


def test_glossary_terms_are_replaced_by_the_target_term_longest_first() -> None:
    protected = protect(
        "Ask the Immigration Services Agency of Japan about your Residence card.", TERMS, source_language="en"
    )
    assert "Immigration" not in protected.text and "card" not in protected.text
    restored = restore(protected.text, protected)
    assert "Agencia de Servicios de Inmigración de Japón" in restored
    # a capital at the start of a term stays a capital in the target
    assert "Tarjeta de residencia" in restored


def test_terms_match_whole_words_only_in_spaced_scripts() -> None:
    protected = protect("residence cards and a residence cardholder", TERMS[:1], source_language="en")
    assert protected.replacements == {}


def test_japanese_terms_match_inside_text() -> None:
    protected = protect(
        "在留カードを持って{city}へ", [GlossaryTerm("在留カード", "residence card")], source_language="ja"
    )
    assert restore(protected.text, protected) == "residence cardを持って{city}へ"


def test_a_dropped_placeholder_is_detected() -> None:
    protected = protect("Renew by {date}.")
    with pytest.raises(TokensMangled, match=r"\{date\}"):
        restore("Renueve pronto.", protected)


def test_a_duplicated_token_is_detected_and_lookalikes_are_left_alone() -> None:
    protected = protect("Renew by {date}.")
    with pytest.raises(TokensMangled):
        check(protected.text + " XQZAA", protected)
    # a token-shaped word that is none of ours (it was in the source, or an engine made it up) is text
    assert restore(protected.text + " XQZZZ", protected) == "Renew by {date}. XQZZZ"
    lookalike = protect("Code XQZAA, due {date}.")
    assert "XQZAA" not in lookalike.replacements  # not handed out again
    assert restore(lookalike.text, lookalike) == "Code XQZAA, due {date}."


def test_tokens_survive_case_and_spacing_changes() -> None:
    protected = protect("On {date}.")
    assert restore("El xqzaa.", protected) == "El {date}."
    assert restore("El XQZ AA.", protected) == "El {date}."


def test_placeholder_names() -> None:
    assert placeholders("{date} {city} {date} {not a placeholder} {1x}") == ["date", "city", "date"]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(alphabet=st.characters(codec="utf-8", exclude_characters="{}"), max_size=12),
            st.sampled_from(
                ["{date}", "{city}", "{employer}", "residence card", "Residence Card", "在留カード"]
            ),
        ),
        max_size=20,
    )
)
def test_protect_then_restore_gives_the_text_back_with_target_terms(pieces: list[str]) -> None:
    text = " ".join(pieces)
    terms = [GlossaryTerm("residence card", "residence card"), GlossaryTerm("在留カード", "在留カード")]
    protected = protect(text, terms, source_language="en")
    assert not placeholders(protected.text)
    restored = restore(protected.text, protected)
    assert restored.casefold() == text.casefold()
    assert placeholders(restored) == placeholders(text)
