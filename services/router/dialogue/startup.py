"""Load everything the dialogue needs once, at start-up, so that a broken catalog stops the service."""

from __future__ import annotations

from . import answers, catalogs, keywords
from .config import DialogueConfig


def prepare(config: DialogueConfig) -> None:
    """Read the catalogs and build the word indexes (about half a second for 25 languages).

    Raises FileNotFoundError for a language without catalog and ValueError for a command word that
    means two commands; call it in the router's lifespan before consuming LINE events.
    """
    catalogs.load(config.locales_dir, config.languages, config.default_language)
    keywords.keyword_index(config)
    for lookup in (answers.language, answers.country, answers.residence_status):
        lookup("", config)
