"""HTTP routes: LINE's Messaging API (as LINE answers it) and the sandbox's own /admin API.

The send endpoints read the raw body and answer with pre-serialised JSON: they are the hot path of the
throughput benchmark. Errors there use LINE's ErrorResponse shape ({"message", "details"}), because the
client is line-bot-sdk. The /admin API is this project's own, so its errors are problem details
(RFC 9457) like every other service's.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from pydantic import BaseModel, Field

from services.common.problems import Problem

from .platform import ApiResult, Platform, error
from .spec import Violation
from .validation import SendEndpoint
from .webhooks import WebhookError, WebhookSimulator

AUTH_FAILED = "Authentication failed. Confirm that the access token in the authorization header is valid."
LINE_USER_ID = r"^U[0-9a-f]{32}$"


def _json(result: ApiResult) -> Response:
    return Response(
        orjson.dumps(result.body),
        status_code=result.status,
        media_type="application/json",
        headers=result.headers,
    )


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return None


def _token_ok(presented: str | None, tokens: frozenset[str]) -> bool:
    if not presented:
        return False
    # compare_digest for every configured token: no early exit that times the match
    matches = [hmac.compare_digest(presented.encode(), t.encode()) for t in tokens]
    return any(matches)


def messaging_routes(platform: Platform, tokens: frozenset[str]) -> APIRouter:
    router = APIRouter(tags=["LINE Messaging API"])

    async def send(endpoint: SendEndpoint, request: Request) -> Response:
        if not _token_ok(_bearer(request), tokens):
            return _json(error(401, AUTH_FAILED))
        raw = await request.body()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return _json(error(400, "The request body has 1 error(s)", [Violation("", "Invalid JSON")]))
        result = await platform.send(
            endpoint,
            body,
            retry_key=request.headers.get("x-line-retry-key"),
            batch_id=request.headers.get("x-gunma-batch-id"),
        )
        return _json(result)

    @router.post("/v2/bot/message/multicast", summary="Send multicast message")
    async def multicast(request: Request) -> Response:
        return await send(SendEndpoint.MULTICAST, request)

    @router.post("/v2/bot/message/push", summary="Send push message")
    async def push(request: Request) -> Response:
        return await send(SendEndpoint.PUSH, request)

    @router.post("/v2/bot/message/reply", summary="Send reply message")
    async def reply(request: Request) -> Response:
        return await send(SendEndpoint.REPLY, request)

    @router.get("/v2/bot/profile/{user_id}", summary="Get profile")
    async def profile(user_id: str, request: Request) -> Response:
        if not _token_ok(_bearer(request), tokens):
            return _json(error(401, AUTH_FAILED))
        return _json(platform.profile(user_id))

    @router.get("/v2/bot/message/quota", summary="Get the target limit for sending messages this month")
    async def quota(request: Request) -> Response:
        if not _token_ok(_bearer(request), tokens):
            return _json(error(401, AUTH_FAILED))
        return _json(platform.quota())

    @router.get("/v2/bot/message/quota/consumption", summary="Get number of messages sent this month")
    async def consumption(request: Request) -> Response:
        if not _token_ok(_bearer(request), tokens):
            return _json(error(401, AUTH_FAILED))
        return _json(platform.consumption())

    return router


# --- the admin API -----------------------------------------------------------------------------------


class FollowRequest(BaseModel):
    user_id: str | None = Field(default=None, pattern=LINE_USER_ID, description="omit for a new user")
    language: str = Field(default="en", min_length=2, max_length=16, description="the phone's language")
    display_name: str | None = Field(default=None, max_length=20)


class TextRequest(BaseModel):
    text: str = Field(min_length=1, max_length=5000)


class PostbackRequest(BaseModel):
    data: str = Field(min_length=1, max_length=300)
    params: dict[str, str] | None = None


class QuotaRequest(BaseModel):
    limit: int | None = Field(default=None, ge=0, description="monthly limit; null for none")
    used: int | None = Field(default=None, ge=0, description="messages used this month")


class LimitsRequest(BaseModel):
    enabled: bool


UserId = Annotated[str, Field(pattern=LINE_USER_ID)]


def admin_routes(platform: Platform, simulator: WebhookSimulator, admin_token: str) -> APIRouter:
    async def authenticated(request: Request) -> None:
        if not _token_ok(_bearer(request), frozenset({admin_token})):
            raise Problem(
                401,
                "Authentication required",
                "send the sandbox admin token as 'Authorization: Bearer <token>' (GUNMA_SANDBOX_ADMIN_TOKEN)",
                headers={"WWW-Authenticate": "Bearer"},
            )

    router = APIRouter(prefix="/admin", tags=["sandbox admin"], dependencies=[Depends(authenticated)])

    def user_or_404(user_id: str) -> None:
        if user_id not in platform.users:
            raise Problem(404, "Unknown user", f"no simulated user {user_id}; follow first")

    @router.get("/faults", summary="The fault injection in force")
    async def get_faults() -> dict[str, Any]:
        return {**platform.faults.as_dict(), "rate_limits_enabled": platform.rate_limits_enabled}

    @router.put("/faults", summary="Change fault injection (any subset of the fields)")
    async def put_faults(changes: dict[str, Any]) -> dict[str, Any]:
        try:
            platform.faults.update(changes)
        except ValueError as problem:
            raise Problem(422, "Invalid fault settings", str(problem)) from None
        return await get_faults()

    @router.put("/limits", summary="Switch LINE's rate limits on or off")
    async def put_limits(body: LimitsRequest) -> dict[str, Any]:
        platform.rate_limits_enabled = body.enabled
        return await get_faults()

    @router.put("/quota", summary="Set the monthly limit and usage")
    async def put_quota(body: QuotaRequest) -> dict[str, Any]:
        platform.set_quota(limit=body.limit, used=body.used)
        return {"limit": platform.quota_limit, "used": platform.quota_used}

    @router.post("/reset", summary="Forget everything: inboxes, retry keys, users, faults, quota")
    async def reset() -> dict[str, str]:
        platform.reset()
        simulator.sent.clear()
        return {"status": "reset"}

    @router.get("/stats", summary="Totals: requests by endpoint and status, recipients, quota")
    async def stats() -> dict[str, Any]:
        return {
            **platform.inbox.totals(),
            "responses": dict(platform.stats),
            "quota": {"limit": platform.quota_limit, "used": platform.quota_used},
            "blocked_skipped": platform.blocked_skipped,
            "users": len(platform.users),
        }

    @router.get("/requests", summary="The most recent Messaging API requests, newest first")
    async def requests(limit: Annotated[int, Query(ge=1, le=10_000)] = 100) -> list[dict[str, Any]]:
        return list(reversed(platform.request_log))[:limit]

    @router.get("/inbox/{user_id}", summary="What one user received, oldest first")
    async def inbox(user_id: UserId, limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> dict[str, Any]:
        received = platform.inbox.received_by(user_id, limit=limit)
        return {"user_id": user_id, "count": len(received), "messages": received}

    @router.get("/notices", summary="Every notice seen, with request and recipient counts")
    async def notices() -> list[dict[str, Any]]:
        return platform.inbox.notices()

    @router.get("/notices/{notice_id}", summary="Counts for one notice: recipients, duplicates, batches")
    async def notice(notice_id: str) -> dict[str, Any]:
        return platform.inbox.notice_summary(notice_id)

    @router.get("/batches/{batch_id}", summary="The accepted requests of one batch")
    async def batch(batch_id: str) -> dict[str, Any]:
        found = platform.inbox.batch(batch_id)
        return {"batch_id": batch_id, "deliveries": found}

    @router.get("/duplicates", summary="Users who received the same batch more than once")
    async def duplicates(
        notice_id: str | None = None, limit: Annotated[int, Query(ge=1, le=100_000)] = 1000
    ) -> dict[str, Any]:
        found = platform.inbox.duplicates(notice_id=notice_id, limit=limit)
        return {"count": len(found), "duplicates": found}

    @router.get("/users", summary="Simulated users")
    async def users() -> list[dict[str, Any]]:
        return [u.as_dict() for u in platform.users.values()]

    @router.post("/users/follow", summary="A user adds (or unblocks) the account: follow webhook")
    async def follow(body: FollowRequest) -> dict[str, Any]:
        return await simulator.follow(body.user_id, language=body.language, display_name=body.display_name)

    @router.post("/users/{user_id}/unfollow", summary="The user blocks the account: unfollow webhook")
    async def unfollow(user_id: UserId) -> dict[str, Any]:
        return await simulator.unfollow(user_id)

    @router.post("/users/{user_id}/message", summary="The user sends a text: message webhook")
    async def message(user_id: UserId, body: TextRequest) -> dict[str, Any]:
        user_or_404(user_id)
        return await simulator.message(user_id, body.text)

    @router.post("/users/{user_id}/postback", summary="The user taps a postback button: postback webhook")
    async def postback(user_id: UserId, body: PostbackRequest) -> dict[str, Any]:
        user_or_404(user_id)
        try:
            return await simulator.postback(user_id, body.data, body.params)
        except WebhookError as problem:
            raise Problem(400, "Invalid event", str(problem)) from None

    @router.post("/webhooks/{webhook_event_id}/redeliver", summary="Send an event again (isRedelivery)")
    async def redeliver(webhook_event_id: str) -> dict[str, Any]:
        try:
            return await simulator.redeliver(webhook_event_id)
        except KeyError:
            raise Problem(404, "Unknown event", f"no webhook event {webhook_event_id} was sent") from None

    @router.get("/webhooks", summary="Webhook events sent, newest first, with each delivery's answer")
    async def webhooks(
        user_id: str | None = None, limit: Annotated[int, Query(ge=1, le=10_000)] = 100
    ) -> list[dict[str, Any]]:
        return simulator.events(user_id=user_id, limit=limit)

    return router


def install(
    app: FastAPI, platform: Platform, simulator: WebhookSimulator, *, tokens: frozenset[str], admin_token: str
) -> None:
    app.include_router(messaging_routes(platform, tokens))
    app.include_router(admin_routes(platform, simulator, admin_token))
