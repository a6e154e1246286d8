"""Property tests over HTTP: whatever a client sends, the answer is never a 5xx.

Bad input gets a 4xx problem (naming the field when there is one) or, for batches and files, a 200
with per-item results; the real process answers, on the real database and Kafka.
"""

import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.ingest.domain.csv_rows import COLUMNS
from tests.support.services import ServiceProcess

from .conftest import Keys, bearer, line_signature

_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

#: Values that have broken parsers elsewhere: extreme dates and times, huge numbers, control characters.
NASTY = [
    "9999-12-31T23:59:59-23:00",
    "0001-01-01",
    "0001-01-01T00:00:00+05:00",
    "R99.99.99",
    "令和0年1月1日",
    "平成31年5月1日",
    "１０２０１",
    "AB12345678CD",
    "\x00",
    "{" * 50,
    10**30,
    -(10**20),
    1e308,
    -1,
    0,
    "",
]

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(NASTY),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)

_VALID_EVENT: dict[str, Any] = {
    "type": "hired",
    "event_id": "P-1",
    "reported_at": "2024-04-02T09:00:00+09:00",
    "residence_card_number": "PR00000001OP",
    "nationality": "VN",
    "residence_status": "特定技能1号",
    "hired_on": "2024-04-01",
    "establishment": {"establishment_id": "1", "municipality_code": "10201"},
}
_VALID_NOTICE: dict[str, Any] = {
    "title": "t {date}",
    "body": "b",
    "source_language": "en",
    "category": "other",
    "audience": {"cities": ["102016"]},
}


def _mutated(base: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(lambda key, value: {**base, key: value}, st.sampled_from([*base, "extra"]), _json)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


def _check(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text[:500]
    if response.status_code == 400 and response.headers.get("content-type", "").startswith("text/plain"):
        return  # refused by the HTTP server itself (a header no HTTP parser accepts), before the app
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["status"] == response.status_code and problem["title"]
        if response.status_code == 422:
            assert problem["errors"] and all(e["field"] and e["reason"] for e in problem["errors"])


@pytest.fixture(scope="module")
def client() -> Any:
    with httpx.Client(timeout=30) as c:
        yield c


@_SETTINGS
@given(
    body=st.one_of(
        _json,
        st.builds(
            lambda events: {"events": events}, st.lists(st.one_of(_json, _mutated(_VALID_EVENT)), max_size=5)
        ),
    )
)
def test_json_feed(ingest: ServiceProcess, keys: Keys, client: httpx.Client, body: Any) -> None:
    _check(
        client.post(
            f"{ingest.url}/v1/employment-events",
            content=_dumps(body),
            headers={**bearer(keys.feed), "Content-Type": "application/json"},
        )
    )


@_SETTINGS
@given(body=st.binary(max_size=300))
def test_json_feed_random_bytes(
    ingest: ServiceProcess, keys: Keys, client: httpx.Client, body: bytes
) -> None:
    _check(
        client.post(
            f"{ingest.url}/v1/employment-events",
            content=body,
            headers={**bearer(keys.feed), "Content-Type": "application/json"},
        )
    )


_headers = st.lists(
    st.one_of(
        st.sampled_from([alias for c in COLUMNS for alias in (*c.japanese, *c.english)]), st.text(max_size=8)
    ),
    min_size=1,
    max_size=12,
)
_cells = st.one_of(
    st.text(alphabet=st.sampled_from(list('aZ09,"\r\n 　髙①ｱR.年-/')), max_size=30),
    st.sampled_from(
        ["令和6年4月1日", "AB12345678CD", "VN", "10201", "特定技能1号", "雇入れ", "1234-567890-1"]
    ),
)


@_SETTINGS
@given(
    header=_headers,
    rows=st.lists(st.lists(_cells, max_size=12), max_size=6),
    encoding=st.sampled_from(["utf-8", "cp932", "utf-16", "utf-8-sig"]),
    charset=st.sampled_from([None, "utf-8", "shift_jis", "latin-1", ""]),
)
def test_csv_files(
    ingest: ServiceProcess,
    keys: Keys,
    client: httpx.Client,
    header: list[str],
    rows: list[list[str]],
    encoding: str,
    charset: str | None,
) -> None:
    text = "\r\n".join(",".join(r) for r in [header, *rows])
    body = text.encode(encoding, errors="replace")
    media = "text/csv" + (f"; charset={charset}" if charset is not None else "")
    _check(
        client.post(
            f"{ingest.url}/v1/employment-events/csv",
            content=body,
            headers={**bearer(keys.feed), "Content-Type": media},
        )
    )


@_SETTINGS
@given(body=st.binary(max_size=500))
def test_csv_random_bytes(ingest: ServiceProcess, keys: Keys, client: httpx.Client, body: bytes) -> None:
    _check(
        client.post(
            f"{ingest.url}/v1/employment-events/csv",
            content=body,
            headers={**bearer(keys.feed), "Content-Type": "text/csv"},
        )
    )


@_SETTINGS
@given(
    body=st.one_of(
        _json, _mutated(_VALID_NOTICE), st.builds(lambda a: {**_VALID_NOTICE, "audience": a}, _json)
    )
)
def test_notices(ingest: ServiceProcess, keys: Keys, client: httpx.Client, body: Any) -> None:
    _check(
        client.post(
            f"{ingest.url}/v1/notices",
            content=_dumps(body),
            headers={**bearer(keys.city_staff), "Content-Type": "application/json"},
        )
    )


@_SETTINGS
@given(key=st.text(max_size=300), body=st.just(_VALID_NOTICE))
def test_idempotency_keys(
    ingest: ServiceProcess, keys: Keys, client: httpx.Client, key: str, body: Any
) -> None:
    try:
        headers = {**bearer(keys.prefecture_staff), "Idempotency-Key": key}
        response = client.post(f"{ingest.url}/v1/notices", json=body, headers=headers)
    except (UnicodeEncodeError, ValueError, httpx.LocalProtocolError):
        return  # not sendable as an HTTP header at all
    _check(response)


@_SETTINGS
@given(
    body=st.one_of(
        _json.map(_dumps),
        st.builds(
            lambda events: _dumps({"destination": "U0", "events": events}), st.lists(_json, max_size=4)
        ),
        st.binary(max_size=200),
    )
)
def test_signed_webhooks(ingest: ServiceProcess, client: httpx.Client, body: bytes) -> None:
    response = client.post(
        f"{ingest.url}/line/webhook",
        content=body,
        headers={"Content-Type": "application/json", "X-Line-Signature": line_signature(body)},
    )
    _check(response)


@_SETTINGS
@given(signature=st.text(max_size=60), body=st.binary(max_size=100))
def test_badly_signed_webhooks(
    ingest: ServiceProcess, client: httpx.Client, signature: str, body: bytes
) -> None:
    try:
        response = client.post(
            f"{ingest.url}/line/webhook", content=body, headers={"X-Line-Signature": signature}
        )
    except (UnicodeEncodeError, ValueError, httpx.LocalProtocolError):
        return
    assert response.status_code in (400, 401, 422) or (
        response.status_code == 200 and signature.strip() == line_signature(body)
    )
