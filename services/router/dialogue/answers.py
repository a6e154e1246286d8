"""Typed answers to the dialogue's questions: language names, country names, statuses of residence.

Buttons are the main way to answer; typing works too, in any offered language. Names come from CLDR
through Babel (every offered locale's name for every language and country), so "ベトナム", "Việt Nam",
"Vietnam" and "越南" all mean VN. A name that means two things (e.g. "Chinese") is not used.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import cache

from babel import Locale

from services.common import codes, languages
from services.common.codes import ResidenceStatus

from . import catalogs, texts
from .config import DialogueConfig
from .normalize import fold

_PARENTHESIS = re.compile(r"^(.*?)\s*\((.*)\)\s*$")
#: Extra names for Easy Japanese, which CLDR does not know.
_EASY_JAPANESE_NAMES = ("やさしい日本語", "やさしいにほんご", "easy japanese", "simple japanese")


def _unambiguous(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    seen: dict[str, str] = {}
    clashes: set[str] = set()
    for name, value in pairs:
        key = fold(name)
        if not key:
            continue
        if seen.get(key, value) != value:
            clashes.add(key)
        seen[key] = value
    return {key: value for key, value in seen.items() if key not in clashes}


def _ui_locales(config: DialogueConfig) -> list[Locale]:
    wanted = dict.fromkeys(languages.get(code).babel_locale for code in config.languages)
    return [Locale.parse(name) for name in [*wanted, "en"]]


@cache
def _language_names(config: DialogueConfig) -> Mapping[str, str]:
    bases = [code.split("-")[0] for code in config.languages]
    pairs: list[tuple[str, str]] = []
    for code in config.languages:
        lang = languages.get(code)
        pairs += [(lang.native_name, code), (lang.english_name, code)]
        if code == languages.EASY_JAPANESE.code:
            pairs += [(name, code) for name in _EASY_JAPANESE_NAMES]
            continue
        keys = [code.replace("-", "_")]
        base = code.split("-")[0]
        if base != code and bases.count(base) == 1:
            keys.append(base)
        for locale in _ui_locales(config):
            pairs += [(locale.languages[key], code) for key in keys if key in locale.languages]
    return _unambiguous(pairs)


def language(text: str, config: DialogueConfig) -> str | None:
    """The offered language a typed name means (``Tiếng Việt``, ``vietnamese``, ``ベトナム語``)."""
    return _language_names(config).get(fold(text))


def _name_variants(name: str) -> list[str]:
    """``Myanmar (Burma)`` is also ``Myanmar`` and ``Burma``."""
    match = _PARENTHESIS.match(name)
    return [name, match[1], match[2]] if match else [name]


@cache
def _country_names(config: DialogueConfig) -> Mapping[str, str]:
    pairs: list[tuple[str, str]] = []
    iso = codes.country_codes()
    for locale in _ui_locales(config):
        for code, name in locale.territories.items():
            if code in iso:
                pairs += [(variant, code) for variant in _name_variants(str(name))]
    return _unambiguous(pairs)


def country(text: str, config: DialogueConfig) -> str | None:
    """The ISO 3166-1 alpha-2 code of a typed country name, in any offered language."""
    return _country_names(config).get(fold(text))


def country_label(code: str, language_code: str) -> str:
    """The country's name in the worker's language (CLDR), for a button."""
    locale = Locale.parse(languages.get(language_code).babel_locale)
    return str(locale.territories.get(code, code))


@cache
def _status_names(config: DialogueConfig) -> Mapping[str, str]:
    books = catalogs.load(config.locales_dir, config.languages, config.default_language)
    pairs: list[tuple[str, str]] = []
    for status in config.residence_statuses:
        text = texts.STATUS_TEXTS[status]
        pairs += [(text.msgid, status.value), (status.label_ja, status.value)]
        pairs += [(books.text(code, text), status.value) for code in config.languages]
    return _unambiguous(pairs)


def residence_status(text: str, config: DialogueConfig) -> ResidenceStatus | None:
    """A typed status: a button's label in any language, or the form's Japanese (特定技能１号)."""
    found = _status_names(config).get(fold(text))
    if found:
        return ResidenceStatus(found)
    try:
        return codes.parse_residence_status(text)
    except ValueError:
        return None
