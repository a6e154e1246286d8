"""LINE's OpenAPI document compiled to JSON Schema: discriminators, and requests as the SDK makes them."""

import uuid
from pathlib import Path

import pytest
from linebot.v3.messaging import (
    ApiClient,
    Configuration,
    MessageAction,
    MulticastRequest,
    PushMessageRequest,
    QuickReply,
    QuickReplyItem,
    ReplyMessageRequest,
    TextMessage,
)

from services.line_sandbox.spec import OpenApiDocument, SpecError, Violation, json_schema_definitions

from .specs import spec_path

TINY = {
    "Pet": {
        "type": "object",
        "required": ["kind"],
        "properties": {"kind": {"type": "string"}, "name": {"type": "string", "nullable": True}},
        "discriminator": {
            "propertyName": "kind",
            "mapping": {"cat": "#/components/schemas/Cat", "dog": "#/components/schemas/Dog"},
        },
    },
    "Cat": {"allOf": [{"$ref": "#/components/schemas/Pet"}, {"type": "object", "required": ["lives"]}]},
    "Dog": {
        "allOf": [
            {"$ref": "#/components/schemas/Pet"},
            {"properties": {"friend": {"$ref": "#/components/schemas/Pet"}}},
        ]
    },
    "Home": {
        "type": "object",
        "properties": {"pets": {"type": "array", "items": {"$ref": "#/components/schemas/Pet"}}},
    },
}


def test_discriminators_dispatch_to_the_mapped_subtype() -> None:
    definitions = json_schema_definitions(TINY)
    assert "Pet__base" in definitions
    # Subtypes extend the bare base, or they would recurse into the dispatch.
    assert definitions["Cat"]["allOf"][0] == {"$ref": "#/definitions/Pet__base"}
    # Outside the subtype's own allOf, a reference to the base dispatches again.
    assert definitions["Dog"]["allOf"][1]["properties"]["friend"] == {"$ref": "#/definitions/Pet"}
    doc = OpenApiDocument({"paths": {}, "components": {"schemas": TINY}})
    assert doc.check("Home", {"pets": [{"kind": "cat", "lives": 9}, {"kind": "dog", "name": None}]}) == []
    assert doc.check("Home", {"pets": [{"kind": "cat"}]}) == [
        Violation("pets[0]", "must contain ['lives'] properties")
    ]
    unknown = doc.check("Home", {"pets": [{"kind": "fish"}]})
    assert [v.property for v in unknown] == ["pets[0].kind"]
    nested = doc.check("Home", {"pets": [{"kind": "dog", "friend": {"kind": "cat"}}]})
    assert [v.property for v in nested] == ["pets[0].friend"]


def test_the_line_document_knows_our_operations() -> None:
    doc = OpenApiDocument.load(spec_path())
    assert doc.request_schema("/v2/bot/message/multicast") == "MulticastRequest"
    assert doc.request_schema("/v2/bot/message/push") == "PushMessageRequest"
    assert doc.request_schema("/v2/bot/message/reply") == "ReplyMessageRequest"
    # Retry keys: declared on push and multicast, not on reply (the sandbox enforces the same).
    assert "x-line-retry-key" in doc.header_parameters("/v2/bot/message/multicast")
    assert "x-line-retry-key" in doc.header_parameters("/v2/bot/message/push")
    assert "x-line-retry-key" not in doc.header_parameters("/v2/bot/message/reply")


def test_requests_made_by_line_bot_sdk_pass_the_spec() -> None:
    doc = OpenApiDocument.load(spec_path())
    client = ApiClient(Configuration(access_token="x"))
    text = TextMessage(
        text="Residence card renewal: apply 3 months before expiry.",
        quick_reply=QuickReply(items=[QuickReplyItem(action=MessageAction(label="OK", text="ok"))]),
    )
    ids = ["U" + uuid.uuid4().hex for _ in range(500)]
    for schema, request in [
        ("MulticastRequest", MulticastRequest(to=ids, messages=[text] * 5)),
        ("PushMessageRequest", PushMessageRequest(to=ids[0], messages=[text])),
        ("ReplyMessageRequest", ReplyMessageRequest(reply_token="abc", messages=[text])),
    ]:
        body = client.sanitize_for_serialization(request)
        assert doc.check(schema, body) == [], schema


def test_requests_that_break_the_spec_are_named_by_property() -> None:
    doc = OpenApiDocument.load(spec_path())
    ids = ["U" + uuid.uuid4().hex for _ in range(501)]
    problems = doc.check(
        "MulticastRequest",
        {"to": ids, "messages": [{"type": "text"}, {"type": "bogus"}, {"type": "sticker", "packageId": "1"}]},
    )
    found = {v.property for v in problems}
    assert {"to", "messages[0]", "messages[1].type", "messages[2]"} <= found
    assert doc.check("PushMessageRequest", {"to": "U1", "messages": []}) == [
        Violation("messages", "must contain at least 1 items")
    ]
    assert doc.check("ReplyMessageRequest", {"messages": [{"type": "text", "text": "x"}]}) == [
        Violation("", "must contain ['replyToken'] properties")
    ]


def test_a_missing_document_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="not found at"):
        OpenApiDocument.load(tmp_path / "nope.yml")
