"""Turning validation errors into "field: reason" lines that name what was wrong, never the value."""

from __future__ import annotations

from typing import TypedDict

from pydantic import ValidationError


class FieldError(TypedDict):
    field: str
    reason: str


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.startswith(("function-", "tagged-union[")):
            continue  # pydantic's internal validator names, not fields the sender wrote
        else:
            out += ("." if out else "") + part
    return out or "(body)"


def field_errors(error: ValidationError, *, skip_discriminator: bool = True) -> list[FieldError]:
    """Each problem as {field, reason}; the input value is left out (it may be personal data)."""
    problems: list[FieldError] = []
    for item in error.errors(include_input=False, include_url=False):
        loc = tuple(item["loc"])
        if skip_discriminator and len(loc) >= 1 and isinstance(loc[0], str) and "." in loc[0]:
            # A tagged union reports the variant it tried ('worker.hired') as the first path element.
            loc = loc[1:]
        problems.append({"field": _path(loc), "reason": item["msg"]})
    return problems


def summary(error: ValidationError, *, limit: int = 5) -> str:
    problems = field_errors(error)
    text = "; ".join(f"{p['field']}: {p['reason']}" for p in problems[:limit])
    if len(problems) > limit:
        text += f"; and {len(problems) - limit} more"
    return text
