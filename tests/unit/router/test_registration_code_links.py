"""Registration codes as employers print them: the code, the LINE deep link, the QR code."""

from __future__ import annotations

import random
from urllib.parse import unquote, urlsplit

import segno

from services.router import registration_codes as rc
from services.router.dialogue.config import EXAMPLE_CODE_BODY
from services.router.dialogue.employer_code import display, generate, is_valid


def test_the_deep_link_carries_the_code_as_the_message() -> None:
    link = rc.deep_link("@123abcde", "GM-7KQ2-9XPJ")
    assert link == "https://line.me/R/oaMessage/%40123abcde/?GM-7KQ2-9XPJ"
    parts = urlsplit(link)
    assert unquote(parts.path.split("/")[3]) == "@123abcde" and unquote(parts.query) == "GM-7KQ2-9XPJ"
    # Text with spaces and non-ASCII characters is percent-encoded as UTF-8.
    assert rc.deep_link("@a", "登録 GM-7KQ2-9XPJ").endswith("?%E7%99%BB%E9%8C%B2%20GM-7KQ2-9XPJ")


def test_the_qr_code_is_an_svg_of_the_link() -> None:
    link = rc.deep_link("@123abcde", "GM-7KQ2-9XPJ")
    svg = rc.qr_svg(link, title="GM-7KQ2-9XPJ")
    assert svg.startswith(b"<?xml") and b"<svg" in svg and b"<title>GM-7KQ2-9XPJ</title>" in svg
    # Small enough to scan from a printed A4 poster: version 4 (33x33 modules) with error correction M.
    assert segno.make(link, error="m", micro=False).designator == "4-M"


def test_codes_are_parsed_however_written_and_typos_are_refused() -> None:
    body = generate(random.Random(7).randrange)
    assert is_valid(body)
    for written in (display(body, "GM"), display(body, "GM").lower(), body, f"{body[:4]} {body[4:]}"):
        assert rc.parse(written, "GM") == body
    typo = body[:3] + ("1" if body[3] != "1" else "2") + body[4:]
    assert rc.parse(typo, "GM") is None
    assert rc.parse("hello", "GM") is None


def test_the_example_code_of_the_texts_is_valid_so_the_issuer_must_skip_it() -> None:
    assert is_valid(EXAMPLE_CODE_BODY)
