"""Keys and roles on every endpoint, the rate limit, health, readiness, metrics and the OpenAPI document."""

from collections.abc import Iterator

import httpx
import pytest

from tests.support.services import ServiceProcess
from tests.support.stack import free_port

from .conftest import Keys, bearer, ingest_env

_ENDPOINTS = [
    ("/v1/employment-events", "feed", "application/json", b'{"events": []}'),
    ("/v1/employment-events/csv", "feed", "text/csv", b"a,b\n"),
    ("/v1/notices", "staff", "application/json", b"{}"),
]


@pytest.mark.parametrize(("path", "role", "media", "body"), _ENDPOINTS)
def test_every_endpoint_wants_a_valid_key_of_its_role(
    ingest: ServiceProcess, keys: Keys, path: str, role: str, media: str, body: bytes
) -> None:
    url = f"{ingest.url}{path}"
    headers = {"Content-Type": media}
    none = httpx.post(url, content=body, headers=headers)
    assert none.status_code == 401 and none.headers["www-authenticate"] == "Bearer"
    assert none.headers["content-type"] == "application/problem+json"
    unknown = httpx.post(url, content=body, headers={**headers, **bearer("gmk_000000000000_nope")})
    assert unknown.status_code == 401 and unknown.json()["title"] == "Invalid API key"
    revoked = httpx.post(url, content=body, headers={**headers, **bearer(keys.revoked)})
    assert revoked.status_code == 401
    wrong = keys.city_staff if role == "feed" else keys.feed
    forbidden = httpx.post(url, content=body, headers={**headers, **bearer(wrong)})
    assert forbidden.status_code == 403 and f"needs a {role} key" in forbidden.json()["detail"]
    ops = httpx.post(url, content=body, headers={**headers, "X-API-Key": keys.ops})
    assert ops.status_code == 403


@pytest.fixture(scope="module")
def strict_ingest(
    service_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    port = free_port()
    env = ingest_env(
        service_env,
        port,
        GUNMA_INGEST_RATE_LIMIT_PER_SECOND="1",
        GUNMA_INGEST_RATE_LIMIT_BURST="3",
        GUNMA_INGEST_CSV_WORKERS="0",
        GUNMA_INGEST_RELAY_ENABLED="false",
        GUNMA_INGEST_MAX_JSON_BODY_BYTES="2048",
    )
    process = ServiceProcess("ingest", env, port, tmp_path_factory.mktemp("strict-ingest-logs"))
    process.start(timeout=120)
    yield process
    process.stop()


def test_the_rate_limit_per_key_answers_429_with_retry_after(
    strict_ingest: ServiceProcess, keys: Keys
) -> None:
    url = f"{strict_ingest.url}/v1/employment-events"
    statuses = [httpx.post(url, json={"events": []}, headers=bearer(keys.feed)).status_code for _ in range(5)]
    assert statuses[:3] == [200, 200, 200]
    assert 429 in statuses[3:]
    limited = httpx.post(url, json={"events": []}, headers=bearer(keys.feed))
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert "per second" in limited.json()["detail"]
    other = httpx.post(url, json={"events": []}, headers=bearer(keys.prefecture_staff))
    assert other.status_code == 403  # another key has its own bucket (and is refused for its role)


def test_body_size_limits(strict_ingest: ServiceProcess, keys: Keys) -> None:
    url = f"{strict_ingest.url}/v1/notices"
    response = httpx.post(
        url,
        content=b'{"title": "' + b"x" * 4096 + b'"}',
        headers={**bearer(keys.city_staff), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert "2048 bytes" in response.json()["detail"]


def test_health_readiness_metrics_and_openapi(ingest: ServiceProcess, keys: Keys) -> None:
    assert httpx.get(f"{ingest.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{ingest.url}/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"postgres": "ok", "kafka": "ok"}
    httpx.post(
        f"{ingest.url}/v1/employment-events", json={"events": [{"type": "x"}]}, headers=bearer(keys.feed)
    )
    metrics = httpx.get(f"{ingest.url}/metrics").text
    assert 'gunma_ingest_inputs_total{outcome="rejected",source="feed_json"}' in metrics
    assert "gunma_ingest_outbox_backlog" in metrics
    assert "gunma_ingest_relay_leader 1.0" in metrics

    spec = httpx.get(f"{ingest.url}/openapi.json").json()
    assert set(spec["paths"]) == {
        "/v1/employment-events",
        "/v1/employment-events/csv",
        "/v1/notices",
        "/line/webhook",
    }
    schemas = spec["components"]["schemas"]
    assert {"EmploymentBatchIn", "HiredIn", "NoticeIn", "AudienceIn", "ProblemDetail", "BatchResult"} <= set(
        schemas
    )
    assert "residence_card_number" in schemas["HiredIn"]["properties"]
    for path, operations in spec["paths"].items():
        for operation in operations.values():
            assert "422" in operation["responses"], path
            problem = operation["responses"]["422"]["content"]["application/problem+json"]["schema"]
            assert problem == {"$ref": "#/components/schemas/ProblemDetail"}
            assert operation["security"]
    csv_body = spec["paths"]["/v1/employment-events/csv"]["post"]["requestBody"]["content"]["text/csv"]
    assert any(column["field"] == "residence_card_number" for column in csv_body["x-accepted-headers"])
