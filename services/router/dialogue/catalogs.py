"""The message catalogs: gettext .po files read with Babel, once per process.

The .po files are read directly (babel.messages.pofile), not compiled to .mo: 25 small files parse in
a fraction of a second at start-up, there is no build step to forget, and no generated file is
committed. Fuzzy or empty entries count as missing. A missing entry falls back along
language → Japanese (for Easy Japanese) → the default language → English → the msgid; the catalog
test keeps that from ever happening in a release.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po

from . import texts

DOMAIN = "onboarding"
Key = tuple[str | None, str]


def catalog_dir_name(language: str) -> str:
    """The locale directory of a language code: ``pt-BR`` → ``pt_BR``, ``ja-x-easy`` → ``ja@easy``.

    Easy Japanese uses the gettext modifier form (like ``sr@latin``), which Babel parses.
    """
    return language.replace("-x-", "@").replace("-", "_")


def po_path(directory: Path, language: str) -> Path:
    return directory / catalog_dir_name(language) / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_translations(path: Path) -> dict[Key, str]:
    """The usable entries of one .po file: not the header, not fuzzy, not empty."""
    with path.open("rb") as handle:
        catalog = read_po(handle)
    out: dict[Key, str] = {}
    for message in catalog:
        if not message.id or message.fuzzy or not isinstance(message.id, str):
            continue
        if isinstance(message.string, str) and message.string.strip():
            out[(message.context, message.id)] = message.string
    return out


@dataclass(frozen=True, slots=True)
class Catalogs:
    translations: Mapping[str, Mapping[Key, str]]
    default_language: str

    def chain(self, language: str) -> tuple[str, ...]:
        order = [language]
        if language.startswith("ja-"):
            order.append("ja")
        order += [self.default_language, "en"]
        return tuple(dict.fromkeys(order))

    def text(self, language: str, text: texts.Text, /, **values: str) -> str:
        """The text in ``language``, placeholders filled; a broken translation falls back."""
        for candidate in self.chain(language):
            template = self.translations.get(candidate, {}).get(text.key)
            if template is None:
                continue
            try:
                return template.format(**values)
            except (KeyError, IndexError, ValueError):
                continue
        return text.msgid.format(**values)

    def keywords(self, language: str, text: texts.Text) -> tuple[str, ...]:
        """The command words of ``language`` for ``text`` (a ``keywords`` entry), first one first."""
        return tuple(word.strip() for word in self.text(language, text).split("|") if word.strip())

    def all_keywords(self, text: texts.Text) -> Iterable[str]:
        """The command words for ``text`` in every loaded language and in the (English) msgid."""
        yield from text.msgid.split("|")
        for translations in self.translations.values():
            yield from translations.get(text.key, "").split("|")


@cache
def load(directory: Path, languages: tuple[str, ...], default_language: str) -> Catalogs:
    """Read the catalogs of ``languages``; a language without a catalog file is an error."""
    missing = [code for code in languages if not po_path(directory, code).is_file()]
    if missing:
        raise FileNotFoundError(f"no {DOMAIN}.po catalog for {missing} under {directory}")
    return Catalogs(
        translations={code: read_translations(po_path(directory, code)) for code in languages},
        default_language=default_language,
    )
