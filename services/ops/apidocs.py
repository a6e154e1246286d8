"""API documents generated from the code: AsyncAPI of every Kafka service, OpenAPI of every HTTP API.

    python -m services.ops.apidocs            write docs/api/ from the code
    python -m services.ops.apidocs --check    compare docs/api/ with the code; exit 1 with a diff

Nothing connects: the AsyncAPI documents come from each service's real consumer registration run on a
documentation runtime (``services/<service>/asyncapi.py``, :mod:`services.common.asyncapi`), the
OpenAPI documents from the FastAPI apps built but never started. Settings come from their defaults, not
the environment, and keys are sorted, so the same code always gives the same bytes: CI runs the check
(tests/unit/ops/test_apidocs.py) and fails when a change to a contract, a consumer or a route was not
followed by a regeneration.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from services.common import asyncapi

REPO = Path(__file__).resolve().parents[2]
DEFAULT_ROOT = REPO / "docs" / "api"
REGENERATE = "python -m services.ops.apidocs"

_API_KEY_SCHEMES: dict[str, dict[str, str]] = {
    "bearerKey": {"type": "http", "scheme": "bearer", "description": "An API key: gmk_<id>_<secret>"},
    "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
}


@dataclass(frozen=True, slots=True)
class Document:
    """One generated file: its path under docs/api/ and how to build its text."""

    path: str
    build: Callable[[], str]


# --- AsyncAPI --------------------------------------------------------------------------------------


def _asyncapi(module: str) -> Callable[[], str]:
    def build() -> str:
        factory = importlib.import_module(f"services.{module}.asyncapi").asyncapi_app
        return asyncapi.to_yaml(factory())

    return build


# --- OpenAPI ---------------------------------------------------------------------------------------


def to_json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def with_api_keys(document: dict[str, Any], prefix: str = "/v1/") -> dict[str, Any]:
    """Declare the API-key schemes of services/common/auth.py on every operation under ``prefix``.

    The keys are checked by a dependency that reads the headers itself, which FastAPI cannot see.
    """
    components = document.setdefault("components", {})
    components.setdefault("securitySchemes", {}).update(_API_KEY_SCHEMES)
    for path, operations in document.get("paths", {}).items():
        if path.startswith(prefix):
            for operation in operations.values():
                operation.setdefault("security", [{"bearerKey": []}, {"apiKeyHeader": []}])
    return document


def ingest_openapi() -> dict[str, Any]:
    from services.ingest.app import create_app
    from services.ingest.settings import IngestSettings

    settings = asyncapi.documentation_settings(
        IngestSettings,
        worker_id_pepper=asyncapi.PLACEHOLDER_SECRET,
        line_channel_secret=asyncapi.PLACEHOLDER_SECRET,
    )
    return create_app(settings).openapi()  # declares its own security schemes


def router_openapi() -> dict[str, Any]:
    from services.router.app import create_app
    from services.router.settings import RouterSettings

    app = create_app(asyncapi.documentation_settings(RouterSettings))
    return with_problems(
        with_api_keys(_titled(app, "The router's staff API: audiences, notices, statistics, reminders."))
    )


def translate_openapi() -> dict[str, Any]:
    from services.translate.app import create_app
    from services.translate.settings import TranslateSettings

    app = create_app(asyncapi.documentation_settings(TranslateSettings))
    return with_problems(
        with_api_keys(
            _titled(app, "The translate service's staff API: translations, approvals, glossary, previews.")
        )
    )


def line_sandbox_openapi() -> dict[str, Any]:
    """The sandbox's own admin API (its Messaging API endpoints are LINE's, documented by LINE)."""
    from services.line_sandbox.app import create_app
    from services.line_sandbox.settings import LineSandboxSettings

    app = create_app(
        asyncapi.documentation_settings(
            LineSandboxSettings,
            channel_access_tokens=asyncapi.PLACEHOLDER_SECRET,
            channel_secret=asyncapi.PLACEHOLDER_SECRET,
            admin_token=asyncapi.PLACEHOLDER_SECRET,
        )
    )
    document = with_problems(only_paths(app.openapi(), "/admin/"), authenticated="/admin/")
    document["info"] = {
        "title": f"{app.title}: admin API",
        "version": asyncapi.DOCUMENT_VERSION,
        "description": (
            "Inspect and steer the LINE sandbox: simulated workers (follow, message, postback, unfollow "
            "webhooks to ingest), inboxes, notices and batches as delivered, injected faults, rate "
            "limits and quota. Authentication: `Authorization: Bearer <GUNMA_SANDBOX_ADMIN_TOKEN>`."
        ),
    }
    document.setdefault("components", {})["securitySchemes"] = {
        "adminToken": {"type": "http", "scheme": "bearer", "description": "GUNMA_SANDBOX_ADMIN_TOKEN"}
    }
    document["security"] = [{"adminToken": []}]
    return document


_PROBLEM = {"$ref": "#/components/schemas/ProblemDetail"}
_PROBLEM_STATUSES = {
    401: "No API key, or an unknown or revoked one",
    403: "The key's role (or its municipalities) does not allow this",
    422: "Invalid input: each field and the reason",
}


def with_problems(document: dict[str, Any], authenticated: str = "/v1/") -> dict[str, Any]:
    """Errors as the services send them: RFC 9457 problem details (services/common/problems.py), not
    FastAPI's default validation body; 401 and 403 on the routes that need a key."""
    from services.ingest.http_common import ProblemDetail

    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    body = ProblemDetail.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(body.pop("$defs", {}))
    schemas["ProblemDetail"] = body
    for path, operations in document.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            wanted = {422} if "422" in responses else set()
            if path.startswith(authenticated):
                wanted |= {401, 403}
            for status in sorted(wanted):
                responses[str(status)] = {
                    "description": _PROBLEM_STATUSES[status],
                    "content": {"application/problem+json": {"schema": _PROBLEM}},
                }
    reached = _reachable(document)
    for name in ("HTTPValidationError", "ValidationError"):
        if name not in reached:
            schemas.pop(name, None)
    return document


def _reachable(document: dict[str, Any]) -> set[str]:
    schemas: dict[str, Any] = document.get("components", {}).get("schemas", {})
    kept: set[str] = set()
    pending = _references(document.get("paths", {}))
    while pending:
        name = pending.pop()
        if name in kept or name not in schemas:
            continue
        kept.add(name)
        pending |= _references(schemas[name])
    return kept


def only_paths(document: dict[str, Any], prefix: str) -> dict[str, Any]:
    """The document with only the paths under ``prefix`` and the schemas they reach."""
    paths = {path: item for path, item in document.get("paths", {}).items() if path.startswith(prefix)}
    schemas: dict[str, Any] = document.get("components", {}).get("schemas", {})
    kept: set[str] = set()
    pending = _references(paths)
    while pending:
        name = pending.pop()
        if name in kept or name not in schemas:
            continue
        kept.add(name)
        pending |= _references(schemas[name])
    pruned = {**document, "paths": paths}
    pruned["components"] = {
        **document.get("components", {}),
        "schemas": {n: schemas[n] for n in sorted(kept)},
    }
    return pruned


def _references(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            found.add(ref.rsplit("/", 1)[1])
        for value in node.values():
            found |= _references(value)
    elif isinstance(node, list):
        for value in node:
            found |= _references(value)
    return found


def _titled(app: FastAPI, description: str) -> dict[str, Any]:
    document = app.openapi()
    document["info"]["version"] = asyncapi.DOCUMENT_VERSION
    document["info"].setdefault("description", description)
    return document


def _openapi(build: Callable[[], dict[str, Any]]) -> Callable[[], str]:
    return lambda: to_json(build())


def documents() -> list[Document]:
    """Every generated document, in a fixed order."""
    return [
        *(
            Document(f"asyncapi/{name}.yaml", _asyncapi(name))
            for name in ("ingest", "router", "translate", "sender")
        ),
        Document("openapi/ingest.json", _openapi(ingest_openapi)),
        Document("openapi/router.json", _openapi(router_openapi)),
        Document("openapi/translate.json", _openapi(translate_openapi)),
        Document("openapi/line_sandbox.json", _openapi(line_sandbox_openapi)),
    ]


# --- writing and checking ----------------------------------------------------------------------------


def render(selected: Iterable[Document] | None = None) -> dict[str, str]:
    return {doc.path: doc.build() for doc in (documents() if selected is None else selected)}


def write(root: Path, rendered: dict[str, str]) -> list[str]:
    """Write what changed; return the paths written."""
    changed = []
    for path, text in rendered.items():
        target = root / path
        if target.is_file() and target.read_text(encoding="utf-8") == text:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        changed.append(path)
    return changed


def stale(root: Path, rendered: dict[str, str]) -> list[str]:
    """Documents under ``root`` that nothing generates any more."""
    present = {p.relative_to(root).as_posix() for p in root.glob("*api/*") if p.suffix in (".json", ".yaml")}
    return sorted(present - rendered.keys())


def differences(root: Path, rendered: dict[str, str], *, context: int = 3, limit: int = 200) -> list[str]:
    """A unified diff (at most ``limit`` lines) per document that differs from the code, and a line per
    document that is no longer generated."""
    found = [f"docs/api/{path}: no longer generated; delete it" for path in stale(root, rendered)]
    for path, text in rendered.items():
        target = root / path
        committed = target.read_text(encoding="utf-8") if target.is_file() else ""
        if committed == text:
            continue
        lines = list(
            difflib.unified_diff(
                committed.splitlines(),
                text.splitlines(),
                fromfile=f"docs/api/{path} (committed)" if committed else f"docs/api/{path} (missing)",
                tofile=f"docs/api/{path} (from the code)",
                n=context,
                lineterm="",
            )
        )
        if len(lines) > limit:
            lines = [*lines[:limit], f"... {len(lines) - limit} more diff lines"]
        found.append("\n".join(lines))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 if docs/api/ differs")
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="where the documents live")
    args = parser.parse_args(argv)
    rendered = render()
    if args.check:
        diffs = differences(args.root, rendered)
        if diffs:
            print("\n\n".join(diffs), file=sys.stderr)
            print(f"\n{len(diffs)} API document(s) differ from the code; run: {REGENERATE}", file=sys.stderr)
            return 1
        print(f"{len(rendered)} API documents match the code", file=sys.stderr)
        return 0
    changed = write(args.root, rendered)
    for path in changed:
        print(f"wrote docs/api/{path}", file=sys.stderr)
    print(f"{len(changed)} of {len(rendered)} API documents changed", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
