"""Router settings: defaults, parsing from the environment, and clear errors."""

from __future__ import annotations

from datetime import time

import pytest

from services.common.settings import load_settings
from services.router.dialogue import CONSENT_VERSION
from services.router.settings import RouterSettings


def test_defaults_are_the_prefectures() -> None:
    settings = RouterSettings()
    assert (settings.timezone, settings.quiet_hours_start, settings.quiet_hours_end) == (
        "Asia/Tokyo",
        time(21, 0),
        time(8, 0),
    )
    assert settings.batch_size == 500
    assert settings.unset_language_fallback is None


def test_values_come_from_the_routers_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUNMA_ROUTER_QUIET_HOURS_START", "22:30")
    monkeypatch.setenv("GUNMA_ROUTER_QUIET_HOURS_END", "06:00")
    monkeypatch.setenv("GUNMA_ROUTER_UNSET_LANGUAGE_FALLBACK", "ja-x-easy")
    settings = RouterSettings()
    assert (settings.quiet_hours_start, settings.quiet_hours_end) == (time(22, 30), time(6, 0))
    assert settings.unset_language_fallback == "ja-x-easy"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("GUNMA_ROUTER_TIMEZONE", "Asia/Gunma", "unknown time zone"),
        ("GUNMA_ROUTER_BATCH_SIZE", "501", "GUNMA_ROUTER_BATCH_SIZE"),
        ("GUNMA_ROUTER_UNSET_LANGUAGE_FALLBACK", "klingon", "unsupported language"),
        ("GUNMA_ROUTER_QUIET_HOURS_START", "25:00", "GUNMA_ROUTER_QUIET_HOURS_START"),
        ("GUNMA_ROUTER_DIALOGUE_LANGUAGES", "en,tlh", "unsupported language"),
        ("GUNMA_ROUTER_DIALOGUE_CONSENT_VERSION", "reminders-v0", "review the new text"),
        ("GUNMA_ROUTER_DIALOGUE_EMPLOYER_CODE_PREFIX", "gm-", "GUNMA_ROUTER_DIALOGUE_EMPLOYER_CODE_PREFIX"),
        ("GUNMA_ROUTER_LINE_BASIC_ID", "gunma", "GUNMA_ROUTER_LINE_BASIC_ID"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    value: str,
    message: str,
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SystemExit) as stopped:
        load_settings(RouterSettings)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert variable in err
    assert message in err


def test_dialogue_settings_become_the_dialogues_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUNMA_ROUTER_DIALOGUE_LANGUAGES", "vi, en ,ja-x-easy")
    monkeypatch.setenv("GUNMA_ROUTER_DIALOGUE_DEFAULT_LANGUAGE", "vi")
    monkeypatch.setenv("GUNMA_ROUTER_DIALOGUE_CONTACT", "027-000-0000 (weekdays 9-17)")
    monkeypatch.setenv("GUNMA_ROUTER_DIALOGUE_CONSENT_VERSION", CONSENT_VERSION)
    monkeypatch.setenv("GUNMA_LINE_CHANNEL_ACCESS_TOKEN", "token-from-the-common-variable")
    settings = RouterSettings()
    config = settings.dialogue_config()
    assert config.languages == ("vi", "en", "ja-x-easy") and config.default_language == "vi"
    assert config.contact == "027-000-0000 (weekdays 9-17)"
    assert config.reply_token_lifetime.total_seconds() == 50
    assert settings.line_channel_access_token is not None
    assert settings.line_channel_access_token.get_secret_value() == "token-from-the-common-variable"
    monkeypatch.setenv("GUNMA_ROUTER_DIALOGUE_LANGUAGES", '["ne", "en"]')
    monkeypatch.setenv("GUNMA_ROUTER_DIALOGUE_DEFAULT_LANGUAGE", "en")
    assert RouterSettings().dialogue_languages == ("ne", "en")


def test_the_default_language_must_be_offered(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GUNMA_ROUTER_DIALOGUE_LANGUAGES", "en,vi")
    monkeypatch.setenv("GUNMA_ROUTER_DIALOGUE_DEFAULT_LANGUAGE", "ne")
    with pytest.raises(SystemExit):
        load_settings(RouterSettings)
    err = capsys.readouterr().err
    assert "GUNMA_ROUTER_DIALOGUE_DEFAULT_LANGUAGE" in err and "not one of the offered languages" in err
