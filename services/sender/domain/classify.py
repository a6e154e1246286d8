"""What an answer from the LINE Messaging API means for the batch that was sent.

- 2xx: accepted.
- 409 with ``x-line-accepted-request-id``: LINE had already accepted this retry key, so the batch was
  delivered by an earlier attempt (maybe by a process that crashed before it could record it): success.
  A 409 without that header means a request with the key is still being processed: retry.
- 429: either the rate limit (back off, retry) or the monthly message quota ("You have reached your monthly
  limit."), which no retry can fix before the quota is raised or the month turns: stop sending.
- 5xx, timeouts and connection failures: retry within a bounded time. They may have been accepted (the
  answer was lost), which is why the retry key matters.
- 400 "Invalid reply token" on a reply: the token expired or was used; see :mod:`.decisions`.
- any other 4xx: the request itself is wrong and will never succeed: a permanent failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

MONTHLY_LIMIT_MESSAGE = "You have reached your monthly limit."
RATE_LIMIT_MESSAGE = "The API rate limit has been exceeded. Try again later."
INVALID_REPLY_TOKEN_MESSAGE = "Invalid reply token"  # noqa: S105 - a message, not a secret
REQUEST_ID_HEADER = "x-line-request-id"
ACCEPTED_REQUEST_ID_HEADER = "x-line-accepted-request-id"


class Verdict(StrEnum):
    ACCEPTED = "accepted"
    ALREADY_ACCEPTED = "already_accepted"
    RETRY = "retry"
    RATE_LIMITED = "rate_limited"
    QUOTA_EXHAUSTED = "quota_exhausted"
    INVALID_REPLY_TOKEN = "invalid_reply_token"  # noqa: S105 - a verdict, not a secret
    PERMANENT = "permanent"


@dataclass(frozen=True, slots=True)
class Answer:
    """One HTTP answer, or ``status=None`` when none came (timeout, connection failure)."""

    status: int | None
    headers: Mapping[str, str]
    body: str = ""
    #: why no answer came (only with status None)
    transport_error: str | None = None

    def header(self, name: str) -> str | None:
        value = self.headers.get(name)
        if value is None:  # plain dicts in tests; aiohttp's headers are case-insensitive already
            lowered = name.lower()
            for key, found in self.headers.items():
                if key.lower() == lowered:
                    return found
        return value

    @property
    def request_id(self) -> str | None:
        return self.header(REQUEST_ID_HEADER)

    @property
    def accepted_request_id(self) -> str | None:
        return self.header(ACCEPTED_REQUEST_ID_HEADER)


def error_body(body: str) -> dict[str, Any]:
    """LINE's ErrorResponse ({"message", "details"}) or an empty dict when the body is something else."""
    if not body:
        return {}
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def error_text(answer: Answer, *, limit: int = 1000) -> str:
    """A one-line reason for logs, DeliveryResult.error and the DLQ: status, message and details."""
    if answer.status is None:
        return f"no answer from LINE: {answer.transport_error or 'unknown transport error'}"[:limit]
    parsed = error_body(answer.body)
    message = str(parsed.get("message") or answer.body[:200] or "no body")
    details = parsed.get("details") or []
    text = f"HTTP {answer.status}: {message}"
    parts = [f"{d.get('property', '?')}: {d.get('message', '?')}" for d in details[:5] if isinstance(d, dict)]
    if parts:
        text += " (" + "; ".join(parts) + ")"
    return text[:limit]


def is_monthly_limit(answer: Answer) -> bool:
    if answer.status != 429:
        return False
    message = str(error_body(answer.body).get("message", ""))
    return "monthly limit" in message.lower()


def classify(answer: Answer) -> Verdict:
    status = answer.status
    if status is None:
        return Verdict.RETRY
    if 200 <= status < 300:
        return Verdict.ACCEPTED
    if status == 409:
        return Verdict.ALREADY_ACCEPTED if answer.accepted_request_id else Verdict.RETRY
    if status == 429:
        return Verdict.QUOTA_EXHAUSTED if is_monthly_limit(answer) else Verdict.RATE_LIMITED
    if status >= 500:
        return Verdict.RETRY
    if status == 408:  # a timeout reported by a proxy in between
        return Verdict.RETRY
    if (
        status == 400
        and INVALID_REPLY_TOKEN_MESSAGE.lower() in str(error_body(answer.body).get("message", "")).lower()
    ):
        return Verdict.INVALID_REPLY_TOKEN
    return Verdict.PERMANENT


def may_have_been_accepted(answer: Answer) -> bool:
    """True when LINE may have accepted the request although we saw no success (lost answer, 5xx)."""
    return answer.status is None or answer.status >= 500 or answer.status == 408
