"""The CLI's HTTP commands (notices, audience, stats) against answers in the services' documented shapes.

The requests go through httpx.MockTransport: these tests check what the CLI sends (path, headers, body)
and how it shows answers and refusals. tests/integration/ops/test_api_cli.py runs them against the
real ingest and router.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.ops.cli import http, main

KEY = "gmk_0123456789abcdef_secretsecretsecret"
NOTICE = "0b6f4c9e-6a0e-4c55-9a43-0b1d3b1e2f10"


@dataclass
class Fake:
    """A programmable service: ``answer(request) -> Response``; every request is kept."""

    answer: Callable[[httpx.Request], httpx.Response]
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        return self.answer(request)

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]

    def body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)


@pytest.fixture
def service(
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[[Callable[[httpx.Request], httpx.Response]], Fake]:
    monkeypatch.setenv("GUNMA_OPS_API_KEY", KEY)
    monkeypatch.setenv("GUNMA_OPS_INGEST_URL", "http://ingest.test")
    monkeypatch.setenv("GUNMA_OPS_ROUTER_URL", "http://router.test/")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setattr("services.ops.cli.http.time.sleep", lambda _: None)

    def install(answer: Callable[[httpx.Request], httpx.Response]) -> Fake:
        fake = Fake(answer)
        monkeypatch.setattr(http, "TRANSPORT", httpx.MockTransport(fake))
        return fake

    return install


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(args)
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def problem(
    status: int, title: str, detail: str, errors: list[dict[str, str]] | None = None
) -> httpx.Response:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if errors:
        body["errors"] = errors
    return httpx.Response(status, json=body, headers={"Content-Type": "application/problem+json"})


def accepted(request: httpx.Request) -> httpx.Response:
    sent = json.loads(request.content)
    return httpx.Response(
        202,
        json={
            "notice_id": NOTICE,
            "priority": sent["priority"],
            "send_at": sent["send_at"],
            "audience": {**sent["audience"], "cities": sent["audience"]["cities"]},
            "scope_cities": [],
        },
    )


# --- notices create ----------------------------------------------------------------------------------


def test_create_posts_the_notice_with_an_idempotency_key(
    service: Callable[..., Fake], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    fake = service(accepted)
    body = tmp_path / "body.txt"
    body.write_text("在留期間の更新は{date}までに。\n", encoding="utf-8")
    day = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    code, out, err = run(
        [
            "notices", "create", "--category", "immigration", "--title", "在留期間の更新",
            "--body-file", str(body), "--city", "10201", "--city", "102024", "--nationality", "ベトナム",
            "--residence-status", "特定技能1号", "--language", "vi", "--send-at", f"{day}T09:00",
        ],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    assert out.strip() == NOTICE, "stdout is the notice id alone"
    request = fake.last
    assert request.method == "POST" and request.url == "http://ingest.test/v1/notices"
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert uuid.UUID(request.headers["Idempotency-Key"])
    sent = fake.body()
    assert sent["title"] == "在留期間の更新" and sent["body"] == "在留期間の更新は{date}までに。"
    assert sent["category"] == "immigration" and sent["source_language"] == "ja"
    assert sent["send_at"] == f"{day}T09:00:00+09:00", "no offset: Japan time"
    # Normalised as ingest reads them: 6-digit codes, ISO codes, status codes.
    assert sent["audience"] == {
        "cities": ["102016", "102024"],
        "nationalities": ["VN"],
        "languages": ["vi"],
        "residence_statuses": ["specified_skilled_worker_1"],
        "employers": [],
    }
    assert "accepted" in err and request.headers["Idempotency-Key"] in err


def test_create_retries_a_lost_answer_with_the_same_key(
    service: Callable[..., Fake], capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[str] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        calls.append(request.headers["Idempotency-Key"])
        if len(calls) == 1:
            raise httpx.ReadTimeout("lost", request=request)
        if len(calls) == 2:
            return problem(503, "Service unavailable", "try again")
        response = accepted(request)
        response.headers["Idempotent-Replayed"] = "true"
        return response

    service(flaky)
    code, out, err = run(
        ["notices", "create", "--category", "tax", "--title", "T", "--body", "B", "--idempotency-key", "k-1"],
        capsys,
    )
    assert code == 0, err
    assert calls == ["k-1", "k-1", "k-1"]
    assert "already accepted" in err and out.strip() == NOTICE


def test_create_checks_locally_and_names_the_option(
    service: Callable[..., Fake], capsys: pytest.CaptureFixture[str]
) -> None:
    fake = service(accepted)
    code, _, err = run(
        ["notices", "create", "--category", "tax", "--title", "T", "--body", "{name} pays", "--city", "1"],
        capsys,
    )
    assert code == 1
    assert "--city #1" in err and "body: unknown placeholder {name}" in err
    assert "Traceback" not in err and not fake.requests, "nothing sent"
    code, _, err = run(["notices", "create", "--category", "tax", "--body", "B"], capsys)
    assert code == 1 and "missing --title" in err
    code, _, err = run(
        ["notices", "create", "--category", "tax", "--title", "T", "--body", "B", "--send-at", "soon"], capsys
    )
    assert code == 1 and "--send-at" in err and "ISO 8601" in err
    code, _, err = run(
        [
            "notices",
            "create",
            "--category",
            "tax",
            "--title",
            "T",
            "--body",
            "B",
            "--send-at",
            "2001-01-01T00:00Z",
        ],
        capsys,
    )
    assert code == 1 and "--send-at: must be in the future" in err
    code, _, err = run(["notices", "create", "--category", "weather", "--title", "T", "--body", "B"], capsys)
    assert code == 2 and "weather" in err


def test_dry_run_prints_the_request_and_sends_nothing(
    service: Callable[..., Fake], capsys: pytest.CaptureFixture[str]
) -> None:
    fake = service(accepted)
    code, out, err = run(
        [
            "notices",
            "create",
            "--category",
            "garbage",
            "--title",
            "T",
            "--body",
            "B",
            "--priority",
            "emergency",
            "--dry-run",
        ],
        capsys,
    )
    assert code == 0, err
    assert json.loads(out)["priority"] == "emergency"
    assert not fake.requests


def test_refusals_are_one_sentence_with_the_fields(
    service: Callable[..., Fake], capsys: pytest.CaptureFixture[str]
) -> None:
    service(
        lambda _: problem(
            403,
            "City outside the key's scope",
            "this key may target only 102016",
            [{"field": "audience.cities[0]", "reason": "102024 is outside this key's cities (102016)"}],
        )
    )
    code, out, err = run(
        ["notices", "create", "--category", "tax", "--title", "T", "--body", "B", "--city", "102024"], capsys
    )
    assert code == 1 and not out
    assert "ingest refused (HTTP 403 City outside the key's scope): this key may target only 102016" in err
    assert "audience.cities[0]: 102024 is outside" in err
    assert "Traceback" not in err

    service(lambda _: problem(401, "Invalid API key", "the key is unknown or revoked"))
    code, _, err = run(["stats"], capsys)
    assert code == 1 and "HTTP 401" in err and "GUNMA_OPS_API_KEY" in err

    service(lambda _: httpx.Response(500, text="<html>Internal Server Error</html>"))
    code, _, err = run(["stats"], capsys)
    assert code == 1 and "router answered HTTP 500: <html>Internal Server Error</html>" in err


def test_unreachable_service_and_missing_key(
    service: Callable[..., Fake], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=request)

    fake = service(down)
    code, _, err = run(["stats"], capsys)
    assert code == 1
    assert "cannot reach router at http://router.test: Connection refused (set GUNMA_OPS_ROUTER_URL" in err
    assert len(fake.requests) == 3, "a GET is retried"
    assert "Traceback" not in err

    monkeypatch.delenv("GUNMA_OPS_API_KEY")
    code, _, err = run(["audience", "count"], capsys)
    assert code == 1 and "no API key: set GUNMA_OPS_API_KEY or pass --api-key" in err

    monkeypatch.setenv("GUNMA_OPS_ROUTER_URL", "router:8002")
    code, _, err = run(["stats"], capsys)
    assert code == 2 and "GUNMA_OPS_ROUTER_URL" in err and "http://" in err


# --- notices status and cancel -------------------------------------------------------------------


def _status(state: str = "planned", sent: int = 900, failed: int = 0) -> dict[str, Any]:
    vi_sent, pt_sent = min(sent, 600), max(sent - 600, 0)
    languages: list[dict[str, Any]] = [
        {"language": "vi", "batches": 2, "published_batches": 2, "planned": 600, "sent": vi_sent,
         "failed": failed, "unreachable": 3, "pending": max(600 - vi_sent - failed, 0)},
        {"language": "pt-BR", "batches": 1, "published_batches": 1, "planned": 300, "sent": pt_sent,
         "failed": 0, "unreachable": 0, "pending": 300 - pt_sent},
    ]  # fmt: skip
    keys = ("batches", "published_batches", "planned", "sent", "failed", "unreachable", "pending")
    return {
        "notice_id": NOTICE, "state": state, "priority": "normal", "category": "tax", "title": "住民税",
        "submitted_by": "0123456789abcdef", "submitted_at": "2026-11-27T01:00:00+00:00", "send_at": None,
        "release_at": "2026-11-27T01:00:00+00:00", "held_reason": None,
        "released_at": "2026-11-27T01:00:01+00:00", "planned_at": "2026-11-27T01:00:02+00:00",
        "cancelled_at": None, "recipients": 900, "batches": 3, "dropped_cities": [], "audience": {},
        "totals": {k: sum(int(row[k]) for row in languages) for k in keys}, "languages": languages,
    }  # fmt: skip


def test_status_of_one_notice(service: Callable[..., Fake], capsys: pytest.CaptureFixture[str]) -> None:
    fake = service(lambda _: httpx.Response(200, json=_status(sent=700, failed=5)))
    code, out, err = run(["notices", "status", NOTICE.upper()], capsys)
    assert code == 0, err
    assert fake.last.url == f"http://router.test/v1/notices/{NOTICE}"
    assert "住民税" in out and "pt-BR" in out and "total" in out
    total_line = next(line for line in out.splitlines() if line.strip("│ ").startswith("total"))
    cells = [cell.strip() for cell in total_line.strip("│ ").split("│")]
    expected = _status(sent=700, failed=5)["totals"]
    assert cells == ["total", *(str(expected[k]) for k in ("batches", "published_batches", "planned", "sent",
                     "failed", "unreachable", "pending"))]  # fmt: skip
    code, out, _ = run(["notices", "status", NOTICE, "--json"], capsys)
    assert json.loads(out)["totals"]["sent"] == 700

    code, _, err = run(["notices", "status", "not-a-uuid"], capsys)
    assert code == 1 and "is not a notice id" in err


def test_status_lists_the_latest_notices(
    service: Callable[..., Fake], capsys: pytest.CaptureFixture[str]
) -> None:
    fields = (
        "notice_id",
        "state",
        "priority",
        "category",
        "title",
        "submitted_at",
        "release_at",
        "recipients",
    )
    summary = {k: v for k, v in _status().items() if k in fields}
    fake = service(lambda _: httpx.Response(200, json=[summary]))
    code, out, err = run(["notices", "status", "--state", "planned", "--limit", "5"], capsys)
    assert code == 0, err
    assert fake.last.url.params["state"] == "planned" and fake.last.url.params["limit"] == "5"
    assert NOTICE in out and "1 notices" in out and "JST" in out


def test_watch_waits_for_the_router_then_until_nothing_is_pending(
    service: Callable[..., Fake], capsys: pytest.CaptureFixture[str]
) -> None:
    answers = iter(
        [
            problem(404, "Notice not found", "no notice"),
            httpx.Response(200, json=_status(state="publishing", sent=0)),
            httpx.Response(200, json=_status(sent=600)),
            httpx.Response(200, json=_status(sent=900)),
        ]
    )
    fake = service(lambda _: next(answers))
    code, out, err = run(["notices", "status", NOTICE, "--watch", "--interval", "0.2"], capsys)
    assert code == 0, err
    assert len(fake.requests) == 4
    assert "900" in out and "pt-BR" in out


def test_watch_gives_up_after_its_timeout(
    service: Callable[..., Fake], capsys: pytest.CaptureFixture[str]
) -> None:
    service(lambda _: httpx.Response(200, json=_status(state="publishing", sent=0)))
    code, _, err = run(
        ["notices", "status", NOTICE, "--watch", "--interval", "0.2", "--timeout", "1"], capsys
    )
    assert code == 1 and "still not finished after 1 s" in err


def test_cancel(service: Callable[..., Fake], capsys: pytest.CaptureFixture[str]) -> None:
    fake = service(lambda _: httpx.Response(200, json={"notice_id": NOTICE, "state": "cancelled"}))
    code, _, err = run(["notices", "cancel", NOTICE], capsys)
    assert code == 0 and "cancelled" in err
    assert fake.last.method == "POST" and fake.last.url.path == f"/v1/notices/{NOTICE}/cancel"
    service(lambda _: problem(409, "Too late to cancel", "the notice is already planned"))
    code, _, err = run(["notices", "cancel", NOTICE], capsys)
    assert code == 1 and "HTTP 409 Too late to cancel): the notice is already planned" in err


# --- audience count and stats ----------------------------------------------------------------------------


def test_audience_count_tables(service: Callable[..., Fake], capsys: pytest.CaptureFixture[str]) -> None:
    answer = {
        "total": 5,
        "by_language": {"vi": 3, "pt-BR": 2},
        "by_city": [
            {"code": "102016", "name_ja": "前橋市", "name_en": "Maebashi", "count": 4},
            {"code": None, "name_ja": None, "name_en": None, "count": 1},
        ],
        "cells": [
            {"language": "vi", "city": "102016", "count": 3},
            {"language": "pt-BR", "city": "102016", "count": 1},
            {"language": "pt-BR", "city": None, "count": 1},
        ],
        "scope_cities": None,
    }
    fake = service(lambda _: httpx.Response(200, json=answer))
    code, out, err = run(["audience", "count", "--city", "10201", "--category", "tax", "--cells"], capsys)
    assert code == 0, err
    assert fake.last.url == "http://router.test/v1/audience/count"
    empty: dict[str, list[str]] = {
        "nationalities": [],
        "languages": [],
        "residence_statuses": [],
        "employers": [],
    }
    assert fake.body() == {"audience": {"cities": ["102016"], **empty}, "category": "tax"}
    assert "5 subscribers" in out and "Maebashi" in out and "60.0%" in out and "(unknown)" in out
    assert "by language and city" in out

    code, _, err = run(["audience", "count", "--language", "klingon"], capsys)
    assert code == 1 and "--language #1: unsupported language" in err


def test_stats_tables(service: Callable[..., Fake], capsys: pytest.CaptureFixture[str]) -> None:
    answer = {
        "as_of": "2026-11-27T07:00:00+00:00",
        "scope_cities": ["102016"],
        "totals": {"registered_workers": 10, "companies": 2, "linked_workers": 4, "known_workers": 40,
                   "known_companies": 5},
        "by_city": [{"code": "102016", "name_ja": "前橋市", "name_en": "Maebashi", "prefecture": "Gunma",
                     "registered_workers": 10, "companies": 2, "linked_workers": 4, "known_workers": 40,
                     "known_companies": 5}],
        "by_language": [{"language": "vi", "registered_workers": 10, "companies": 2, "linked_workers": 4}],
        "by_employer": [{"establishment_id": "1234-567890-1", "name": "Maebashi Foods", "city_code": "102016",
                         "city_name": "Maebashi", "registered_workers": 10, "linked_workers": 4}],
        "erasures": 0,
    }  # fmt: skip
    fake = service(lambda _: httpx.Response(200, json=answer))
    code, out, err = run(["stats", "--employers", "5"], capsys)
    assert code == 0, err
    assert fake.last.url.params["employers"] == "5"
    assert "25.0%" in out and "Maebashi Foods" in out and "this key's cities: 102016" in out


def test_csv_push_uses_the_ops_settings(
    service: Callable[..., Fake],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The upload itself is services/ingest/cli.py's (tested with ingest); here: what it is given."""
    given: dict[str, Any] = {}

    def push_csv(**kwargs: Any) -> None:
        given.update(kwargs)

    monkeypatch.setattr("services.ingest.cli.push_csv", push_csv)
    extract = tmp_path / "extract.csv"
    extract.write_text("a,b\n")
    code, _, err = run(["csv", "push", str(extract), "--charset", "shift_jis", "--show", "3"], capsys)
    assert code == 0, err
    assert given["file"] == extract and given["url"] == "http://ingest.test" and given["key"] == KEY
    assert given["charset"] == "shift_jis" and given["show"] == 3 and given["report"] == "problems"
    code, _, err = run(["csv", "push", str(tmp_path / "missing.csv")], capsys)
    assert code == 2 and "does not exist" in err
