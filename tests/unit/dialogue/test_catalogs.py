"""The message catalogs: complete, consistent with the template and the source, and fit for LINE."""

from __future__ import annotations

import io
import re
import string
import unicodedata
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from services.common import languages
from services.router.dialogue import catalogs, consent, texts
from services.router.dialogue.catalogs import Catalogs
from services.router.dialogue.config import LOCALES_DIR, DialogueConfig
from services.router.dialogue.line_messages import label_length

ALL_LANGUAGES = tuple(lang.code for lang in languages.DEFAULT_LANGUAGES)
POT = LOCALES_DIR / "onboarding.pot"


def _read(path: Path) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle)


def placeholders(text: str) -> set[str]:
    """Named placeholders; positional or malformed ones are reported as such."""
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as error:
        return {f"<malformed: {error}>"}
    return {name if name and name.isidentifier() else f"<positional {name!r}>" for name in fields}


def catalog_problems(template: Catalog, catalog: Catalog) -> list[str]:
    """Everything wrong with one translation catalog, measured against the template."""
    problems: list[str] = []
    wanted = {(m.context, m.id): m for m in template if m.id}
    found = {(m.context, m.id): m for m in catalog if m.id}
    for key in wanted.keys() - found.keys():
        problems.append(f"missing {key}")
    for key in found.keys() - wanted.keys():
        problems.append(f"not in the template (obsolete?) {key}")
    for key, message in found.items():
        if key not in wanted:
            continue
        assert isinstance(message.id, str)
        if message.fuzzy:
            problems.append(f"fuzzy {key}")
        if not isinstance(message.string, str) or not message.string.strip():
            problems.append(f"untranslated {key}")
            continue
        if placeholders(message.string) != placeholders(message.id):
            problems.append(
                f"placeholders {sorted(placeholders(message.string))} != {sorted(placeholders(message.id))} "
                f"in {key}"
            )
        if message.string != message.string.strip():
            problems.append(f"leading or trailing space in {key}")
    return problems


@pytest.fixture(scope="module")
def template() -> Catalog:
    return _read(POT)


def test_the_template_is_what_the_source_defines(template: Catalog) -> None:
    """Fails when texts.py changed and `pybabel extract` was not run (see locales/README.md)."""
    in_template = {(m.context, m.id) for m in template if m.id}
    in_source = {text.key for text in texts.ALL}
    assert in_source - in_template == set(), "run pybabel extract: new texts are not in the template"
    assert in_template - in_source == set(), "run pybabel extract: the template has texts the source lost"
    assert len(texts.ALL) == len(in_source), "a text is defined twice"


def test_every_default_language_has_a_catalog() -> None:
    for code in ALL_LANGUAGES:
        assert catalogs.po_path(LOCALES_DIR, code).is_file(), code
    directories = {p.name for p in LOCALES_DIR.iterdir() if p.is_dir()}
    assert directories == {catalogs.catalog_dir_name(code) for code in ALL_LANGUAGES}


@pytest.mark.parametrize("code", ALL_LANGUAGES)
def test_catalog_is_complete_and_placeholders_match(code: str, template: Catalog) -> None:
    catalog = _read(catalogs.po_path(LOCALES_DIR, code))
    assert catalog_problems(template, catalog) == []


@pytest.mark.parametrize("code", ALL_LANGUAGES)
def test_catalog_header_names_its_language(code: str) -> None:
    text = catalogs.po_path(LOCALES_DIR, code).read_text(encoding="utf-8")
    assert f'"Language: {catalogs.catalog_dir_name(code)}\\n"' in text
    assert "charset=utf-8" in text


def _write(catalog: Catalog) -> Catalog:
    buffer = io.BytesIO()
    write_po(buffer, catalog)
    buffer.seek(0)
    return read_po(buffer)


def test_the_checker_finds_every_kind_of_problem(template: Catalog) -> None:
    """The catalog test is only worth something if it can fail: feed it a broken catalog."""
    broken = Catalog(locale="vi")
    messages = [m for m in template if m.id]
    skipped = messages[0]
    for message in messages[1:]:
        broken.add(message.id, message.id, context=message.context)
    with_placeholder = next(m for m in messages if m.id == texts.LANGUAGE_SET.msgid)
    broken[with_placeholder.id].string = "Ngôn ngữ: {lang}"
    empty = next(m for m in messages if m.id == texts.SAVED.msgid)
    broken[empty.id].string = ""
    fuzzy = next(m for m in messages if m.id == texts.STARTED.msgid)
    broken[fuzzy.id].flags.add("fuzzy")
    positional = next(m for m in messages if m.id == texts.STOPPED.msgid)
    broken[positional.id].string = "Đã dừng. Gửi “{}”."
    broken.add("Not in the template", "x")
    problems = "\n".join(catalog_problems(template, _write(broken)))
    assert f"missing {(skipped.context, skipped.id)}" in problems
    assert "placeholders ['lang'] != ['language']" in problems
    assert f"untranslated {(None, texts.SAVED.msgid)}" in problems
    assert f"fuzzy {(None, texts.STARTED.msgid)}" in problems
    assert "<positional ''>" in problems
    assert "not in the template" in problems


@pytest.fixture(scope="module")
def books() -> Catalogs:
    return catalogs.load(LOCALES_DIR, ALL_LANGUAGES, "en")


@pytest.mark.parametrize("code", ALL_LANGUAGES)
def test_labels_fit_on_a_line_quick_reply(code: str, books: Catalogs) -> None:
    """LINE cuts quick-reply labels at 20 characters; topics get a 2-character ✅ mark, More/Back an arrow."""
    for text in texts.ALL:
        if text.context not in texts.LABEL_CONTEXTS:
            continue
        label = books.text(code, text)
        limit = 18 if text.context == texts.TOPIC or text in (texts.BUTTON_MORE, texts.BUTTON_BACK) else 20
        assert label_length(label) <= limit, (code, text.msgid, label)


@pytest.mark.parametrize("code", ALL_LANGUAGES)
def test_texts_name_the_buttons_as_they_are_labelled(code: str, books: Catalogs) -> None:
    """ "Tap “Skip”" must name the Skip button in the same words."""
    skip = books.text(code, texts.BUTTON_SKIP)
    later = books.text(code, texts.BUTTON_LATER)
    for text in (texts.ASK_EMPLOYER_CODE, texts.NATIONALITY_NOT_FOUND):
        assert skip in books.text(code, text, example="GM-0000-0000"), (code, text.msgid)
    assert later in books.text(code, texts.CARD_INVALID), code


@pytest.mark.parametrize("code", ALL_LANGUAGES)
def test_each_language_has_its_own_command_words(code: str, books: Catalogs) -> None:
    for text in (t for t in texts.ALL if t.context == texts.KEYWORDS):
        words = books.keywords(code, text)
        assert words, (code, text.msgid)
        assert all(len(word) <= 40 for word in words)
    if code != "en":
        own = {books.keywords(code, t)[0] for t in texts.ALL if t.context == texts.KEYWORDS}
        english = {t.msgid.split("|")[0] for t in texts.ALL if t.context == texts.KEYWORDS}
        assert own != english, f"{code} shows English command words in its help"


@pytest.mark.parametrize("code", ["ja", "ja-x-easy", "zh-Hans", "zh-Hant", "ko", "th", "my", "km"])
def test_scripts_that_need_no_latin_do_not_fall_back_to_english(code: str, books: Catalogs) -> None:
    """A copied English msgid in a non-Latin catalog is a missed translation."""
    for text in texts.ALL:
        if text.context == texts.KEYWORDS:
            continue
        value = books.text(code, text, **dict.fromkeys(placeholders(text.msgid), "X"))
        letters = [c for c in value if c.isalpha()]
        latin = [c for c in letters if unicodedata.name(c, "").startswith("LATIN")]
        # Fixed Latin parts: LINE, the example code and card number, and the placeholder values.
        assert len(latin) <= max(2, len(letters) // 3), (code, text.msgid, value)


def test_easy_japanese_is_written_in_kana_with_spaces_between_phrases(books: Catalogs) -> None:
    """やさしいにほんご: short phrases separated by spaces (分かち書き), almost no kanji."""
    kanji = re.compile(r"[\u4e00-\u9fff]")
    for text in texts.ALL:
        if text.context in (texts.KEYWORDS, texts.ORGANIZATION):
            continue
        value = books.text("ja-x-easy", text, **dict.fromkeys(placeholders(text.msgid), ""))
        assert not kanji.search(value), (text.msgid, value)
        if text.context is None and len(value) > 24:
            assert " " in value, (text.msgid, value)


def test_regular_japanese_is_not_the_easy_japanese(books: Catalogs) -> None:
    def say(code: str, text: texts.Text) -> str:
        return books.text(code, text, **dict.fromkeys(placeholders(text.msgid), "X"))

    same = [t.msgid for t in texts.ALL if t.context is None and say("ja", t) == say("ja-x-easy", t)]
    assert same == []


def test_consent_text_version_is_pinned_to_the_texts(books: Catalogs) -> None:
    """Changing the consent text in any language needs a new CONSENT_VERSION (and this digest)."""
    translations = {code: books.text(code, texts.CONSENT, delete="{delete}") for code in ALL_LANGUAGES}
    digest = consent.text_digest(translations)
    assert digest == consent.CONSENT_DIGEST, (
        f"the consent text changed: set a new CONSENT_VERSION and CONSENT_DIGEST = {digest!r}"
    )


def test_every_configured_language_loads() -> None:
    config = DialogueConfig()
    loaded = catalogs.load(config.locales_dir, config.languages, config.default_language)
    assert set(loaded.translations) == set(config.languages)
    assert all(len(entries) == len(texts.ALL) for entries in loaded.translations.values())


def test_a_language_without_catalog_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="vi"):
        catalogs.load(tmp_path, ("en", "vi"), "en")


def test_missing_or_broken_translations_fall_back(tmp_path: Path) -> None:
    def po(code: str, entries: dict[str, str]) -> None:
        catalog = Catalog(locale=catalogs.catalog_dir_name(code))
        for msgid, msgstr in entries.items():
            catalog.add(msgid, msgstr)
        path = catalogs.po_path(tmp_path, code)
        path.parent.mkdir(parents=True)
        with path.open("wb") as handle:
            write_po(handle, catalog)

    po("en", {texts.SAVED.msgid: "Saved.", texts.LANGUAGE_SET.msgid: "Language: {language}."})
    po("ja", {texts.SAVED.msgid: "保存しました。"})
    po("ja-x-easy", {texts.LANGUAGE_SET.msgid: "ことば：{lang}"})  # wrong placeholder
    books = catalogs.load(tmp_path, ("en", "ja", "ja-x-easy"), "en")
    assert books.text("ja-x-easy", texts.SAVED) == "保存しました。"  # easy → Japanese before English
    assert books.text("ja-x-easy", texts.LANGUAGE_SET, language="X") == "Language: X."
    assert books.text("ja", texts.STARTED) == texts.STARTED.msgid
