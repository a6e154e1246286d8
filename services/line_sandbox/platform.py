"""The LINE platform as the sandbox plays it: one channel's send endpoints, users, reply tokens, quota.

A send request goes through what LINE does, in this order:

1. the rate limit of its endpoint class (429 "The API rate limit has been exceeded. Try again later.");
2. the retry key: only on push and multicast here (a key on reply is refused), and it must be a UUID;
3. validation (line-bot-sdk models, the OpenAPI document, documented limits): 400 with details;
4. injected faults (429, 500 or no answer, each before or after delivery), added latency;
5. the monthly quota (429 "You have reached your monthly limit."), multicast and push only;
6. a retry key accepted in the last 24 hours: 409 with ``x-line-accepted-request-id``;
7. a reply token must be known, unused and unexpired: else 400 "Invalid reply token";
8. accepted: recorded in the inbox (and the journal), the retry key remembered, the quota counted.

Steps 6 to 8 run without an ``await`` in between, so two concurrent requests with one key can never both
be accepted.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import time
import uuid
from collections import Counter, OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from .faults import Fault, Faults, RateLimit
from .inbox import Inbox, pack
from .journal import Journal
from .settings import LineSandboxSettings
from .spec import Violation
from .validation import RequestValidator, SendEndpoint

log = logging.getLogger(__name__)

RATE_LIMIT_MESSAGE = "The API rate limit has been exceeded. Try again later."
MONTHLY_LIMIT_MESSAGE = "You have reached your monthly limit."
INVALID_REPLY_TOKEN = "Invalid reply token"  # noqa: S105 - a message, not a secret
RETRY_KEY_ACCEPTED = "The retry key is already accepted"


@dataclass(frozen=True, slots=True)
class ApiResult:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def error(
    status: int,
    message: str,
    details: list[Violation] | None = None,
    *,
    headers: dict[str, str] | None = None,
) -> ApiResult:
    body: dict[str, Any] = {"message": message}
    if details:
        body["details"] = [d.as_detail() for d in details]
    return ApiResult(status, body, dict(headers or {}))


@dataclass
class User:
    user_id: str
    display_name: str
    language: str
    following: bool = True
    follows: int = 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "display_name": self.display_name,
            "language": self.language,
            "following": self.following,
            "follows": self.follows,
        }


@dataclass
class _ReplyToken:
    user_id: str
    expires_at: float
    used: bool = False


class Platform:
    def __init__(
        self,
        settings: LineSandboxSettings,
        validator: RequestValidator,
        *,
        journal: Journal | None = None,
        clock: Any = time.time,
    ) -> None:
        self.settings = settings
        self.validator = validator
        self.journal = journal
        self._clock = clock
        self._rng = random.Random(settings.fault_seed)  # noqa: S311 - simulation, not security
        self.reset(journal_too=False)

    # --- state --------------------------------------------------------------------------------------

    def reset(self, *, journal_too: bool = True) -> None:
        s = self.settings
        self.faults = Faults(
            error_rate=s.fault_error_rate,
            rate_limit_rate=s.fault_rate_limit_rate,
            timeout_rate=s.fault_timeout_rate,
            after_accept_share=s.fault_after_accept_share,
            timeout_seconds=s.fault_timeout_seconds,
            latency_ms=s.fault_latency_ms,
            latency_jitter_ms=s.fault_latency_jitter_ms,
            monthly_limit=s.fault_monthly_limit,
        )
        self.rate_limits_enabled = s.rate_limits_enabled
        window = s.rate_window_seconds
        self._limits = {
            SendEndpoint.MULTICAST: RateLimit(s.rate_multicast_per_second, window),
            SendEndpoint.PUSH: RateLimit(s.rate_push_per_second, window),
            SendEndpoint.REPLY: RateLimit(s.rate_reply_per_second, window),
        }
        self._other_limit = RateLimit(s.rate_other_per_second, window)
        self.quota_limit: int | None = s.quota_limit
        self.quota_used = s.quota_used
        self.inbox = Inbox()
        self._retry_keys: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self.users: dict[str, User] = {}
        self._blocked: set[str] = set()
        self._reply_tokens: OrderedDict[str, _ReplyToken] = OrderedDict()
        self.stats: Counter[str] = Counter()
        self.request_log: deque[dict[str, Any]] = deque(maxlen=s.request_log_size)
        self.blocked_skipped = 0
        if journal_too and self.journal is not None:
            self.journal.truncate()

    def restore(self) -> int:
        """Replay the journal (at start-up); returns the number of entries applied."""
        if self.journal is None:
            return 0
        applied = 0
        for header, payload in self.journal.replay():
            kind = header.get("k")
            if kind == "reset":
                self.reset(journal_too=False)
            elif kind == "d":
                messages = self.inbox.intern_messages(header["m"])
                self.inbox.record(
                    request_id=header["r"],
                    endpoint=header["e"],
                    recipients=payload,
                    messages=messages,
                    batch_id=header.get("b"),
                    retry_key=header.get("rk"),
                    accepted_at=header["t"],
                )
                if header.get("rk"):
                    self._retry_keys[header["rk"]] = (header["r"], header["t"])
                if header["e"] != SendEndpoint.REPLY:
                    self.quota_used += len(payload) // 16
            elif kind == "u":
                user = User(**{k: v for k, v in header.items() if k != "k"})
                self.users[user.user_id] = user
                if user.following:
                    self._blocked.discard(user.user_id)
                else:
                    self._blocked.add(user.user_id)
            elif kind == "q":
                self.quota_limit, self.quota_used = header["limit"], header["used"]
            applied += 1
        return applied

    def _journal(self, header: dict[str, Any], payload: bytes = b"") -> None:
        if self.journal is not None:
            self.journal.append(header, payload)

    def set_quota(self, *, limit: int | None, used: int | None = None) -> None:
        self.quota_limit = limit
        if used is not None:
            self.quota_used = used
        self._journal({"k": "q", "limit": self.quota_limit, "used": self.quota_used})

    # --- users and reply tokens (the simulated phones) ----------------------------------------------

    def follow(
        self, user_id: str, *, language: str = "en", display_name: str | None = None
    ) -> tuple[User, bool]:
        """A user adds (or unblocks) the account; returns the user and whether it was an unblock."""
        user = self.users.get(user_id)
        unblocked = user is not None and not user.following
        if user is None:
            user = User(user_id, display_name or f"Worker {user_id[-4:]}", language)
            self.users[user_id] = user
        else:
            user.following = True
            user.follows += 1
            if display_name:
                user.display_name = display_name
        self._blocked.discard(user_id)
        self._journal({"k": "u", **user.as_dict()})
        return user, unblocked

    def unfollow(self, user_id: str) -> User:
        user = self.users.get(user_id) or User(user_id, f"Worker {user_id[-4:]}", "en", following=False)
        user.following = False
        self.users[user_id] = user
        self._blocked.add(user_id)
        self._journal({"k": "u", **user.as_dict()})
        return user

    def issue_reply_token(self, user_id: str) -> str:
        token = secrets.token_hex(16)
        now = self._clock()
        self._reply_tokens[token] = _ReplyToken(user_id, now + self.settings.reply_token_ttl_seconds)
        while self._reply_tokens:
            oldest = next(iter(self._reply_tokens.values()))
            if oldest.expires_at + 3600 > now:
                break
            self._reply_tokens.popitem(last=False)
        return token

    # --- the Messaging API --------------------------------------------------------------------------

    def _new_request_id(self) -> str:
        return str(uuid.uuid4())

    def limit_other(self) -> ApiResult | None:
        if self.rate_limits_enabled and not self._other_limit.try_take():
            return error(429, RATE_LIMIT_MESSAGE)
        return None

    def profile(self, user_id: str) -> ApiResult:
        limited = self.limit_other()
        if limited:
            return limited
        user = self.users.get(user_id)
        if user is None or not user.following:
            return error(404, "Not found")
        return ApiResult(
            200, {"userId": user.user_id, "displayName": user.display_name, "language": user.language}
        )

    def quota(self) -> ApiResult:
        limited = self.limit_other()
        if limited:
            return limited
        if self.faults.monthly_limit:  # the injected exhaustion shows in the quota too, as it would
            return ApiResult(200, {"type": "limited", "value": self._exhausted_at()})
        if self.quota_limit is None:
            return ApiResult(200, {"type": "none"})
        return ApiResult(200, {"type": "limited", "value": self.quota_limit})

    def _exhausted_at(self) -> int:
        return max(self.quota_used, self.quota_limit or 0)

    def consumption(self) -> ApiResult:
        limited = self.limit_other()
        if limited:
            return limited
        used = self._exhausted_at() if self.faults.monthly_limit else self.quota_used
        return ApiResult(200, {"totalUsage": used})

    def _remembered(self, retry_key: str, now: float) -> str | None:
        ttl = self.settings.retry_key_ttl_seconds
        while self._retry_keys:
            _, (_, accepted_at) = next(iter(self._retry_keys.items()))
            if accepted_at + ttl > now:
                break
            self._retry_keys.popitem(last=False)
        found = self._retry_keys.get(retry_key)
        if found is None or found[1] + ttl <= now:
            return None
        return found[0]

    async def send(
        self,
        endpoint: SendEndpoint,
        body: Any,
        *,
        retry_key: str | None,
        batch_id: str | None,
    ) -> ApiResult:
        result = await self._send(endpoint, body, retry_key=retry_key, batch_id=batch_id)
        self.stats[f"{endpoint.value}:{result.status}"] += 1
        if self.request_log.maxlen:
            self.request_log.append(
                {
                    "at": self._clock(),
                    "endpoint": endpoint.value,
                    "status": result.status,
                    "request_id": result.headers.get("x-line-request-id"),
                    "retry_key": retry_key,
                    "batch_id": batch_id,
                    "message": result.body.get("message") if result.status >= 300 else None,
                }
            )
        return result

    async def _send(
        self, endpoint: SendEndpoint, body: Any, *, retry_key: str | None, batch_id: str | None
    ) -> ApiResult:
        request_id = self._new_request_id()
        rid = {"x-line-request-id": request_id}
        if self.rate_limits_enabled and not self._limits[endpoint].try_take():
            return error(429, RATE_LIMIT_MESSAGE, headers=rid)
        if retry_key is not None:
            if not endpoint.takes_retry_key:
                return error(400, "The retry key cannot be used with this API endpoint", headers=rid)
            try:
                uuid.UUID(retry_key)
            except ValueError:
                return error(
                    400,
                    "The value of the X-Line-Retry-Key header is invalid",
                    [Violation("X-Line-Retry-Key", "must be a UUID in hexadecimal format")],
                    headers=rid,
                )
        problems = self.validator.validate(endpoint, body)
        if problems:
            return error(400, f"The request body has {len(problems)} error(s)", problems, headers=rid)

        fault = self.faults.draw(self._rng)
        delay = self.faults.latency(self._rng)
        if delay:
            await asyncio.sleep(delay)
        if fault is Fault.RATE_LIMIT:
            self.stats["injected:429"] += 1
            return error(429, RATE_LIMIT_MESSAGE, headers=rid)
        if fault is Fault.ERROR_BEFORE:
            self.stats["injected:500"] += 1
            return error(500, "Internal server error", headers=rid)
        if fault is Fault.TIMEOUT_BEFORE:
            self.stats["injected:timeout"] += 1
            await asyncio.sleep(self.faults.timeout_seconds)
            return error(500, "Internal server error (the sandbox held this request on purpose)", headers=rid)

        recipients: list[str] = [body["to"]] if endpoint is SendEndpoint.PUSH else list(body.get("to") or [])
        counted = endpoint is not SendEndpoint.REPLY
        if counted and (
            self.faults.monthly_limit
            or (self.quota_limit is not None and self.quota_used + len(recipients) > self.quota_limit)
        ):
            return error(429, MONTHLY_LIMIT_MESSAGE, headers=rid)

        now = self._clock()
        if retry_key is not None:
            accepted = self._remembered(retry_key, now)
            if accepted is not None:
                headers = {**rid, "x-line-accepted-request-id": accepted}
                return error(409, RETRY_KEY_ACCEPTED, headers=headers)
        if endpoint is SendEndpoint.REPLY:
            token = self._reply_tokens.get(str(body.get("replyToken")))
            if token is None or token.used or token.expires_at <= now:
                return error(400, INVALID_REPLY_TOKEN, headers=rid)
            token.used = True
            recipients = [token.user_id]

        self._accept(endpoint, recipients, body["messages"], request_id, retry_key, batch_id, now)

        if fault is Fault.ERROR_AFTER:
            self.stats["injected:500_after_accept"] += 1
            return error(500, "Internal server error", headers=rid)
        if fault is Fault.TIMEOUT_AFTER:
            self.stats["injected:timeout_after_accept"] += 1
            await asyncio.sleep(self.faults.timeout_seconds)
        if endpoint is SendEndpoint.MULTICAST:
            return ApiResult(200, {}, rid)
        sent = [
            {"id": str(self._rng.getrandbits(60)), "quoteToken": secrets.token_hex(8)}
            for _ in body["messages"]
        ]
        return ApiResult(200, {"sentMessages": sent}, rid)

    def _accept(
        self,
        endpoint: SendEndpoint,
        recipients: list[str],
        messages: list[Any],
        request_id: str,
        retry_key: str | None,
        batch_id: str | None,
        now: float,
    ) -> None:
        if self._blocked:
            # LINE accepts sends to users who blocked the account and silently does not deliver them.
            kept = [r for r in recipients if r not in self._blocked]
            self.blocked_skipped += len(recipients) - len(kept)
        else:
            kept = recipients
        packed = pack(kept)
        index = self.inbox.intern_messages(messages)
        self.inbox.record(
            request_id=request_id,
            endpoint=endpoint.value,
            recipients=packed,
            messages=index,
            batch_id=batch_id,
            retry_key=retry_key,
            accepted_at=now,
        )
        if retry_key is not None:
            self._retry_keys[retry_key] = (request_id, now)
        if endpoint is not SendEndpoint.REPLY:
            self.quota_used += len(recipients)
        self._journal(
            {
                "k": "d",
                "r": request_id,
                "e": endpoint.value,
                "b": batch_id,
                "rk": retry_key,
                "t": now,
                "m": messages,
            },
            packed,
        )
