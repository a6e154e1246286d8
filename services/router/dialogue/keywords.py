"""Commands typed as words, in any offered language, matched against the whole message only.

A worker writing "stop" or "ＳＴＯＰ!" or "dừng lại" means the command; "how do I stop the bus" is an
ordinary message. The words come from the catalogs (msgctxt ``keywords``), so each language's team
owns its own; every language's words work for everyone, whatever language they chose.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

from . import catalogs, texts
from .config import DialogueConfig
from .normalize import fold
from .postbacks import Action

KEYWORD_TEXTS: dict[Action, texts.Text] = {
    Action.LANGUAGE: texts.KEYWORDS_LANGUAGE,
    Action.TOPICS: texts.KEYWORDS_TOPICS,
    Action.REMINDERS: texts.KEYWORDS_REMINDERS,
    Action.STOP: texts.KEYWORDS_STOP,
    Action.START: texts.KEYWORDS_START,
    Action.DELETE: texts.KEYWORDS_DELETE,
    Action.HELP: texts.KEYWORDS_HELP,
}
#: Longer messages are never commands (saves folding long texts).
MAX_COMMAND_LENGTH = 40


@cache
def keyword_index(config: DialogueConfig) -> Mapping[str, Action]:
    """Folded word → command; a word claimed by two commands is a catalog error."""
    books = catalogs.load(config.locales_dir, config.languages, config.default_language)
    index: dict[str, Action] = {}
    for action, text in KEYWORD_TEXTS.items():
        for word in books.all_keywords(text):
            key = fold(word)
            if not key:
                continue
            if index.get(key, action) is not action:
                raise ValueError(f"keyword {word!r} means both {index[key]} and {action}")
            index[key] = action
    return index


def match(text: str, config: DialogueConfig) -> Action | None:
    if len(text) > MAX_COMMAND_LENGTH:
        return None
    return keyword_index(config).get(fold(text))
