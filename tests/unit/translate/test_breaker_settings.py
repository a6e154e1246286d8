"""The circuit breaker, routes over pairs, chunking, and the settings' checks."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.translate.backends.breaker import CircuitBreaker, State
from services.translate.backends.engine import chunks, shortest_route
from services.translate.settings import TranslateSettings


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_consecutive_failures_and_half_opens_later() -> None:
    clock = Clock()
    breaker = CircuitBreaker("t", failure_threshold=3, reset_seconds=30, clock=clock)
    for _ in range(2):
        assert breaker.allow()
        breaker.record_failure()
    breaker.record_success()  # a success resets the count
    for _ in range(3):
        assert breaker.allow()
        breaker.record_failure()
    assert breaker.state is State.OPEN
    assert not breaker.allow()
    clock.now = 31
    assert breaker.allow()  # one trial
    assert not breaker.allow()  # and only one
    breaker.record_failure()
    assert breaker.state is State.OPEN
    clock.now = 62
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state.name == "CLOSED"


def test_trip_opens_for_the_given_time() -> None:
    clock = Clock()
    breaker = CircuitBreaker("t", clock=clock)
    breaker.trip(3600)
    clock.now = 3599
    assert not breaker.allow() and breaker.retry_in() == pytest.approx(1)
    clock.now = 3600
    assert breaker.allow()


def test_routes_chain_pairs() -> None:
    pairs = {("en", "es"), ("es", "en"), ("es", "pt-BR"), ("pt-BR", "es")}
    assert shortest_route(pairs, "en", "es") == [("en", "es")]
    assert shortest_route(pairs, "en", "pt-BR") == [("en", "es"), ("es", "pt-BR")]
    assert shortest_route(pairs, "en", "vi") is None


def test_chunks_respect_count_and_size() -> None:
    texts = ["a" * 10] * 7 + ["b" * 100]
    assert chunks(texts, max_texts=3, max_chars=1000) == [[0, 1, 2], [3, 4, 5], [6, 7]]
    assert chunks(texts, max_texts=50, max_chars=45) == [[0, 1, 2, 3], [4, 5, 6], [7]]


def test_a_backend_without_its_url_or_key_stops_start_up() -> None:
    with pytest.raises(ValidationError, match="GUNMA_TRANSLATE_DEEPL_AUTH_KEY"):
        TranslateSettings(backends={"vi": "deepl"})
    with pytest.raises(ValidationError, match="GUNMA_TRANSLATE_APERTIUM_URL"):
        TranslateSettings(default_backend="apertium")
    ok = TranslateSettings(backends={"es": "apertium"}, apertium_url="http://127.0.0.1:2737/")
    assert ok.apertium_url == "http://127.0.0.1:2737"
    assert ok.backend_for("es") == "apertium" and ok.backend_for("vi") is None


def test_chains_and_languages_are_checked() -> None:
    with pytest.raises(ValidationError, match="unsupported language 'xx'"):
        TranslateSettings(fallback_chains={"ne": ["xx"]})
    with pytest.raises(ValidationError, match="itself"):
        TranslateSettings(fallback_chains={"ne": ["ne"]})


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUNMA_TRANSLATE_APERTIUM_URL", "http://127.0.0.1:2737")
    monkeypatch.setenv("GUNMA_TRANSLATE_BACKENDS", '{"es": "apertium", "pt-BR": "apertium"}')
    monkeypatch.setenv("GUNMA_TRANSLATE_MONTHLY_BUDGETS", '{"apertium": 1000000}')
    monkeypatch.setenv("GUNMA_TRANSLATE_DEEPL_AUTH_KEY", "secret-key")
    settings = TranslateSettings()
    assert settings.used_backends() == ["apertium"]
    assert settings.monthly_budgets == {"apertium": 1_000_000}
    assert "secret-key" not in repr(settings)
