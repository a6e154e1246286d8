"""Choices the sender makes about a batch before and while sending it. Pure functions, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from services.common.contracts import DeliveryReady, SendMode


class Endpoint(StrEnum):
    MULTICAST = "multicast"
    PUSH = "push"
    REPLY = "reply"

    @property
    def mode(self) -> SendMode:
        return SendMode(self.value)

    @property
    def takes_retry_key(self) -> bool:
        return self is not Endpoint.REPLY


def reply_token_fresh(ready: DeliveryReady, now: datetime, *, margin: timedelta) -> bool:
    """A reply token is used only while it is surely still valid (LINE: single use, about a minute)."""
    if not ready.reply_token or ready.reply_token_expires_at is None:
        return False
    return ready.reply_token_expires_at - margin > now


def choose_endpoint(ready: DeliveryReady, now: datetime, *, reply_margin: timedelta) -> Endpoint:
    """Reply while the token is fresh (free of charge, and it answers the message), else push for one
    recipient, multicast for a batch.

    A push or reply goes to exactly one user; a batch asking for push with several recipients is sent as
    a multicast (the same messages to each), which is what the planner meant.
    """
    single = len(ready.recipients) == 1
    if ready.mode is SendMode.REPLY and single and reply_token_fresh(ready, now, margin=reply_margin):
        return Endpoint.REPLY
    if ready.mode in (SendMode.PUSH, SendMode.REPLY) and single:
        return Endpoint.PUSH
    return Endpoint.MULTICAST


def resend_is_safe(in_doubt_since: datetime | None, now: datetime, *, trust: timedelta) -> bool:
    """May a batch whose earlier attempt might have been accepted be sent again?

    LINE remembers a retry key for 24 hours from acceptance; acceptance cannot be earlier than our first
    attempt that might have reached LINE (``in_doubt_since``). Within ``trust`` (23 h by default, an hour
    of margin for clocks and slow answers) LINE will recognise the key and answer 409, so a resend is safe.
    Later, a resend could deliver the batch a second time: the sender does not resend and reports the
    batch as failed ("outcome unknown") for a person to decide.
    """
    if in_doubt_since is None:
        return True
    return now - in_doubt_since < trust


@dataclass(frozen=True, slots=True)
class QuotaStatus:
    """GET /v2/bot/message/quota and /quota/consumption."""

    limited: bool
    limit: int | None
    used: int

    @property
    def remaining(self) -> int | None:
        if not self.limited or self.limit is None:
            return None
        return max(0, self.limit - self.used)


@dataclass(frozen=True, slots=True)
class Admission:
    admitted: bool
    reason: str


def admit_notice(needed: int, quota: QuotaStatus, *, refuse: bool) -> Admission:
    """Start a large notice only if this month's quota can carry all of it.

    LINE counts one message per recipient of a multicast or push (however many message objects it has);
    replies are free. A notice that would run out half-way leaves half the workers informed and the rest
    waiting for next month: refusing it up front lets staff decide (raise the quota, narrow the audience).
    With ``refuse`` off the sender only warns and starts anyway.
    """
    remaining = quota.remaining
    if remaining is None:
        return Admission(True, "no monthly limit")
    if needed <= remaining:
        return Admission(True, f"{needed} messages needed, {remaining} left this month")
    reason = f"quota: the notice needs {needed} messages, {remaining} left this month (limit {quota.limit})"
    return Admission(not refuse, reason)
