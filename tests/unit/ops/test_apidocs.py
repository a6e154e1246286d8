"""docs/api/: the AsyncAPI and OpenAPI documents are what the code generates, and they are right.

The first test is the CI check: it regenerates every document in memory and fails with a diff when a
committed file differs (run ``python -m services.ops.apidocs`` and commit the result). The others check
that the documents say what the system does (the flow of docs/architecture.md), that they are valid
AsyncAPI 3.0 / OpenAPI 3.1, that building them opens no connection and ignores the environment, and that
FastStream's own ``faststream docs gen`` produces the same document from the same factory.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
import yaml
from faststream._internal.cli.main import cli as faststream_cli
from faststream.specification.asyncapi.v3_0_0.schema import ApplicationSchema
from openapi_spec_validator import validate
from typer.testing import CliRunner

from services.common.topics import Topics
from services.ops import apidocs

T = Topics("")


@pytest.fixture(scope="module")
def rendered() -> dict[str, str]:
    return apidocs.render()


def test_committed_documents_match_the_code(rendered: dict[str, str]) -> None:
    diffs = apidocs.differences(apidocs.DEFAULT_ROOT, rendered)
    assert not diffs, (
        f"docs/api/ differs from the code; run `{apidocs.REGENERATE}` and commit docs/api/:\n\n"
        + "\n\n".join(diffs)
    )


def _asyncapi(rendered: dict[str, str], service: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(rendered[f"asyncapi/{service}.yaml"])
    return document


def _operations(document: dict[str, Any]) -> set[tuple[str, str]]:
    """(receive|send, topic) of every operation."""
    found = set()
    for operation in document["operations"].values():
        channel = operation["channel"]["$ref"].removeprefix("#/channels/")
        found.add((operation["action"], document["channels"][channel]["address"]))
    return found


EXPECTED = {
    "ingest": {
        ("send", T.employment),
        ("send", T.line_events),
        ("send", T.notices),
    },
    "router": {
        ("receive", T.employment),
        ("receive", T.line_events),
        ("receive", T.notices),
        ("receive", T.deliveries_results),
        ("send", T.deliveries_planned),
        ("send", T.deliveries_ready),  # conversation replies
        *(("send", f"{t}.dlq") for t in (T.employment, T.line_events, T.notices, T.deliveries_results)),
    },
    "translate": {
        ("receive", T.deliveries_planned),
        ("receive", T.notices),
        ("send", T.deliveries_ready),
        ("send", f"{T.deliveries_planned}.dlq"),
        ("send", f"{T.notices}.dlq"),
    },
    "sender": {
        ("receive", T.deliveries_ready),
        ("send", T.deliveries_results),
        ("send", f"{T.deliveries_ready}.dlq"),
    },
}


@pytest.mark.parametrize("service", sorted(EXPECTED))
def test_asyncapi_shows_the_flow_of_the_architecture(service: str, rendered: dict[str, str]) -> None:
    document = _asyncapi(rendered, service)
    assert _operations(document) == EXPECTED[service]
    assert document["asyncapi"] == "3.0.0"
    assert document["servers"]["development"]["host"] == "kafka:9092"


def test_asyncapi_payloads_are_the_contracts(rendered: dict[str, str]) -> None:
    sender = _asyncapi(rendered, "sender")
    schemas = sender["components"]["schemas"]
    # The consumer reads batches: an array of the record contract.
    batch = next(
        v for k, v in schemas.items() if k.startswith("deliveries.ready") and v.get("type") == "array"
    )
    assert batch["items"] == {"$ref": "#/components/schemas/DeliveryReady"}
    assert "recipients" in schemas["DeliveryReady"]["properties"]
    assert schemas["DeliveryResult"]["properties"]["type"]["const"] == "delivery.result"
    ingest = _asyncapi(rendered, "ingest")
    union = next(v for k, v in ingest["components"]["schemas"].items() if k.startswith("employment.v1"))
    assert union["discriminator"] == "type"
    assert {ref["$ref"].rsplit("/", 1)[1] for ref in union["oneOf"]} == {
        "WorkerHired",
        "WorkerSeparated",
        "ResidenceStatusChanged",
    }


@pytest.mark.parametrize("service", sorted(EXPECTED))
def test_asyncapi_documents_are_valid_asyncapi_3(service: str, rendered: dict[str, str]) -> None:
    """Parsed by FastStream's AsyncAPI 3.0 model, as `faststream docs serve` does with a file."""
    parsed = ApplicationSchema.model_validate(_asyncapi(rendered, service))
    assert parsed.info.title.startswith("Gunma Model")


@pytest.mark.parametrize("name", ["ingest", "router", "translate", "line_sandbox"])
def test_openapi_documents_are_valid_openapi(name: str, rendered: dict[str, str]) -> None:
    document = json.loads(rendered[f"openapi/{name}.json"])
    validate(document)
    assert document["paths"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            security = operation.get("security") or document.get("security")
            if path != "/line/webhook":
                assert security, f"{method.upper()} {path}: no authentication documented"
            for status, response in operation["responses"].items():
                if status.startswith("4"):
                    assert "application/problem+json" in response.get("content", {}), (
                        f"{method.upper()} {path} {status}: errors are problem details"
                    )


def test_openapi_covers_the_apis_the_cli_and_staff_use(rendered: dict[str, str]) -> None:
    ingest = json.loads(rendered["openapi/ingest.json"])["paths"]
    assert {"/v1/employment-events", "/v1/employment-events/csv", "/v1/notices", "/line/webhook"} <= set(
        ingest
    )
    router = json.loads(rendered["openapi/router.json"])["paths"]
    assert {"/v1/audience/count", "/v1/notices", "/v1/notices/{notice_id}", "/v1/stats"} <= set(router)
    sandbox = json.loads(rendered["openapi/line_sandbox.json"])["paths"]
    assert sandbox and all(path.startswith("/admin/") for path in sandbox), "the admin API only"


def test_building_documents_opens_no_connection(
    monkeypatch: pytest.MonkeyPatch, rendered: dict[str, str]
) -> None:
    def refuse(*_: Any, **__: Any) -> None:
        raise AssertionError("a document must be built without connecting")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    assert apidocs.render() == rendered


def test_the_environment_does_not_change_a_document(
    monkeypatch: pytest.MonkeyPatch, rendered: dict[str, str]
) -> None:
    monkeypatch.setenv("GUNMA_KAFKA_BOOTSTRAP_SERVERS", "10.0.0.1:9092")
    monkeypatch.setenv("GUNMA_KAFKA_TOPIC_PREFIX", "staging.")
    monkeypatch.setenv("GUNMA_ROUTER_EMPLOYMENT_CONSUMERS", "4")
    monkeypatch.setenv("GUNMA_TRANSLATE_CONSUMER_GROUP", "other")
    selected = [
        d for d in apidocs.documents() if d.path in ("asyncapi/router.yaml", "asyncapi/translate.yaml")
    ]
    assert apidocs.render(selected) == {d.path: rendered[d.path] for d in selected}


def test_check_mode_shows_the_diff_and_the_command(tmp_path: Path, rendered: dict[str, str]) -> None:
    assert apidocs.write(tmp_path, rendered) == sorted(rendered, key=list(rendered).index)
    assert apidocs.write(tmp_path, rendered) == [], "unchanged files are not rewritten"
    assert apidocs.differences(tmp_path, rendered) == []
    sender = tmp_path / "asyncapi" / "sender.yaml"
    sender.write_text(sender.read_text().replace("deliveries.results.v1", "deliveries.results.v0"))
    (tmp_path / "openapi" / "old.json").write_text("{}")
    (tmp_path / "openapi" / "router.json").unlink()
    diffs = apidocs.differences(tmp_path, rendered)
    assert len(diffs) == 3
    assert "docs/api/openapi/old.json: no longer generated; delete it" in diffs
    assert any(
        "-        topic: deliveries.results.v0" in d and "+        topic: deliveries.results.v1" in d
        for d in diffs
    )
    assert any("docs/api/openapi/router.json (missing)" in d for d in diffs)

    short = apidocs.differences(tmp_path, rendered, limit=5)
    assert any(
        d.startswith("--- docs/api/asyncapi/sender.yaml") and d.endswith("more diff lines") for d in short
    )


def test_main_check_and_write(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    rendered: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(apidocs, "render", lambda: rendered)
    assert apidocs.main(["--check", "--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "8 API document(s) differ from the code; run: python -m services.ops.apidocs" in err
    assert apidocs.main(["--root", str(tmp_path)]) == 0
    assert apidocs.main(["--check", "--root", str(tmp_path)]) == 0
    assert "8 API documents match the code" in capsys.readouterr().err


def test_faststream_docs_gen_makes_the_same_document(tmp_path: Path, rendered: dict[str, str]) -> None:
    out = tmp_path / "sender.yaml"
    result = CliRunner().invoke(
        faststream_cli,
        ["docs", "gen", "--factory", "services.sender.asyncapi:asyncapi_app", "--yaml", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(out.read_text()) == yaml.safe_load(rendered["asyncapi/sender.yaml"])
