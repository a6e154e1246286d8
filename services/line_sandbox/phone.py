"""A simulated worker's phone: sends what a worker does in LINE through the sandbox, and waits for the
account's answer in the phone's inbox.

    phone = Phone(SandboxClient(url, admin_token), new_user_id(), language="vi")
    greeting = await phone.follow()          # a signed follow webhook to ingest; the reply that came back
    await phone.tap("cmd=set_language&lang=vi")
    await phone.say("GM-7KQ2-9XPJ")

Waiting is exact: a turn's reply is the inbox entry whose notice id is
``derived_id("conversation", user, webhookEventId)`` (services/router/dialogue/delivery.py). Used by the
end-to-end tests and by the demo.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from services.common.contracts import derived_id

from .client import SandboxClient


@dataclass(frozen=True)
class Reply:
    """What one LINE event got back: the inbox entry (endpoint reply or push) and its texts."""

    entry: dict[str, Any]

    @property
    def texts(self) -> list[str]:
        return [str(m.get("text")) for m in self.entry["messages"]]

    @property
    def text(self) -> str:
        return "\n".join(self.texts)

    @property
    def quick_replies(self) -> list[str]:
        messages = self.entry["messages"]
        return list(messages[-1].get("quick_replies", [])) if messages else []

    @property
    def language(self) -> str:
        return str(self.entry["language"])

    @property
    def endpoint(self) -> str:
        return str(self.entry["endpoint"])


@dataclass
class Phone:
    """One simulated worker's phone in the sandbox."""

    sandbox: SandboxClient
    user_id: str
    language: str = "en"
    timeout: float = 30.0
    #: how often the inbox is read while waiting for an answer
    poll: float = 0.05
    events: list[dict[str, Any]] = field(default_factory=list)

    async def _answered(self, sent: dict[str, Any], *, expect_reply: bool) -> Reply | None:
        delivery = sent["delivery"]
        if delivery.get("status") != 200:
            raise AssertionError(f"ingest did not take the webhook: {delivery}")
        event = sent["event"]
        self.events.append(event)
        if not expect_reply:
            return None
        return await self.reply_to(event["webhookEventId"])

    async def reply_to(self, webhook_event_id: str, *, timeout: float | None = None) -> Reply:
        """The inbox entry answering this event (waits for it)."""
        notice_id = str(derived_id("conversation", self.user_id, webhook_event_id))
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for entry in await self.sandbox.inbox(self.user_id):
                if entry["notice_id"] == notice_id:
                    return Reply(entry)
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"no reply to webhook event {webhook_event_id} within {timeout or self.timeout}s"
                )
            await asyncio.sleep(0.05)

    async def follow(self) -> Reply:
        """Add the account (again: LINE sets isUnblocked, and the worker is welcomed back)."""
        sent = await self.sandbox.follow(self.user_id, language=self.language)
        reply = await self._answered(sent, expect_reply=True)
        assert reply is not None
        return reply

    async def unfollow(self) -> dict[str, Any]:
        sent = await self.sandbox.unfollow(self.user_id)
        await self._answered(sent, expect_reply=False)
        return dict(sent["event"])

    async def say(self, text: str) -> Reply:
        reply = await self._answered(await self.sandbox.message(self.user_id, text), expect_reply=True)
        assert reply is not None
        return reply

    async def tap(self, data: str) -> Reply:
        reply = await self._answered(await self.sandbox.postback(self.user_id, data), expect_reply=True)
        assert reply is not None
        return reply

    async def inbox(self) -> list[dict[str, Any]]:
        return await self.sandbox.inbox(self.user_id)

    async def wait_for_notice(self, notice_id: uuid.UUID | str, timeout: float = 60.0) -> Reply:
        """An inbox entry of a notice or personal reminder (``derived_id("reminder", rule_id)``)."""
        deadline = time.monotonic() + timeout
        while True:
            for entry in await self.inbox():
                if entry["notice_id"] == str(notice_id):
                    return Reply(entry)
            if time.monotonic() > deadline:
                raise TimeoutError(f"notice {notice_id} did not reach {self.user_id[:8]}… within {timeout}s")
            await asyncio.sleep(0.2)


def new_user_id() -> str:
    return "U" + uuid.uuid4().hex
