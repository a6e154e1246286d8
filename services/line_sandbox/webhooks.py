"""Simulated workers' phones: webhook events as LINE sends them, signed with the channel secret.

Events are written in LINE's JSON form and checked with line-bot-sdk's webhook models (and with LINE's
webhook.yml when configured) before they leave, so ingest receives what LINE would send:
``{"destination": <bot user id>, "events": [...]}`` with ``X-Line-Signature`` =
base64(HMAC-SHA256(channel secret, raw body)). Each event has a ULID ``webhookEventId``; a redelivery
sends the same event again with ``deliveryContext.isRedelivery = true``.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import os
import secrets
import time
from collections import OrderedDict
from typing import Any

import httpx
import orjson
from linebot.v3.webhooks import CallbackRequest
from pydantic.v1 import ValidationError as SdkValidationError

from .platform import Platform
from .settings import LineSandboxSettings
from .spec import OpenApiDocument

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
USER_AGENT = "LineBotWebhook/2.0"


class WebhookError(ValueError):
    """The event could not be built (a bad argument): the admin API answers 400."""


def ulid(now_ms: int | None = None) -> str:
    """A ULID: 48-bit millisecond time and 80 random bits in Crockford base32 (26 characters)."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    value = (ms << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def sign(secret: str, body: bytes) -> str:
    """X-Line-Signature: base64 of HMAC-SHA256 of the raw body under the channel secret."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def new_user_id() -> str:
    return "U" + secrets.token_hex(16)


class WebhookSimulator:
    def __init__(
        self,
        platform: Platform,
        settings: LineSandboxSettings,
        *,
        document: OpenApiDocument | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.platform = platform
        self.settings = settings
        self.document = document
        self.http = http
        self.url = settings.webhook_url
        self.sent: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def _base(self, kind: str, user_id: str) -> dict[str, Any]:
        now_ms = int(time.time() * 1000)
        return {
            "type": kind,
            "mode": "active",
            "timestamp": now_ms,
            "source": {"type": "user", "userId": user_id},
            "webhookEventId": ulid(now_ms),
            "deliveryContext": {"isRedelivery": False},
        }

    def _check(self, payload: dict[str, Any]) -> None:
        try:
            CallbackRequest.from_dict(payload)
        except (SdkValidationError, ValueError, KeyError, TypeError) as error:
            raise WebhookError(f"the event does not match line-bot-sdk's webhook models: {error}") from None
        if self.document is not None:
            problems = self.document.check("CallbackRequest", payload)
            if problems:
                raise WebhookError(
                    "the event does not match webhook.yml: "
                    + "; ".join(f"{p.property}: {p.message}" for p in problems)
                )

    async def follow(
        self, user_id: str | None = None, *, language: str = "en", display_name: str | None = None
    ) -> dict[str, Any]:
        user_id = user_id or new_user_id()
        _, unblocked = self.platform.follow(user_id, language=language, display_name=display_name)
        event = self._base("follow", user_id)
        event["replyToken"] = self.platform.issue_reply_token(user_id)
        event["follow"] = {"isUnblocked": unblocked}
        return await self._emit(event, user_id)

    async def unfollow(self, user_id: str) -> dict[str, Any]:
        self.platform.unfollow(user_id)
        return await self._emit(self._base("unfollow", user_id), user_id)

    async def message(self, user_id: str, text: str) -> dict[str, Any]:
        if not text or len(text) > 5000:
            raise WebhookError("text must have 1 to 5000 characters")
        event = self._base("message", user_id)
        event["replyToken"] = self.platform.issue_reply_token(user_id)
        event["message"] = {
            "type": "text",
            "id": str(secrets.randbits(62)),
            "text": text,
            "quoteToken": secrets.token_urlsafe(24),
        }
        return await self._emit(event, user_id)

    async def postback(self, user_id: str, data: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        if not data or len(data) > 300:
            raise WebhookError("postback data must have 1 to 300 characters")
        event = self._base("postback", user_id)
        event["replyToken"] = self.platform.issue_reply_token(user_id)
        event["postback"] = {"data": data, **({"params": params} if params else {})}
        return await self._emit(event, user_id)

    async def redeliver(self, webhook_event_id: str) -> dict[str, Any]:
        found = self.sent.get(webhook_event_id)
        if found is None:
            raise KeyError(webhook_event_id)
        event = copy.deepcopy(found["event"])
        event["deliveryContext"] = {"isRedelivery": True}
        return await self._emit(event, found["user_id"], redelivery=True)

    async def _emit(self, event: dict[str, Any], user_id: str, *, redelivery: bool = False) -> dict[str, Any]:
        payload = {"destination": self.settings.bot_user_id, "events": [event]}
        self._check(payload)
        delivery = await self._post(payload)
        record = self.sent.get(event["webhookEventId"])
        if record is None:
            record = {"event": event, "user_id": user_id, "deliveries": []}
            self.sent[event["webhookEventId"]] = record
            while len(self.sent) > 10_000:
                self.sent.popitem(last=False)
        record["deliveries"].append({**delivery, "redelivery": redelivery})
        return {"event": event, "delivery": delivery}

    async def _post(self, payload: dict[str, Any]) -> dict[str, Any]:
        if not self.url or self.http is None:
            return {"status": None, "error": "no webhook URL configured (GUNMA_SANDBOX_WEBHOOK_URL)"}
        body = orjson.dumps(payload)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-Line-Signature": sign(self.settings.channel_secret.get_secret_value(), body),
            "User-Agent": USER_AGENT,
        }
        started = time.perf_counter()
        try:
            response = await self.http.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as error:
            return {
                "status": None,
                "error": f"{type(error).__name__}: {error}"[:300],
                "elapsed_ms": round((time.perf_counter() - started) * 1000, 1),
            }
        return {
            "status": response.status_code,
            "response": response.text[:500],
            "elapsed_ms": round((time.perf_counter() - started) * 1000, 1),
        }

    def events(self, *, user_id: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        found = [r for r in reversed(self.sent.values()) if user_id is None or r["user_id"] == user_id]
        return found[:limit]
