"""LINE's limits: UTF-16 lengths, paragraph and sentence splitting, the 5-message cap."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from services.translate.domain.text import TEXT_LIMIT, paragraphs, sentences, split_text, utf16_len


def test_utf16_counts_astral_characters_twice() -> None:
    assert utf16_len("abc") == 3
    assert utf16_len("在留カード") == 5
    assert utf16_len("😀") == 2  # U+1F600 is a surrogate pair
    assert utf16_len("𠮷野家") == 4  # U+20BB7 outside the BMP


def test_short_text_is_one_message() -> None:
    assert split_text("Hello.\n\nWorld.").parts == ("Hello.\n\nWorld.",)


def test_paragraphs_are_kept_whole_when_they_fit() -> None:
    first = "A" * 3000
    second = "B" * 3000
    split = split_text(f"{first}\n\n{second}")
    assert split.parts == (first, second)
    assert not split.truncated


def test_a_long_paragraph_is_cut_between_sentences() -> None:
    sentence = "This is one sentence of a long notice. "
    paragraph = sentence * 300  # ~11,700 characters, one paragraph
    split = split_text(paragraph)
    assert len(split.parts) == 3
    for part in split.parts:
        assert utf16_len(part) <= TEXT_LIMIT
        assert part.endswith(".")  # cut after a sentence, not inside one
    assert "".join(p + " " for p in split.parts).split() == paragraph.split()


def test_japanese_sentences_end_at_the_full_stop() -> None:
    assert sentences("在留カードを持ってください。期限を確認してください。") == [
        "在留カードを持ってください。",
        "期限を確認してください。",
    ]
    text = "在留期間の更新を忘れないでください。" * 600  # 10,800 characters without spaces
    split = split_text(text)
    assert all(utf16_len(p) <= TEXT_LIMIT and p.endswith("。") for p in split.parts)
    assert "".join(split.parts) == text


def test_the_limit_counts_utf16_units_not_characters() -> None:
    # 3,000 emoji are 3,000 Python characters but 6,000 UTF-16 units: two messages.
    text = "😀" * 3000
    split = split_text(text)
    assert len(split.parts) == 2
    assert all(utf16_len(p) <= TEXT_LIMIT for p in split.parts)
    assert "".join(split.parts) == text
    assert not any(p[-1:] == "\ud83d" for p in split.parts)  # no surrogate half


def test_decimal_points_and_urls_do_not_end_sentences() -> None:
    assert sentences("Pay 3.5 percent at example.jp today. Thanks.") == [
        "Pay 3.5 percent at example.jp today. ",
        "Thanks.",
    ]


def test_more_than_five_messages_is_cut_with_a_note() -> None:
    text = "\n\n".join(f"Paragraph {i}. " + "x" * 4900 for i in range(8))
    split = split_text(text, truncation_note="(shortened)")
    assert split.truncated
    assert len(split.parts) == 5
    assert split.parts[-1].endswith("(shortened)")
    assert all(utf16_len(p) <= TEXT_LIMIT for p in split.parts)
    assert split.parts[0].startswith("Paragraph 0.")


def test_paragraph_helper_drops_blank_lines() -> None:
    assert paragraphs("a\n\n\n b\n \nc\n") == ["a", "b", "c"]


words = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")) | st.sampled_from(" .。\n😀"),
    min_size=0,
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(st.lists(words, min_size=1, max_size=60), st.integers(min_value=20, max_value=300))
def test_every_part_fits_and_nothing_is_lost(chunks: list[str], limit: int) -> None:
    text = "".join(chunks)
    if not text.strip():
        return
    split = split_text(text, limit=limit, max_parts=10_000)
    assert not split.truncated
    for part in split.parts:
        assert 0 < utf16_len(part) <= limit
    # nothing but whitespace is lost or added
    assert "".join("".join(split.parts).split()) == "".join(text.split())
