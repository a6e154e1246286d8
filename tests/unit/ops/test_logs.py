"""Log lines carry the ids that let an operator follow work, and never personal data or secrets."""

from __future__ import annotations

import io
import logging

import orjson
import pytest

from services.common import logs


@pytest.fixture
def lines() -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter("router"))
    logger = logging.getLogger(f"test.logs.{id(stream)}")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    return logger, stream


def _entries(stream: io.StringIO) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in stream.getvalue().splitlines()]


def test_ids_given_in_extra_or_bound_appear_as_fields(lines: tuple[logging.Logger, io.StringIO]) -> None:
    log, stream = lines
    with logs.bind(notice_id="n-42", batch_id="n-42:vi:3"):
        log.info("batch planned", extra={"event_id": "e-1", "recipients": 500})
        with logs.bind(batch_id="n-42:vi:4"):
            log.info("next batch")
    log.info("outside")
    first, second, third = _entries(stream)
    assert first["msg"] == "batch planned"
    assert (first["notice_id"], first["batch_id"], first["event_id"], first["recipients"]) == (
        "n-42",
        "n-42:vi:3",
        "e-1",
        500,
    )
    assert (second["notice_id"], second["batch_id"]) == ("n-42", "n-42:vi:4")
    assert "notice_id" not in third and "batch_id" not in third
    assert first["service"] == "router" and first["level"] == "info"


CARD = "AB12345678CD"
LINE_USER = "U" + "0123456789abcdef" * 2
API_KEY = "gmk_0a1b2c3d4e5f_" + "s3cr3t-" * 6


@pytest.mark.parametrize(
    "extra",
    [
        {"residence_card_number": CARD},
        {"line_user_id": LINE_USER},
        {"password": "hunter2-hunter2"},
        {"database_url": "postgresql://gunma:hunter2-hunter2@db/gunma"},
        {"authorization": f"Bearer {API_KEY}"},
        {"pepper": "p" * 40},
        {"to": [LINE_USER, LINE_USER]},
        {"text": f"my card is {CARD}"},
        {"detail": {"nested": {"user_id": LINE_USER}}},
    ],
    ids=lambda e: next(iter(e)),
)
def test_personal_data_and_secrets_in_extra_are_redacted(
    lines: tuple[logging.Logger, io.StringIO], extra: dict[str, object]
) -> None:
    log, stream = lines
    log.warning("something happened", extra=extra)
    text = stream.getvalue()
    for secret in (CARD, LINE_USER, "hunter2", API_KEY, "p" * 40):
        assert secret not in text
    assert "[redacted]" in text


def test_values_that_look_personal_are_masked_wherever_they_are(
    lines: tuple[logging.Logger, io.StringIO],
) -> None:
    log, stream = lines
    log.warning("reply to %s failed for card %s", LINE_USER, "ab-1234-5678-cd".upper())
    log.warning(
        "bad request", extra={"reason": f"key {API_KEY} rejected", "cards": [CARD, "XY 1234 5678 ZZ"]}
    )
    try:
        raise ValueError(f"could not match {CARD} for {LINE_USER}")
    except ValueError:
        log.exception("handler failed")
    text = stream.getvalue()
    for secret in (CARD, LINE_USER, API_KEY, "AB-1234-5678-CD", "XY 1234 5678 ZZ"):
        assert secret not in text, secret
    assert text.count("[redacted]") >= 7


def test_ids_that_are_not_personal_are_kept(lines: tuple[logging.Logger, io.StringIO]) -> None:
    log, stream = lines
    worker_id = "ab" * 32  # an HMAC: pseudonymous by design
    event_id = "7f1d2c3b-ab12-4c5d-9e8f-ab12345678cd"  # lower-case UUID whose tail looks card-like
    log.info("hired", extra={"worker_id": worker_id, "event_id": event_id, "topic": "employment.v1"})
    (entry,) = _entries(stream)
    assert entry["worker_id"] == worker_id
    assert entry["event_id"] == event_id
    assert entry["topic"] == "employment.v1"
