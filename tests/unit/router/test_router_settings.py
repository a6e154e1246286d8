"""Router settings: defaults, parsing from the environment, and clear errors."""

from __future__ import annotations

from datetime import time

import pytest

from services.common.settings import load_settings
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
