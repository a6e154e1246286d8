"""What a backend is, and the failures it reports."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import httpx


class BackendError(Exception):
    """A translation request failed; ``backend`` names the engine, ``status`` the HTTP status if any."""

    def __init__(
        self, backend: str, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(f"{backend}: {message}")
        self.backend = backend
        self.status = status
        self.retry_after = retry_after


class RetryableError(BackendError):
    """Worth another try after a pause: 429, 5xx, a timeout or a dropped connection."""


class QuotaExhausted(BackendError):
    """The provider's quota (DeepL 456, Google's quota 403) or our monthly budget is used up."""


class RequestRejected(BackendError):
    """The provider refused this request (bad key, unsupported language, malformed input)."""


class BackendUnavailable(BackendError):
    """The circuit breaker is open: the backend failed repeatedly and is left alone for a while."""


def retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: rare for these APIs; the exponential backoff applies


def error_text(response: httpx.Response, limit: int = 300) -> str:
    """A short description of an error response (its message when it is JSON; never request data)."""
    try:
        body: Any = response.json()
    except ValueError:
        return response.text[:limit]
    if isinstance(body, dict):
        for key in ("message", "error", "explanation"):
            value = body.get(key)
            if isinstance(value, dict):
                value = value.get("message")
            if isinstance(value, str):
                return value[:limit]
    return str(body)[:limit]


class Backend(ABC):
    """One provider's translation endpoint. Languages are this system's codes (``pt-BR``,
    ``zh-Hans``); each backend maps them to its own with ``codes`` (built-ins plus settings)."""

    name: ClassVar[str]
    #: texts per request
    max_texts: ClassVar[int] = 50
    #: characters per request (the sum over the texts); a longer single text goes alone
    max_chars: ClassVar[int] = 5000
    default_codes: ClassVar[Mapping[str, str]] = {}

    def __init__(self, client: httpx.AsyncClient, *, codes: Mapping[str, str] | None = None) -> None:
        self.client = client
        self.codes: dict[str, str] = {**self.default_codes, **(codes or {})}

    def supports(self, language: str) -> bool:
        return language in self.codes

    async def pairs(self) -> set[tuple[str, str]] | None:
        """The direct pairs (in this system's codes), or None when any two supported languages pair."""
        return None

    @abstractmethod
    async def request(self, texts: Sequence[str], source: str, target: str) -> list[str]:
        """Translate ``texts`` with one HTTP request; raise a :class:`BackendError` subclass on failure."""

    def _classify(self, response: httpx.Response) -> None:
        """Raise for the statuses every provider shares: 429 and 5xx retry, other 4xx are rejections."""
        status = response.status_code
        if status < 400:
            return
        detail = error_text(response)
        if status == 429 or status >= 500:
            raise RetryableError(
                self.name,
                f"HTTP {status}: {detail}",
                status=status,
                retry_after=retry_after_seconds(response),
            )
        raise RequestRejected(self.name, f"HTTP {status}: {detail}", status=status)

    def _results(self, values: Any, expected: int) -> list[str]:
        if (
            not isinstance(values, list)
            or len(values) != expected
            or not all(isinstance(v, str) for v in values)
        ):
            raise RetryableError(self.name, f"unexpected response: wanted {expected} translations")
        return list(values)
