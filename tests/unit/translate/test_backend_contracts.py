"""Contract tests: each backend sends the documented request and understands the documented answers.

Local HTTP stubs (httpx.MockTransport) check method, path, headers and body of every request, and
answer like the providers do, including their errors: 429 (slow down), 456 (DeepL quota), Google's
quota 403, 5xx.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from services.translate.backends import BackendUnavailable, QuotaExhausted, RequestRejected, RetryableError
from services.translate.backends.apertium import ApertiumBackend
from services.translate.backends.base import Backend
from services.translate.backends.breaker import CircuitBreaker, State
from services.translate.backends.deepl import DeepLBackend
from services.translate.backends.engine import Engine, RetryPolicy
from services.translate.backends.google import GoogleBackend
from services.translate.backends.libretranslate import LibreTranslateBackend

Handler = Callable[[httpx.Request], httpx.Response]
FAST = RetryPolicy(attempts=3, initial_seconds=0.001, max_seconds=0.01)


class Stub:
    """A provider stand-in: records requests, answers with the queued responses, then ``default``."""

    def __init__(self, default: Handler) -> None:
        self.requests: list[httpx.Request] = []
        self.queue: list[httpx.Response] = []
        self.default = default

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.queue:
            return self.queue.pop(0)
        return self.default(request)

    def client(self, base_url: str = "") -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self), base_url=base_url)


def engine(backend: Backend, *, threshold: int = 5) -> Engine:
    return Engine(
        backend,
        breaker=CircuitBreaker(backend.name, failure_threshold=threshold, reset_seconds=60),
        budget=None,
        retry=FAST,
        quota_cooldown_seconds=3600,
    )


# --- LibreTranslate --------------------------------------------------------------------------------


def libre_ok(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    return httpx.Response(200, json={"translatedText": [f"[{body['target']}] {q}" for q in body["q"]]})


async def test_libretranslate_request_shape_and_batching() -> None:
    stub = Stub(libre_ok)
    backend = LibreTranslateBackend(stub.client("http://libre.test"), api_key="k-123")
    out = await engine(backend).translate([f"text {i}" for i in range(60)], "en", "zh-Hans")
    assert out[0] == "[zh] text 0" and out[59] == "[zh] text 59"
    assert len(stub.requests) == 2  # 50 + 10: q is a list
    request = stub.requests[0]
    assert request.method == "POST" and request.url.path == "/translate"
    assert request.headers["content-type"] == "application/json"
    body = json.loads(request.content)
    assert body == {
        "q": [f"text {i}" for i in range(50)],
        "source": "en",
        "target": "zh",
        "format": "text",
        "api_key": "k-123",
    }


async def test_libretranslate_429_is_retried_then_succeeds() -> None:
    stub = Stub(libre_ok)
    stub.queue.append(
        httpx.Response(429, json={"error": "Slowdown: 1 per 1 second"}, headers={"Retry-After": "0"})
    )
    out = await engine(LibreTranslateBackend(stub.client("http://libre.test"))).translate(["hi"], "en", "es")
    assert out == ["[es] hi"]
    assert len(stub.requests) == 2


async def test_libretranslate_400_is_a_rejection_without_retry() -> None:
    stub = Stub(lambda _: httpx.Response(400, json={"error": "km is not supported"}))
    eng = engine(LibreTranslateBackend(stub.client("http://libre.test")))
    with pytest.raises(RequestRejected, match="km is not supported"):
        await eng.translate(["hi"], "en", "km")
    assert len(stub.requests) == 1
    assert eng.breaker.state is State.CLOSED  # the service is up; it just cannot do this


# --- DeepL -----------------------------------------------------------------------------------------


def deepl_ok(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    return httpx.Response(
        200,
        json={"translations": [{"detected_source_language": "EN", "text": f"<{t}>"} for t in body["text"]]},
    )


async def test_deepl_request_shape_and_50_texts_per_request() -> None:
    stub = Stub(deepl_ok)
    backend = DeepLBackend(stub.client("https://api-free.deepl.test"), auth_key="abc:fx")
    out = await engine(backend).translate([f"t{i}" for i in range(120)], "en", "pt-BR")
    assert out[:2] == ["<t0>", "<t1>"] and len(out) == 120
    assert [len(json.loads(r.content)["text"]) for r in stub.requests] == [50, 50, 20]
    request = stub.requests[0]
    assert request.method == "POST" and request.url.path == "/v2/translate"
    assert request.headers["authorization"] == "DeepL-Auth-Key abc:fx"
    body = json.loads(request.content)
    assert body["source_lang"] == "EN" and body["target_lang"] == "PT-BR"


async def test_deepl_456_means_quota_exhausted_and_stops_asking() -> None:
    stub = Stub(lambda _: httpx.Response(456, json={"message": "Quota exceeded"}))
    eng = engine(DeepLBackend(stub.client("https://api-free.deepl.test"), auth_key="k"))
    with pytest.raises(QuotaExhausted, match="456"):
        await eng.translate(["hello"], "en", "ja")
    assert len(stub.requests) == 1  # never retried
    assert eng.breaker.state is State.OPEN and eng.breaker.retry_in() > 3000
    with pytest.raises(BackendUnavailable):
        await eng.translate(["hello"], "en", "ja")
    assert len(stub.requests) == 1


async def test_deepl_429_and_529_retry() -> None:
    stub = Stub(deepl_ok)
    stub.queue += [httpx.Response(429, json={"message": "Too many requests"}), httpx.Response(529)]
    out = await engine(DeepLBackend(stub.client("https://d.test"), auth_key="k")).translate(["x"], "en", "ko")
    assert out == ["<x>"] and len(stub.requests) == 3


async def test_deepl_5xx_until_the_retries_run_out_counts_against_the_breaker() -> None:
    stub = Stub(lambda _: httpx.Response(503, text="Service Unavailable"))
    eng = engine(DeepLBackend(stub.client("https://d.test"), auth_key="k"), threshold=2)
    for _ in range(2):
        with pytest.raises(RetryableError, match="503"):
            await eng.translate(["x"], "en", "ko")
    assert len(stub.requests) == 2 * FAST.attempts
    assert eng.breaker.state is State.OPEN
    with pytest.raises(BackendUnavailable):
        await eng.translate(["x"], "en", "ko")
    assert len(stub.requests) == 2 * FAST.attempts


async def test_deepl_bad_key_is_a_rejection_that_trips_the_breaker() -> None:
    stub = Stub(lambda _: httpx.Response(403, json={"message": "Wrong endpoint or key"}))
    eng = engine(DeepLBackend(stub.client("https://d.test"), auth_key="k"), threshold=1)
    with pytest.raises(RequestRejected, match="403"):
        await eng.translate(["x"], "en", "ko")
    assert eng.breaker.state is State.OPEN


# --- Google ----------------------------------------------------------------------------------------

GOOGLE_URL = "https://translation.googleapis.test/language/translate/v2"


def google_ok(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    return httpx.Response(
        200, json={"data": {"translations": [{"translatedText": f"{body['target']}:{q}"} for q in body["q"]]}}
    )


def google_error(status: int, reason: str) -> httpx.Response:
    return httpx.Response(
        status,
        json={
            "error": {
                "code": status,
                "message": reason,
                "errors": [{"reason": reason, "domain": "usageLimits"}],
            }
        },
    )


async def test_google_request_shape_and_128_texts_per_request() -> None:
    stub = Stub(google_ok)
    backend = GoogleBackend(stub.client(), url=GOOGLE_URL, api_key="AIza-test")
    out = await engine(backend).translate(["a"] * 130, "ja", "zh-Hant")
    assert out[0] == "zh-TW:a"
    assert [len(json.loads(r.content)["q"]) for r in stub.requests] == [128, 2]
    request = stub.requests[0]
    assert request.method == "POST" and str(request.url) == GOOGLE_URL
    assert request.headers["x-goog-api-key"] == "AIza-test"
    assert "key=" not in str(request.url)  # the key never appears in a URL
    body = json.loads(request.content)
    assert body["format"] == "text" and body["source"] == "ja" and body["target"] == "zh-TW"


async def test_google_quota_403_is_quota_exhausted_but_rate_403_is_retried() -> None:
    stub = Stub(google_ok)
    stub.queue.append(google_error(403, "userRateLimitExceeded"))
    eng = engine(GoogleBackend(stub.client(), url=GOOGLE_URL, api_key="k"))
    assert await eng.translate(["a"], "en", "ne") == ["ne:a"]
    assert len(stub.requests) == 2
    stub.queue.append(google_error(403, "dailyLimitExceeded"))
    with pytest.raises(QuotaExhausted, match="dailyLimitExceeded"):
        await eng.translate(["b"], "en", "ne")
    assert eng.breaker.state is State.OPEN


async def test_google_429_and_500_are_retried() -> None:
    stub = Stub(google_ok)
    stub.queue += [google_error(429, "rateLimitExceeded"), httpx.Response(500, text="oops")]
    eng = engine(GoogleBackend(stub.client(), url=GOOGLE_URL, api_key="k"))
    assert await eng.translate(["a"], "en", "th") == ["th:a"]
    assert len(stub.requests) == 3


async def test_a_malformed_answer_is_not_taken_for_a_translation() -> None:
    stub = Stub(lambda _: httpx.Response(200, json={"data": {"translations": []}}))
    with pytest.raises(RetryableError, match="unexpected response"):
        await engine(GoogleBackend(stub.client(), url=GOOGLE_URL, api_key="k")).translate(["a"], "en", "th")


async def test_timeouts_are_retried_then_reported() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    stub = Stub(slow)
    with pytest.raises(RetryableError, match="timed out"):
        await engine(GoogleBackend(stub.client(), url=GOOGLE_URL, api_key="k")).translate(["a"], "en", "th")
    assert len(stub.requests) == FAST.attempts


# --- Apertium --------------------------------------------------------------------------------------

PAIRS: dict[str, Any] = {
    "responseData": [
        {"sourceLanguage": "eng", "targetLanguage": "spa"},
        {"sourceLanguage": "spa", "targetLanguage": "eng"},
        {"sourceLanguage": "spa", "targetLanguage": "eng_US"},
        {"sourceLanguage": "spa", "targetLanguage": "por"},
        {"sourceLanguage": "spa", "targetLanguage": "por_BR"},
        {"sourceLanguage": "por", "targetLanguage": "spa"},
    ],
    "responseDetails": None,
    "responseStatus": 200,
}


def apy(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/listPairs":
        return httpx.Response(200, json=PAIRS)
    form = dict(httpx.QueryParams(request.content.decode()))
    return httpx.Response(
        200,
        json={
            "responseData": {"translatedText": f"{form['langpair']}:{form['q']}"},
            "responseDetails": None,
            "responseStatus": 200,
        },
    )


async def test_apertium_maps_pairs_and_chains_them() -> None:
    stub = Stub(apy)
    eng = engine(ApertiumBackend(stub.client("http://apy.test")))
    assert await eng.route("en", "pt-BR") == [("en", "es"), ("es", "pt-BR")]
    assert await eng.route("en", "vi") is None
    assert await eng.translate(["hola"], "es", "pt-BR") == ["spa|por_BR:hola"]  # the Brazilian variant
    assert await eng.translate(["hola"], "es", "en") == ["spa|eng:hola"]
    form = dict(httpx.QueryParams(stub.requests[-1].content.decode()))
    assert form["markUnknown"] == "no" and form["format"] == "txt"
