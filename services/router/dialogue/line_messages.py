"""LINE message objects for replies: text with quick-reply postback buttons, within LINE's limits."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

#: A LINE message object, ready for the Messaging API (``{"type": "text", "text": ..., "quickReply": ...}``).
Message = dict[str, Any]

MAX_MESSAGES = 5  # per reply or push request
MAX_QUICK_REPLIES = 13
MAX_LABEL = 20
MAX_TEXT = 5000


def label_length(label: str) -> int:
    """Characters as LINE may count them: code points or UTF-16 units, whichever is more."""
    return max(len(label), len(label.encode("utf-16-le")) // 2)


def fit_label(label: str) -> str:
    """Labels come from tested catalogs or CLDR; cut a too-long one rather than have LINE refuse it."""
    if label_length(label) <= MAX_LABEL:
        return label
    cut = label
    while label_length(cut + "…") > MAX_LABEL:
        cut = cut[:-1]
    return cut.rstrip() + "…"


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    data: str
    #: shown in the chat as the worker's message when tapped (None: nothing is shown)
    display_text: str | None = None

    def to_item(self) -> dict[str, object]:
        action: dict[str, object] = {"type": "postback", "label": fit_label(self.label), "data": self.data}
        if self.display_text:
            action["displayText"] = self.display_text[:300]
        return {"type": "action", "action": action}


def text(body: str, buttons: Sequence[Button] = ()) -> Message:
    message: Message = {"type": "text", "text": body[:MAX_TEXT]}
    if buttons:
        if len(buttons) > MAX_QUICK_REPLIES:
            raise ValueError(f"{len(buttons)} quick replies; LINE shows at most {MAX_QUICK_REPLIES}")
        message["quickReply"] = {"items": [button.to_item() for button in buttons]}
    return message


def compact(messages: Sequence[Message]) -> tuple[Message, ...]:
    """At most five messages: earlier texts are joined into the first one if there are more.

    LINE shows only the last message's quick replies, so buttons on earlier messages are dropped.
    """
    out = [dict(m) for m in messages]
    for message in out[:-1]:
        message.pop("quickReply", None)
    while len(out) > MAX_MESSAGES:
        first, second = out[0], out[1]
        out[0:2] = [{**second, "text": f"{first['text']}\n\n{second['text']}"[:MAX_TEXT]}]
    return tuple(out)


def paginate(
    choices: Sequence[Button],
    page: int,
    *,
    fixed: Sequence[Button] = (),
    more: Callable[[int], Button],
    back: Button,
) -> list[Button]:
    """One page of ``choices`` as quick replies, with ``fixed`` buttons (e.g. Skip) on every page.

    Pages hold as many choices as fit; all but the last end with ``more(next_page)``, and the last
    gets ``back`` (to the first page) when there is room. 25 languages: 12 + More, then 13.
    """
    capacity = MAX_QUICK_REPLIES - len(fixed)
    pages: list[list[Button]] = []
    rest = list(choices)
    while len(rest) > capacity:
        pages.append(rest[: capacity - 1])
        rest = rest[capacity - 1 :]
    pages.append(rest)
    index = min(max(page, 0), len(pages) - 1)
    items = list(pages[index])
    if index < len(pages) - 1:
        items.append(more(index + 1))
    elif len(pages) > 1 and len(items) < capacity:
        items.append(back)
    return items + list(fixed)
