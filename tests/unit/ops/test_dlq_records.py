"""Dead-letter records: names, reasons, what a replay sends, which records a replay selects."""

from __future__ import annotations

import pytest

from services.common.kafka.dead_letters import DLQ_HEADERS
from services.ops import dlq


def _letter(offset: int = 7, headers: dict[str, str] | None = None) -> dlq.DeadLetter:
    base = {
        "content-type": "application/json",
        "x-event-id": "e-1",
        "x-dlq-reason": "language: unsupported 'xx'",
        "x-dlq-error-type": "invalid",
        "x-dlq-source-topic": "deliveries.planned.v1",
        "x-dlq-source-partition": "3",
        "x-dlq-source-offset": "41",
        "x-dlq-consumer": "translate",
        "x-dlq-failed-at": "2026-11-27T06:00:00+00:00",
        **(headers or {}),
    }
    return dlq.DeadLetter(
        topic="deliveries.planned.v1.dlq",
        partition=0,
        offset=offset,
        timestamp_ms=0,
        key=b"n-1:xx",
        value=b"{}",
        headers=tuple((k, v.encode()) for k, v in base.items()),
    )


def test_replay_headers_strip_every_dlq_header_and_say_where_from() -> None:
    letter = _letter()
    headers = dict(letter.replay_headers())
    assert not set(headers) & set(DLQ_HEADERS)
    assert headers["x-event-id"] == b"e-1"
    assert headers["content-type"] == b"application/json"
    assert headers[dlq.REPLAYED_FROM] == b"deliveries.planned.v1.dlq/0/7"
    assert letter.source_topic == "deliveries.planned.v1"
    assert letter.source_position == "3/41"
    assert (letter.consumer, letter.error_type) == ("translate", "invalid")


def test_a_record_replayed_before_keeps_one_replayed_from_header() -> None:
    letter = _letter(headers={dlq.REPLAYED_FROM: "deliveries.planned.v1.dlq/0/1"})
    names = [k for k, _ in letter.replay_headers()]
    assert names.count(dlq.REPLAYED_FROM) == 1


def test_names_resolve_with_prefix_and_suffix() -> None:
    assert dlq.resolve("notices.v1", "") == "notices.v1.dlq"
    assert dlq.resolve("notices.v1.dlq", "") == "notices.v1.dlq"
    assert dlq.resolve("notices.v1", "staging.") == "staging.notices.v1.dlq"
    assert dlq.resolve("staging.notices.v1.dlq", "staging.") == "staging.notices.v1.dlq"
    assert dlq.source_of("a.v1.dlq") == "a.v1"
    with pytest.raises(dlq.DlqError, match="not a dead-letter topic"):
        dlq.source_of("a.v1")
    without_header = dlq.DeadLetter("x.v1.dlq", 0, 0, 0, None, b"", ())
    assert without_header.source_topic == "x.v1"
    assert without_header.reason == "(no reason recorded)"


def test_selection() -> None:
    letter = _letter(offset=5)
    assert dlq.Selection()(letter)
    assert dlq.Selection(error_types=frozenset({"invalid"}))(letter)
    assert not dlq.Selection(error_types=frozenset({"permanent"}))(letter)
    assert not dlq.Selection(consumers=frozenset({"sender"}))(letter)
    assert dlq.Selection(offsets=(5, 5))(letter)
    assert not dlq.Selection(offsets=(6, None))(letter)
    assert not dlq.Selection(offsets=(None, 4))(letter)


def test_summary_groups_by_consumer_type_and_reason() -> None:
    letters = [
        _letter(1),
        _letter(2),
        _letter(3, {"x-dlq-reason": "boom", "x-dlq-error-type": "handler_error"}),
    ]
    assert dlq.summarize(letters) == [
        ("translate", "invalid", "language: unsupported 'xx'", 2),
        ("translate", "handler_error", "boom", 1),
    ]
