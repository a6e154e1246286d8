"""line-bot-sdk v3's async Messaging API client, built so that loopback calls never go through a proxy.

The SDK builds its aiohttp session with ``trust_env=True``: an ``HTTP(S)_PROXY`` variable would route
even calls to the local LINE sandbox through a proxy. :func:`messaging_client` swaps the SDK's REST
layer for one whose session trusts the environment only when asked to (``trust_env``); a proxy for
api.line.me is given explicitly. The SDK's call path (auth header, serialisation, errors) is unchanged.

The sender has the same construction in ``services/sender/line_api.py`` (written first); services that
only need a few calls (the router's profile look-ups) use this module instead of importing the sender.
"""

from __future__ import annotations

import ssl

import aiohttp
from linebot.v3.messaging import AsyncApiClient, AsyncMessagingApi, Configuration, async_rest


class _RestClient(async_rest.RESTClientObject):  # type: ignore[misc]
    """The SDK's REST layer with a session we configure (proxy policy, connection limit)."""

    def __init__(self, configuration: Configuration, *, trust_env: bool, limit: int) -> None:
        ssl_context = ssl.create_default_context(cafile=configuration.ssl_ca_cert)
        connector = aiohttp.TCPConnector(limit=limit, ssl=ssl_context, keepalive_timeout=30)
        self.proxy = configuration.proxy
        self.proxy_headers = configuration.proxy_headers
        self.pool_manager = aiohttp.ClientSession(connector=connector, trust_env=trust_env)


async def messaging_client(
    *,
    base_url: str,
    access_token: str,
    proxy: str | None = None,
    trust_env: bool = False,
    connections: int = 16,
) -> tuple[AsyncApiClient, AsyncMessagingApi]:
    """An SDK client and its Messaging API (inside the event loop; ``await client.close()`` when done)."""
    configuration = Configuration(host=base_url.rstrip("/"), access_token=access_token)
    configuration.proxy = proxy
    client = AsyncApiClient(configuration)
    sdk_rest = client.rest_client
    client.rest_client = _RestClient(configuration, trust_env=trust_env, limit=connections)
    await sdk_rest.close()  # the SDK's own session (trust_env=True) is never used
    return client, AsyncMessagingApi(client)
