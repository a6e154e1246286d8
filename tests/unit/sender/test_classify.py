import orjson
import pytest

from services.sender.domain.classify import (
    Answer,
    Verdict,
    classify,
    error_text,
    is_monthly_limit,
    may_have_been_accepted,
)


def answer(status: int | None, message: str | None = None, **headers: str) -> Answer:
    body = orjson.dumps({"message": message}).decode() if message is not None else ""
    return Answer(status, headers, body)


@pytest.mark.parametrize(
    ("given", "verdict"),
    [
        (answer(200), Verdict.ACCEPTED),
        (
            answer(409, "The retry key is already accepted", **{"x-line-accepted-request-id": "r1"}),
            Verdict.ALREADY_ACCEPTED,
        ),
        (answer(409, "in progress"), Verdict.RETRY),
        (answer(429, "The API rate limit has been exceeded. Try again later."), Verdict.RATE_LIMITED),
        (answer(429, "You have reached your monthly limit."), Verdict.QUOTA_EXHAUSTED),
        (answer(500, "Internal server error"), Verdict.RETRY),
        (answer(502), Verdict.RETRY),
        (answer(503), Verdict.RETRY),
        (Answer(None, {}, transport_error="timed out"), Verdict.RETRY),
        (answer(400, "The request body has 1 error(s)"), Verdict.PERMANENT),
        (answer(400, "Invalid reply token"), Verdict.INVALID_REPLY_TOKEN),
        (answer(401, "Authentication failed"), Verdict.PERMANENT),
        (answer(403, "Forbidden"), Verdict.PERMANENT),
        (answer(404, "Not found"), Verdict.PERMANENT),
    ],
)
def test_classification(given: Answer, verdict: Verdict) -> None:
    assert classify(given) is verdict


def test_quota_429_is_told_from_rate_429_by_its_message() -> None:
    assert is_monthly_limit(answer(429, "You have reached your monthly limit."))
    assert not is_monthly_limit(answer(429, "The API rate limit has been exceeded. Try again later."))
    assert not is_monthly_limit(Answer(429, {}, "not json"))
    assert not is_monthly_limit(answer(400, "You have reached your monthly limit."))


def test_headers_are_case_insensitive() -> None:
    given = Answer(409, {"X-Line-Accepted-Request-Id": "abc", "X-Line-Request-Id": "def"}, "")
    assert given.accepted_request_id == "abc"
    assert given.request_id == "def"
    assert classify(given) is Verdict.ALREADY_ACCEPTED


def test_only_lost_answers_and_server_errors_may_have_been_accepted() -> None:
    assert may_have_been_accepted(Answer(None, {}, transport_error="timeout"))
    assert may_have_been_accepted(answer(500))
    assert not may_have_been_accepted(answer(429, "The API rate limit has been exceeded. Try again later."))
    assert not may_have_been_accepted(answer(400, "bad"))


def test_error_text_names_status_message_and_details() -> None:
    body = orjson.dumps(
        {
            "message": "The request body has 2 error(s)",
            "details": [
                {"message": "Length must be between 0 and 5000", "property": "messages[0].text"},
                {"message": "Invalid user ID", "property": "to[3]"},
            ],
        }
    ).decode()
    text = error_text(Answer(400, {}, body))
    assert text.startswith("HTTP 400: The request body has 2 error(s)")
    assert "messages[0].text: Length must be between 0 and 5000" in text
    assert "to[3]: Invalid user ID" in text
    assert error_text(Answer(None, {}, transport_error="timed out after 1 s")) == (
        "no answer from LINE: timed out after 1 s"
    )
