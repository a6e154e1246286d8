"""A Python client for the sandbox's admin API, for tests, the demo and a shell.

    async with SandboxClient("http://127.0.0.1:8090", admin_token) as sandbox:
        user = (await sandbox.follow(language="vi"))["event"]["source"]["userId"]
        await sandbox.message(user, "こんにちは")
        print(await sandbox.inbox(user))

From a shell (token from GUNMA_SANDBOX_ADMIN_TOKEN, URL from GUNMA_SANDBOX_URL)::

    python -m services.line_sandbox.client follow --language vi
    python -m services.line_sandbox.client message U0123... "my card number is ..."
    python -m services.line_sandbox.client inbox U0123...
    python -m services.line_sandbox.client faults error_rate=0.2 latency_ms=50
    python -m services.line_sandbox.client notice 7d3f...
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from types import TracebackType
from typing import Any

import httpx


class SandboxError(RuntimeError):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"sandbox answered {status}: {body[:500]}")
        self.status = status
        self.body = body


class SandboxClient:
    def __init__(self, base_url: str, admin_token: str, *, timeout: float = 30.0) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {admin_token}"},
            timeout=timeout,
            trust_env=False,  # loopback: never through a proxy
        )

    async def __aenter__(self) -> SandboxClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def _call(
        self, method: str, path: str, *, json_body: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        response = await self._http.request(
            method, path, json=json_body, params={k: v for k, v in (params or {}).items() if v is not None}
        )
        if response.status_code >= 400:
            raise SandboxError(response.status_code, response.text)
        return response.json()

    async def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if (await self._http.get("/healthz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("the LINE sandbox did not answer /healthz")
            await asyncio.sleep(0.1)

    # --- simulated workers --------------------------------------------------------------------------

    async def follow(
        self, user_id: str | None = None, *, language: str = "en", display_name: str | None = None
    ) -> dict[str, Any]:
        """A user adds the account (or unblocks it); returns {"event", "delivery"}."""
        body = {"user_id": user_id, "language": language, "display_name": display_name}
        return dict(await self._call("POST", "/admin/users/follow", json_body=body))

    async def unfollow(self, user_id: str) -> dict[str, Any]:
        return dict(await self._call("POST", f"/admin/users/{user_id}/unfollow"))

    async def message(self, user_id: str, text: str) -> dict[str, Any]:
        return dict(await self._call("POST", f"/admin/users/{user_id}/message", json_body={"text": text}))

    async def postback(self, user_id: str, data: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        body = {"data": data, "params": params}
        return dict(await self._call("POST", f"/admin/users/{user_id}/postback", json_body=body))

    async def redeliver(self, webhook_event_id: str) -> dict[str, Any]:
        return dict(await self._call("POST", f"/admin/webhooks/{webhook_event_id}/redeliver"))

    async def webhooks(self, *, user_id: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        return list(await self._call("GET", "/admin/webhooks", params={"user_id": user_id, "limit": limit}))

    async def users(self) -> list[dict[str, Any]]:
        return list(await self._call("GET", "/admin/users"))

    # --- what was delivered -------------------------------------------------------------------------

    async def inbox(self, user_id: str, *, limit: int = 1000) -> list[dict[str, Any]]:
        """What the user received, oldest first: each with notice/batch reference and message texts."""
        found = await self._call("GET", f"/admin/inbox/{user_id}", params={"limit": limit})
        return list(found["messages"])

    async def notice(self, notice_id: str) -> dict[str, Any]:
        return dict(await self._call("GET", f"/admin/notices/{notice_id}"))

    async def notices(self) -> list[dict[str, Any]]:
        return list(await self._call("GET", "/admin/notices"))

    async def batch(self, batch_id: str) -> list[dict[str, Any]]:
        return list((await self._call("GET", f"/admin/batches/{batch_id}"))["deliveries"])

    async def duplicates(self, *, notice_id: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        found = await self._call("GET", "/admin/duplicates", params={"notice_id": notice_id, "limit": limit})
        return list(found["duplicates"])

    async def stats(self) -> dict[str, Any]:
        return dict(await self._call("GET", "/admin/stats"))

    async def requests(self, *, limit: int = 100) -> list[dict[str, Any]]:
        return list(await self._call("GET", "/admin/requests", params={"limit": limit}))

    # --- behaviour ----------------------------------------------------------------------------------

    async def faults(self) -> dict[str, Any]:
        return dict(await self._call("GET", "/admin/faults"))

    async def set_faults(self, **changes: Any) -> dict[str, Any]:
        """e.g. ``set_faults(error_rate=0.2, timeout_rate=0.1, timeout_seconds=3, monthly_limit=False)``"""
        return dict(await self._call("PUT", "/admin/faults", json_body=changes))

    async def set_rate_limits(self, enabled: bool) -> dict[str, Any]:
        return dict(await self._call("PUT", "/admin/limits", json_body={"enabled": enabled}))

    async def set_quota(self, *, limit: int | None, used: int | None = None) -> dict[str, Any]:
        return dict(await self._call("PUT", "/admin/quota", json_body={"limit": limit, "used": used}))

    async def reset(self) -> None:
        await self._call("POST", "/admin/reset")


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


async def _main(args: argparse.Namespace) -> Any:
    token = os.environ.get("GUNMA_SANDBOX_ADMIN_TOKEN")
    if not token:
        raise SystemExit("set GUNMA_SANDBOX_ADMIN_TOKEN")
    async with SandboxClient(args.url, token) as sandbox:
        command = args.command
        if command == "follow":
            return await sandbox.follow(args.user_id, language=args.language)
        if command == "unfollow":
            return await sandbox.unfollow(args.user_id)
        if command == "message":
            return await sandbox.message(args.user_id, args.text)
        if command == "postback":
            return await sandbox.postback(args.user_id, args.data)
        if command == "redeliver":
            return await sandbox.redeliver(args.event_id)
        if command == "inbox":
            return await sandbox.inbox(args.user_id)
        if command == "notice":
            return await sandbox.notice(args.notice_id)
        if command == "duplicates":
            return await sandbox.duplicates(notice_id=args.notice_id)
        if command == "stats":
            return await sandbox.stats()
        if command == "faults":
            changes = dict(item.split("=", 1) for item in args.changes)
            if changes:
                return await sandbox.set_faults(**{k: _value(v) for k, v in changes.items()})
            return await sandbox.faults()
        if command == "reset":
            await sandbox.reset()
            return {"status": "reset"}
    raise SystemExit(f"unknown command {command}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.line_sandbox.client", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--url", default=os.environ.get("GUNMA_SANDBOX_URL", "http://127.0.0.1:8090"))
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("follow")
    p.add_argument("user_id", nargs="?")
    p.add_argument("--language", default="en")
    sub.add_parser("unfollow").add_argument("user_id")
    p = sub.add_parser("message")
    p.add_argument("user_id")
    p.add_argument("text")
    p = sub.add_parser("postback")
    p.add_argument("user_id")
    p.add_argument("data")
    sub.add_parser("redeliver").add_argument("event_id")
    sub.add_parser("inbox").add_argument("user_id")
    sub.add_parser("notice").add_argument("notice_id")
    sub.add_parser("duplicates").add_argument("--notice-id", dest="notice_id")
    sub.add_parser("stats")
    sub.add_parser("faults").add_argument("changes", nargs="*", help="name=value ...")
    sub.add_parser("reset")
    args = parser.parse_args(argv)
    try:
        result = asyncio.run(_main(args))
    except SandboxError as problem:
        print(problem, file=sys.stderr)
        return 1
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
