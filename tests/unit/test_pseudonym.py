import pytest

from services.common.pseudonym import looks_like_card_number, normalize_card_number, worker_id

PEPPER = b"test-pepper"


def test_the_same_number_in_any_spelling_gives_the_same_id() -> None:
    ids = {
        worker_id(v, PEPPER)
        for v in ("AB12345678CD", "ab 1234 5678 cd", "ＡＢ１２３４５６７８ＣＤ", "AB-12345678-CD")
    }
    assert len(ids) == 1
    assert len(ids.pop()) == 64


def test_another_pepper_gives_another_id() -> None:
    assert worker_id("AB12345678CD", PEPPER) != worker_id("AB12345678CD", b"other")


@pytest.mark.parametrize("bad", ["AB1234567CD", "1212345678CD", "", "AB12345678C1"])
def test_malformed_numbers_are_refused_without_echo(bad: str) -> None:
    with pytest.raises(ValueError, match="2 letters, 8 digits") as info:
        worker_id(bad, PEPPER)
    if bad:
        assert bad not in str(info.value)


def test_detection() -> None:
    assert looks_like_card_number(" ab12345678cd ")
    assert not looks_like_card_number("hello")
    assert normalize_card_number("ａｂ　１２") == "AB12"
