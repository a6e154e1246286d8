"""The SDK client as the sender configures it: no proxy from the environment, SDK-validated messages."""

import pytest

from services.sender.line_api import InvalidMessages, LineApi, MessageCache


async def test_the_session_ignores_proxy_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    api = LineApi(base_url="http://127.0.0.1:1", access_token="t", timeout=1, connections=8)
    await api.start()
    try:
        session = api.api.api_client.rest_client.pool_manager
        assert session.trust_env is False
        assert session.connector.limit == 8
    finally:
        await api.close()


async def test_trusting_the_environment_is_an_explicit_choice() -> None:
    api = LineApi(base_url="https://api.line.me", access_token="t", timeout=1, connections=8, trust_env=True)
    await api.start()
    try:
        assert api.api.api_client.rest_client.pool_manager.trust_env is True
    finally:
        await api.close()


def test_messages_are_checked_with_the_sdk_models_once_per_distinct_list() -> None:
    cache = MessageCache(size=2)
    messages = (
        {
            "type": "text",
            "text": "hello",
            "quickReply": {
                "items": [{"type": "action", "action": {"type": "message", "label": "OK", "text": "ok"}}]
            },
        },
    )
    models, wire = cache.get(messages)
    assert type(models[0]).__name__ == "TextMessage"
    assert wire == [
        {
            "type": "text",
            "text": "hello",
            "quickReply": {
                "items": [{"type": "action", "action": {"type": "message", "label": "OK", "text": "ok"}}]
            },
        }
    ]
    assert cache.get(messages)[0] is models  # the same list object: validated once
    with pytest.raises(InvalidMessages, match=r"messages\[0\].type: unknown message type 'hologram'"):
        cache.get(({"type": "hologram"},))
    with pytest.raises(InvalidMessages, match=r"messages\[0\]\.text"):
        cache.get(({"type": "text"},))
