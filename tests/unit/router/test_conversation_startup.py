"""The conversation's factory runs in the router's lifespan: a broken catalog stops start-up there."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest

from services.router.app import RouterParts
from services.router.conversation import Conversation, conversation_factory
from services.router.handlers import ConversationHooks
from services.router.settings import RouterSettings


def parts(settings: RouterSettings) -> RouterParts:
    runtime: Any = type("Runtime", (), {"pool": object(), "publisher": object()})()
    return RouterParts(
        runtime=runtime,
        settings=settings,
        reminders=cast(Any, object()),
        clock=lambda: datetime.now(UTC),
        wake=lambda: None,
    )


def test_a_missing_catalog_fails_start_up(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = RouterSettings()
    broken = replace(settings.dialogue_config(), locales_dir=tmp_path)
    monkeypatch.setattr(RouterSettings, "dialogue_config", lambda self: broken)
    with pytest.raises(FileNotFoundError, match=r"no onboarding\.po catalog"):
        conversation_factory(parts(settings))


def test_the_factory_builds_the_conversation_with_its_hooks() -> None:
    settings = RouterSettings(line_channel_access_token="t", dialogue_languages="en,vi")
    conversation = conversation_factory(parts(settings))
    assert isinstance(conversation, Conversation) and isinstance(conversation, ConversationHooks)
