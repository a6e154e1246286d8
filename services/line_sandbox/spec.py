"""LINE's published OpenAPI document, turned into compiled JSON Schema validators once at start-up.

The document is read from where the deployment keeps it (``GUNMA_SANDBOX_OPENAPI_SPEC``, in this project
``../shared/line-openapi/messaging-api.yml``); it is never copied into the repository.

OpenAPI 3.0 schemas are close to JSON Schema draft 7 but not equal. The conversion:

- ``#/components/schemas/X`` references become ``#/definitions/X``;
- a schema with a ``discriminator`` (``Message``, ``Action``, ``FlexComponent``...) becomes a dispatch on the
  discriminator property: ``if type == "text" then TextMessage else if ...``, and an unknown value is
  refused. The subtypes extend the base with ``allOf: [$ref base, ...]``; there the reference points at the
  base *without* its dispatch, or every subtype would recurse into itself;
- ``nullable: true`` allows ``null``;
- ``format`` is not checked (``int64``, ``double``, ``uri``... are annotations for code generators here; LINE
  checks URLs itself), nor are ``example``, ``externalDocs`` and ``description``.

fastjsonschema generates Python code per schema; validating a 500-recipient multicast costs a few tens
of microseconds (see bench/sender_throughput.py), which is why it is used instead of a generic validator.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastjsonschema
import yaml

_REF_PREFIX = "#/components/schemas/"
_BASE_SUFFIX = "__base"
_DROPPED = frozenset({"discriminator", "example", "examples", "externalDocs", "description", "format", "xml"})

#: The header LINE uses for idempotent sends.
RETRY_KEY_HEADER = "X-Line-Retry-Key"


class SpecError(RuntimeError):
    """The OpenAPI document is missing or not what this module understands."""


@dataclass(frozen=True, slots=True)
class Violation:
    """One problem with a request, in LINE's ErrorDetail terms."""

    property: str
    message: str

    def as_detail(self) -> dict[str, str]:
        return {"message": self.message, "property": self.property}


def _name(ref: str) -> str:
    if not ref.startswith(_REF_PREFIX):
        raise SpecError(f"only local component references are supported, not {ref!r}")
    return ref[len(_REF_PREFIX) :]


def _convert(node: Any, *, base_refs: frozenset[str]) -> Any:
    """An OpenAPI schema node as JSON Schema; references to ``base_refs`` point at their bare base."""
    if isinstance(node, list):
        return [_convert(item, base_refs=base_refs) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED:
            continue
        if key == "$ref":
            target = _name(value)
            suffix = _BASE_SUFFIX if target in base_refs else ""
            out["$ref"] = f"#/definitions/{target}{suffix}"
        elif key == "allOf":
            out["allOf"] = [_convert(item, base_refs=base_refs) for item in value]
        elif key in ("properties", "patternProperties"):
            out[key] = {k: _convert(v, base_refs=frozenset()) for k, v in value.items()}
        elif key in ("items", "additionalProperties", "not"):
            out[key] = _convert(value, base_refs=frozenset())
        elif key in ("oneOf", "anyOf"):
            out[key] = [_convert(item, base_refs=frozenset()) for item in value]
        elif key == "nullable":
            continue
        else:
            out[key] = copy.deepcopy(value)
    if node.get("nullable") is True and "type" in out:
        out["type"] = [out["type"], "null"] if isinstance(out["type"], str) else [*out["type"], "null"]
    return out


def _dispatch(name: str, discriminator: dict[str, Any]) -> dict[str, Any]:
    """The base, then ``if prop == v then Sub`` for each mapped value, and an unknown value refused.

    Independent ``if``s under one ``allOf`` rather than an ``else`` chain: the generated code stays flat
    (Python limits nested blocks) and each test is a constant comparison.
    """
    prop = discriminator["propertyName"]
    mapping: dict[str, str] = discriminator.get("mapping") or {}
    branches: list[dict[str, Any]] = [{"$ref": f"#/definitions/{name}{_BASE_SUFFIX}"}]
    branches.append({"properties": {prop: {"enum": sorted(mapping)}}})
    for value, ref in sorted(mapping.items()):
        branches.append(
            {
                "if": {"properties": {prop: {"const": value}}, "required": [prop]},
                "then": {"$ref": f"#/definitions/{_name(ref)}"},
            }
        )
    return {"allOf": branches}


def json_schema_definitions(components: dict[str, Any]) -> dict[str, Any]:
    """``components.schemas`` of an OpenAPI 3.0 document as draft-7 ``definitions``."""
    discriminated = {name: s["discriminator"] for name, s in components.items() if "discriminator" in s}
    # Subtype -> the bases whose discriminator maps to it (their allOf references must use the bare base).
    bases_of: dict[str, set[str]] = {}
    for base, discriminator in discriminated.items():
        for ref in (discriminator.get("mapping") or {}).values():
            bases_of.setdefault(_name(ref), set()).add(base)
    definitions: dict[str, Any] = {}
    for name, schema in components.items():
        base_refs = frozenset(bases_of.get(name, ()))
        converted = _convert(schema, base_refs=base_refs)
        if name in discriminated:
            definitions[name + _BASE_SUFFIX] = converted
            definitions[name] = _dispatch(name, discriminated[name])
        else:
            definitions[name] = converted
    return definitions


def _property_path(path: Iterable[str]) -> str:
    """fastjsonschema's ['data', 'messages', '0', 'text'] as LINE writes it: messages[0].text."""
    out = ""
    for part in list(path)[1:]:
        if part.isdigit():
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


def _message(error: fastjsonschema.JsonSchemaValueException) -> str:
    text = str(error.message)
    name = str(error.name or "")
    # "data.messages[0].text must be string" -> "must be string": the property is reported separately.
    return text[len(name) + 1 :] if name and text.startswith(name + " ") else text


class OpenApiDocument:
    """One parsed document: its request-body schemas compiled on first use, then reused."""

    def __init__(self, document: dict[str, Any], *, source: str = "(document)") -> None:
        self.source = source
        self._document = document
        components = (document.get("components") or {}).get("schemas") or {}
        if not components:
            raise SpecError(f"{source}: no components.schemas")
        self._definitions = json_schema_definitions(components)
        self._validators: dict[str, Callable[[Any], Any]] = {}

    @classmethod
    def load(cls, path: str | Path) -> OpenApiDocument:
        file = Path(path)
        if not file.is_file():
            raise SpecError(
                f"LINE OpenAPI document not found at {file} (resolved: {file.resolve()}); "
                "point the setting at ../shared/line-openapi/messaging-api.yml beside the repository"
            )
        with file.open("rb") as handle:
            document = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - safe loaders only
        if not isinstance(document, dict) or "paths" not in document:
            raise SpecError(f"{file} is not an OpenAPI document")
        return cls(document, source=str(file))

    @property
    def schema_names(self) -> frozenset[str]:
        return frozenset(self._definitions)

    def operation(self, path: str, method: str) -> dict[str, Any]:
        try:
            found = self._document["paths"][path][method.lower()]
        except KeyError:
            raise SpecError(f"{self.source}: no operation {method.upper()} {path}") from None
        if not isinstance(found, dict):
            raise SpecError(f"{self.source}: {method.upper()} {path} is not an operation")
        return found

    def request_schema(self, path: str, method: str = "post") -> str:
        """The component name of an operation's JSON request body."""
        operation = self.operation(path, method)
        try:
            ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        except KeyError:
            raise SpecError(f"{self.source}: {method.upper()} {path} has no JSON request body") from None
        return _name(ref)

    def header_parameters(self, path: str, method: str = "post") -> frozenset[str]:
        """Header names an operation declares (lower case)."""
        params = self.operation(path, method).get("parameters") or []
        return frozenset(str(p["name"]).lower() for p in params if p.get("in") == "header")

    def validator(self, schema: str) -> Callable[[Any], Any]:
        """The compiled validator of one component schema (compiled once, then cached)."""
        found = self._validators.get(schema)
        if found is None:
            if schema not in self._definitions:
                raise SpecError(f"{self.source}: no schema {schema!r}")
            definition = {
                "$schema": "http://json-schema.org/draft-07/schema#",
                "definitions": self._definitions,
                "$ref": f"#/definitions/{schema}",
            }
            found = fastjsonschema.compile(definition, use_default=False, use_formats=False, fast_fail=False)
            self._validators[schema] = found
        return found

    def check(self, schema: str, body: Any) -> list[Violation]:
        """Every violation of ``schema`` in ``body`` (empty when it conforms)."""
        try:
            self.validator(schema)(body)
        except fastjsonschema.JsonSchemaValuesException as errors:
            return _dedupe(Violation(_property_path(e.path), _message(e)) for e in errors.errors)
        except fastjsonschema.JsonSchemaValueException as error:
            return [Violation(_property_path(error.path), _message(error))]
        return []


def _dedupe(violations: Iterable[Violation]) -> list[Violation]:
    return list(dict.fromkeys(violations))
