import pytest

from services.common.settings import load_settings
from services.router.settings import RouterSettings


def test_a_bad_variable_is_named_in_one_line_without_its_value(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GUNMA_DATABASE_URL", "mysql://user:hunter2@db/x")
    monkeypatch.setenv("GUNMA_ROUTER_HTTP_PORT", "eighty")
    with pytest.raises(SystemExit) as exit_info:
        load_settings(RouterSettings)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "GUNMA_ROUTER_DATABASE_URL (or GUNMA_DATABASE_URL)" in err
    assert "GUNMA_ROUTER_HTTP_PORT (or GUNMA_HTTP_PORT)" in err
    assert "hunter2" not in err


def test_the_service_prefix_wins_over_the_common_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUNMA_KAFKA_TOPIC_PREFIX", "common.")
    monkeypatch.setenv("GUNMA_ROUTER_KAFKA_TOPIC_PREFIX", "router.")
    monkeypatch.setenv("GUNMA_HTTP_PORT", "9999")
    settings = load_settings(RouterSettings)
    assert settings.kafka_topic_prefix == "router."
    assert settings.http_port == 9999
    assert settings.topics.notices == "router.notices.v1"
    assert "gunma-local" not in repr(settings)
