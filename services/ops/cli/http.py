"""Calling the services' HTTP APIs from the CLI: base URLs, the API key, and errors as one sentence.

The URLs and the key come from ``--ingest-url`` / ``--router-url`` / ``--api-key`` or from
``GUNMA_OPS_INGEST_URL``, ``GUNMA_OPS_ROUTER_URL``, ``GUNMA_OPS_API_KEY`` (OpsSettings). A refusal is a
:class:`CliError` built from the service's problem details (RFC 9457): the title, the detail and up to
ten ``field: reason`` lines, never a traceback. Safe requests (GET, and POSTs carrying an
Idempotency-Key) are retried on connection errors and 502/503/504.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any

import httpx
import orjson
import typer

from .common import CliError, State

USER_AGENT = "gunma-ops-cli/0.1"
#: Set by tests to answer requests without a network (httpx.MockTransport).
TRANSPORT: httpx.BaseTransport | None = None

IngestUrlOption = Annotated[
    str | None,
    typer.Option(
        "--ingest-url", help="ingest's base URL (default: $GUNMA_OPS_INGEST_URL)", show_default=False
    ),
]
RouterUrlOption = Annotated[
    str | None,
    typer.Option(
        "--router-url", help="router's base URL (default: $GUNMA_OPS_ROUTER_URL)", show_default=False
    ),
]
ApiKeyOption = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        help="API key gmk_... (default: $GUNMA_OPS_API_KEY; prefer the variable: shells keep history)",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="print the service's JSON answer instead of tables")]

_RETRIED_STATUS = frozenset({502, 503, 504})


class ApiError(CliError):
    """A service refused the request; ``status`` is its HTTP status."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Api:
    """One service's API as this invocation reaches it."""

    name: str
    base_url: str
    key: str
    timeout: float
    variable: str  # the environment variable of the URL, named in errors

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        retry: bool | None = None,
        attempts: int = 3,
    ) -> httpx.Response:
        """The answer (2xx), or a CliError that says what went wrong and what to do."""
        retry = method == "GET" if retry is None else retry
        content = orjson.dumps(json) if json is not None else None
        sent = {"Authorization": f"Bearer {self.key}", "User-Agent": USER_AGENT, **(headers or {})}
        if content is not None:
            sent["Content-Type"] = "application/json"
        with self._client() as client:
            for attempt in range(1, attempts + 1):
                last = attempt == attempts or not retry
                try:
                    response = client.request(method, path, content=content, params=params, headers=sent)
                except httpx.TimeoutException:
                    if last:
                        raise CliError(
                            f"{self.name} at {self.base_url} did not answer within {self.timeout:g} s"
                        ) from None
                except httpx.TransportError as error:
                    if last:
                        raise CliError(
                            f"cannot reach {self.name} at {self.base_url}: {error or type(error).__name__} "
                            f"(set {self.variable} or --{self.name}-url)"
                        ) from None
                else:
                    if response.status_code not in _RETRIED_STATUS or last:
                        break
                time.sleep(min(4.0, 0.5 * 2**attempt))
        if response.is_success:
            return response
        raise self.refusal(response)

    def refusal(self, response: httpx.Response) -> ApiError:
        return ApiError(describe_refusal(self.name, response), status=response.status_code)

    @contextmanager
    def _client(self) -> Iterator[httpx.Client]:
        with httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 10.0)),
            transport=TRANSPORT,
            trust_env=True,
        ) as client:
            yield client


def describe_refusal(service: str, response: httpx.Response) -> str:
    """One sentence from a problem response (plus its field errors), or the status and the start of the
    body when the answer is not a problem document."""
    status = response.status_code
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        text = " ".join(response.text.split())[:300]
        return f"{service} answered HTTP {status}" + (f": {text}" if text else "")
    title = str(body.get("title") or response.reason_phrase or "error")
    detail = str(body.get("detail") or "")
    hint = {
        401: " (set GUNMA_OPS_API_KEY or --api-key; create one with 'gunma keys create')",
        429: " (rate limited: try again shortly)",
    }.get(status, "")
    message = f"{service} refused (HTTP {status} {title})" + (f": {detail}" if detail else "") + hint
    errors = body.get("errors")
    if isinstance(errors, list) and errors:
        lines = [
            f"  {e.get('field', '?')}: {e.get('reason', '?')}" for e in errors[:10] if isinstance(e, dict)
        ]
        more = len(errors) - len(lines)
        if more > 0:
            lines.append(f"  ... and {more} more")
        message += "\n" + "\n".join(lines)
    return message


def _key(state: State, given: str | None) -> str:
    if given is not None and given.strip():
        return given.strip()
    configured = state.settings.api_key
    if configured is not None and configured.get_secret_value().strip():
        return configured.get_secret_value().strip()
    raise CliError(
        "no API key: set GUNMA_OPS_API_KEY or pass --api-key (create one with 'gunma keys create')"
    )


def _url(given: str | None, configured: str, option: str) -> str:
    url = (given or configured).strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise CliError(f"{option}: {url!r} is not an http:// or https:// URL")
    return url


def ingest(state: State, url: str | None, key: str | None, *, timeout: float | None = None) -> Api:
    return Api(
        "ingest",
        _url(url, state.settings.ingest_url, "--ingest-url"),
        _key(state, key),
        timeout or state.settings.http_timeout_seconds,
        "GUNMA_OPS_INGEST_URL",
    )


def router(state: State, url: str | None, key: str | None) -> Api:
    return Api(
        "router",
        _url(url, state.settings.router_url, "--router-url"),
        _key(state, key),
        state.settings.http_timeout_seconds,
        "GUNMA_OPS_ROUTER_URL",
    )
