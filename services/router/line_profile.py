"""LINE profile languages for first follows: the greeting and the picker in the phone's language.

``GET /v2/bot/profile/{userId}`` through line-bot-sdk's async client (the LINE sandbox implements it).
Only ``language`` is read; the display name, picture and status message in the answer are dropped at
once, never stored or logged. The look-ups run before the consumer's transaction opens, concurrently,
under one short deadline (``GUNMA_ROUTER_LINE_PROFILE_TIMEOUT_SECONDS``): a slow or failing LINE means no
pre-selection (the worker picks a language from the list), never a late reply.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from linebot.v3.messaging import AsyncApiClient, AsyncMessagingApi
from prometheus_client import Counter

from services.common.line_client import messaging_client

log = logging.getLogger(__name__)

LOOKUPS = Counter("gunma_router_profile_lookups_total", "LINE profile look-ups on follow", ["outcome"])


class ProfileLanguages:
    def __init__(
        self,
        *,
        base_url: str,
        access_token: str,
        timeout: float,
        proxy: str | None = None,
        trust_env: bool = False,
        concurrency: int = 8,
    ) -> None:
        self._base_url = base_url
        self._token = access_token
        self._timeout = timeout
        self._proxy = proxy
        self._trust_env = trust_env
        self._limit = asyncio.Semaphore(concurrency)
        self._client: AsyncApiClient | None = None
        self._api: AsyncMessagingApi | None = None

    async def start(self) -> None:
        self._client, self._api = await messaging_client(
            base_url=self._base_url, access_token=self._token, proxy=self._proxy, trust_env=self._trust_env
        )

    async def close(self) -> None:
        client, self._client, self._api = self._client, None, None
        if client is not None:
            await client.close()

    async def _one(self, user_id: str) -> str | None:
        assert self._api is not None
        async with self._limit:
            try:
                profile = await self._api.get_profile(user_id, _request_timeout=self._timeout)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                LOOKUPS.labels("failed").inc()
                log.info("profile language unavailable", extra={"error": type(error).__name__})
                return None
        LOOKUPS.labels("found" if profile.language else "no_language").inc()
        return profile.language or None

    async def languages(self, user_ids: Iterable[str]) -> dict[str, str]:
        """LINE profile language per user id (BCP 47, as LINE gives it) for those that answered in time."""
        wanted = list(dict.fromkeys(user_ids))
        if not wanted or self._api is None:
            return {}
        tasks = {user: asyncio.ensure_future(self._one(user)) for user in wanted}
        done, pending = await asyncio.wait(tasks.values(), timeout=self._timeout)
        for task in pending:
            task.cancel()
        if pending:
            LOOKUPS.labels("timed_out").inc(len(pending))
            await asyncio.gather(*pending, return_exceptions=True)
        found: dict[str, str] = {}
        for user, task in tasks.items():
            if task in done and not task.cancelled() and task.exception() is None:
                language = task.result()
                if language:
                    found[user] = language
        return found
