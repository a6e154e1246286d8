"""The LINE Messaging API through line-bot-sdk v3's async client, answering with plain :class:`Answer`s.

Two deliberate departures from the SDK's defaults:

- **No proxy from the environment.** The SDK's aiohttp session is built with ``trust_env=True``, so an
  ``HTTP(S)_PROXY`` variable would route even loopback calls to the sandbox through a proxy. The client's
  REST layer is replaced by one whose session trusts the environment only when configured to
  (``line_api_trust_env``); a proxy for api.line.me is set explicitly (``line_api_proxy``).
- **Recipients are not validated twice.** The SDK's request models are pydantic v1; building a
  ``MulticastRequest`` of 500 user ids and serialising it costs ~1.4 ms of CPU, most of it re-checking that
  500 strings are strings. The ids were already validated by the DeliveryReady contract (``U`` + 32 hex,
  at most 500, distinct), and the messages are validated here with the SDK's own ``Message`` models (once per
  distinct message list). The request objects handed to the SDK are its own classes, built with
  ``construct`` and carrying their JSON form, so the SDK's call path (headers, auth, retry key,
  serialisation, error handling) is unchanged.
"""

from __future__ import annotations

import ssl
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp
import orjson
from linebot.v3.messaging import (
    AsyncApiClient,
    AsyncMessagingApi,
    Configuration,
    Message,
    MulticastRequest,
    PushMessageRequest,
    ReplyMessageRequest,
    async_rest,
)
from linebot.v3.messaging.exceptions import ApiException
from pydantic.v1 import PrivateAttr
from pydantic.v1 import ValidationError as SdkValidationError

from . import metrics
from .domain.classify import Answer
from .domain.decisions import QuotaStatus

BATCH_HEADER = "X-Gunma-Batch-Id"


class InvalidMessages(ValueError):
    """The batch's message objects are not valid LINE messages (per the SDK's models)."""


class _Wire:
    """Mixin: an SDK request model that serialises to the JSON form it was built with."""

    _wire: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return self._wire


class _PreparedMulticast(_Wire, MulticastRequest):  # type: ignore[misc]
    _wire: dict[str, Any] = PrivateAttr(default_factory=dict)


class _PreparedPush(_Wire, PushMessageRequest):  # type: ignore[misc]
    _wire: dict[str, Any] = PrivateAttr(default_factory=dict)


class _PreparedReply(_Wire, ReplyMessageRequest):  # type: ignore[misc]
    _wire: dict[str, Any] = PrivateAttr(default_factory=dict)


class _RestClient(async_rest.RESTClientObject):  # type: ignore[misc]
    """The SDK's REST layer with a session we configure (proxy policy, connection limit)."""

    def __init__(self, configuration: Configuration, *, trust_env: bool, limit: int) -> None:
        ssl_context = ssl.create_default_context(cafile=configuration.ssl_ca_cert)
        connector = aiohttp.TCPConnector(limit=limit, ssl=ssl_context, keepalive_timeout=30)
        self.proxy = configuration.proxy
        self.proxy_headers = configuration.proxy_headers
        self.pool_manager = aiohttp.ClientSession(connector=connector, trust_env=trust_env)


class MessageCache:
    """Validated SDK message models per distinct message list (every batch of a notice shares one)."""

    def __init__(self, size: int = 512) -> None:
        self._size = size
        self._entries: OrderedDict[bytes, tuple[list[Any], list[dict[str, Any]]]] = OrderedDict()

    def get(self, messages: Sequence[Mapping[str, Any]]) -> tuple[list[Any], list[dict[str, Any]]]:
        key = orjson.dumps(list(messages), option=orjson.OPT_SORT_KEYS)
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
            return found
        models: list[Any] = []
        for index, message in enumerate(messages):
            try:
                model = Message.from_dict(dict(message))
            except SdkValidationError as error:
                problems = "; ".join(
                    f"messages[{index}].{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                    for e in error.errors()
                )
                raise InvalidMessages(problems) from None
            except (ValueError, KeyError, TypeError, AttributeError):
                raise InvalidMessages(
                    f"messages[{index}].type: unknown message type {message.get('type')!r}"
                ) from None
            if model is None:
                raise InvalidMessages(f"messages[{index}]: not a message object")
            models.append(model)
        wire = [model.to_dict() for model in models]
        found = (models, wire)
        self._entries[key] = found
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return found


class LineApi:
    """One channel's Messaging API client. Create and close it inside the event loop."""

    def __init__(
        self,
        *,
        base_url: str,
        access_token: str,
        timeout: float,
        connections: int,
        proxy: str | None = None,
        trust_env: bool = False,
        batch_header: bool = True,
    ) -> None:
        self._base_url = base_url
        self._access_token = access_token
        self._timeout = timeout
        self._connections = connections
        self._proxy = proxy
        self._trust_env = trust_env
        self._batch_header = batch_header
        self._client: AsyncApiClient | None = None
        self._api: AsyncMessagingApi | None = None
        self.messages = MessageCache()

    async def start(self) -> None:
        configuration = Configuration(host=self._base_url, access_token=self._access_token)
        configuration.proxy = self._proxy
        client = AsyncApiClient(configuration)
        sdk_rest = client.rest_client
        client.rest_client = _RestClient(configuration, trust_env=self._trust_env, limit=self._connections)
        await sdk_rest.close()  # the SDK's own session (trust_env=True) is never used
        self._client = client
        self._api = AsyncMessagingApi(client)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
            self._api = None

    @property
    def api(self) -> AsyncMessagingApi:
        if self._api is None:
            raise RuntimeError("LineApi.start() was not called")
        return self._api

    def _headers(self, batch_id: str | None) -> dict[str, str]:
        return {BATCH_HEADER: batch_id} if self._batch_header and batch_id else {}

    async def _call(self, coroutine: Any) -> Answer:
        try:
            response = await coroutine
        except ApiException as error:
            body = (
                error.body if isinstance(error.body, str) else (error.body or b"").decode("utf-8", "replace")
            )
            return Answer(int(error.status or 0), dict(error.headers or {}), body)
        except TimeoutError:
            return Answer(None, {}, transport_error=f"timed out after {self._timeout:g} s")
        except aiohttp.ClientError as error:
            return Answer(None, {}, transport_error=f"{type(error).__name__}: {error}"[:300])
        return Answer(int(response.status_code), dict(response.headers or {}), "")

    async def multicast(
        self, to: Sequence[str], messages: Sequence[Mapping[str, Any]], *, retry_key: str, batch_id: str
    ) -> Answer:
        models, wire = self.messages.get(messages)
        request = _PreparedMulticast.construct(to=list(to), messages=models, notification_disabled=False)
        request._wire = {"to": list(to), "messages": wire}
        return await self._call(
            self.api.multicast_with_http_info(
                request,
                x_line_retry_key=retry_key,
                _request_timeout=self._timeout,
                _headers=self._headers(batch_id),
            )
        )

    async def push(
        self, to: str, messages: Sequence[Mapping[str, Any]], *, retry_key: str, batch_id: str
    ) -> Answer:
        models, wire = self.messages.get(messages)
        request = _PreparedPush.construct(to=to, messages=models, notification_disabled=False)
        request._wire = {"to": to, "messages": wire}
        return await self._call(
            self.api.push_message_with_http_info(
                request,
                x_line_retry_key=retry_key,
                _request_timeout=self._timeout,
                _headers=self._headers(batch_id),
            )
        )

    async def reply(
        self, reply_token: str, messages: Sequence[Mapping[str, Any]], *, batch_id: str
    ) -> Answer:
        models, wire = self.messages.get(messages)
        request = _PreparedReply.construct(
            reply_token=reply_token, messages=models, notification_disabled=False
        )
        request._wire = {"replyToken": reply_token, "messages": wire}
        return await self._call(
            self.api.reply_message_with_http_info(
                request, _request_timeout=self._timeout, _headers=self._headers(batch_id)
            )
        )

    async def quota(self) -> QuotaStatus:
        """This month's limit and usage; raises ``LineUnavailable`` when LINE does not answer."""
        try:
            limit = await self.api.get_message_quota(_request_timeout=self._timeout)
            usage = await self.api.get_message_quota_consumption(_request_timeout=self._timeout)
        except ApiException as error:
            raise LineUnavailable(f"quota check failed: HTTP {error.status}") from None
        except (TimeoutError, aiohttp.ClientError) as error:
            raise LineUnavailable(f"quota check failed: {type(error).__name__}") from None
        kind = str(getattr(limit.type, "value", limit.type))
        status = QuotaStatus(limited=kind == "limited", limit=limit.value, used=int(usage.total_usage))
        metrics.record_quota(status)  # every read keeps gunma_sender_quota_* current
        return status


class LineUnavailable(ConnectionError):
    """LINE did not answer a read-only call (a transient failure: the consumer retries)."""
