"""Postback data: what quick-reply buttons and rich-menu areas send back.

Format: an URL query string with the action in ``cmd`` (at most 300 bytes, LINE's limit), e.g.
``cmd=language``, ``cmd=set_language&lang=vi``, ``cmd=topic&c=tax&on=0``. Rich menus use the
command actions (``cmd=language``, ``cmd=topics``, ``cmd=reminders``, ``cmd=stop``, ``cmd=start``,
``cmd=delete``, ``cmd=help``); the others are answers the dialogue itself puts on buttons.
Unknown actions or parameters are ignored, so old buttons never break a conversation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import parse_qsl, urlencode

MAX_DATA = 300


class Action(StrEnum):
    # commands: typed as keywords or sent by the rich menu
    LANGUAGE = "language"  # page=<n>
    TOPICS = "topics"
    REMINDERS = "reminders"
    STOP = "stop"
    START = "start"
    DELETE = "delete"
    HELP = "help"
    # answers on the dialogue's own buttons
    SET_LANGUAGE = "set_language"  # lang=<code>
    NATIONALITY = "nationality"  # page=<n>
    SET_NATIONALITY = "set_nationality"  # c=<ISO 3166-1 alpha-2>
    SET_STATUS = "set_status"  # s=<ResidenceStatus>
    SKIP = "skip"  # step=<Step>
    CONSENT = "consent"  # v=<consent version>&a=yes|no
    TOPIC = "topic"  # c=<NoticeCategory>&on=1|0
    TOPICS_DONE = "topics_done"
    DELETE_CONFIRM = "delete_confirm"
    DELETE_CANCEL = "delete_cancel"


COMMANDS: frozenset[Action] = frozenset(
    {Action.LANGUAGE, Action.TOPICS, Action.REMINDERS, Action.STOP, Action.START, Action.DELETE, Action.HELP}
)


@dataclass(frozen=True, slots=True)
class Intent:
    """What the worker asked for, by button, rich menu or typed keyword."""

    action: Action
    params: Mapping[str, str] = field(default_factory=dict)

    def get(self, name: str) -> str:
        return self.params.get(name, "")

    def page(self) -> int:
        value = self.get("page")
        return int(value) if value.isascii() and value.isdigit() and len(value) < 3 else 0


def encode(action: Action, **params: str) -> str:
    data = urlencode({"cmd": action.value, **params})
    if len(data.encode()) > MAX_DATA:
        raise ValueError(f"postback data for {action} is longer than {MAX_DATA} bytes")
    return data


def decode(data: str) -> Intent | None:
    """The intent of postback data, or None when it is not ours."""
    try:
        pairs = parse_qsl(data, keep_blank_values=True, max_num_fields=10)
    except ValueError:
        return None
    params = dict(pairs)
    try:
        action = Action(params.pop("cmd", ""))
    except ValueError:
        return None
    return Intent(action, params)
