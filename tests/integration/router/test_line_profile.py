"""Profile-language look-ups over real HTTP (a loopback server standing in for LINE's profile endpoint).

A slow or failing LINE must never delay a reply: the whole batch of look-ups ends within the timeout,
and whatever did not answer simply gets no pre-selection. A proxy in the environment is not used for
the loopback call (the SDK's own session would use it).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from services.router.line_profile import ProfileLanguages
from tests.support.stack import free_port

GOOD, NO_LANGUAGE, SLOW, BROKEN, UNKNOWN = (f"U{str(n) * 32}" for n in range(5))


@pytest.fixture
async def line() -> AsyncIterator[tuple[str, list[str]]]:
    seen: list[str] = []

    async def profile(request: web.Request) -> web.Response:
        user = request.match_info["user"]
        seen.append(request.headers.get("Authorization", ""))
        if user == GOOD:
            return web.json_response({"userId": user, "displayName": "A Worker", "language": "pt-BR"})
        if user == NO_LANGUAGE:
            return web.json_response({"userId": user, "displayName": "A Worker"})
        if user == SLOW:
            await asyncio.sleep(2)
        if user == BROKEN:
            return web.json_response({"message": "Internal error"}, status=500)
        return web.json_response({"message": "Not found"}, status=404)

    app = web.Application()
    app.router.add_get("/v2/bot/profile/{user}", profile)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        await runner.cleanup()


async def test_languages_of_those_who_answer_in_time_and_nothing_else(
    line: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, seen = line
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # a proxy that does not exist
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    profiles = ProfileLanguages(base_url=url, access_token="test-token", timeout=0.5)
    await profiles.start()
    try:
        started = time.monotonic()
        found = await profiles.languages([GOOD, NO_LANGUAGE, SLOW, BROKEN, UNKNOWN, GOOD])
        elapsed = time.monotonic() - started
    finally:
        await profiles.close()
    assert found == {GOOD: "pt-BR"}
    assert elapsed < 1.5, f"the slow profile held the batch for {elapsed:.2f}s"
    assert set(seen) == {"Bearer test-token"} and len(seen) == 5, "one call per distinct user"


async def test_not_started_means_no_lookups() -> None:
    profiles = ProfileLanguages(base_url="http://127.0.0.1:9", access_token="t", timeout=0.5)
    assert await profiles.languages([GOOD]) == {}
