"""The JSON feed, staff notices and LINE webhooks through the real process into real Kafka."""

import time
import uuid
from typing import Any

import httpx
import orjson

from services.common import pseudonym
from services.common.contracts import (
    MessageReceived,
    NoticeSubmitted,
    SubscriberFollowed,
    WorkerHired,
    derived_id,
)
from services.common.topics import Topics
from tests.support.services import ServiceProcess

from .conftest import (
    PEPPER,
    Keys,
    apost,
    bearer,
    event_id_of,
    line_signature,
    log_text,
    topic_records,
    wait_for_events,
)


def _event(n: int, **changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "hired",
        "event_id": f"J-{n}",
        "reported_at": "2024-04-02T09:00:00+09:00",
        "residence_card_number": f"JS{n:08d}ON",
        "nationality": "PH",
        "residence_status": "特定技能1号",
        "hired_on": "2024-04-01",
        "establishment": {"establishment_id": "9876-543210-9", "municipality_code": "102024"},
    }
    event.update(changes)
    return event


def _post_events(ingest: ServiceProcess, key: str, events: list[Any]) -> httpx.Response:
    return httpx.post(
        f"{ingest.url}/v1/employment-events", json={"events": events}, headers=bearer(key), timeout=30
    )


async def test_a_batch_with_bad_events_takes_the_good_ones_and_a_resend_takes_nothing(
    ingest: ServiceProcess, keys: Keys, kafka_bootstrap: str, topics: Topics
) -> None:
    run = uuid.uuid4().hex[:6]
    events = [
        _event(1, event_id=f"J-{run}-1"),
        _event(2, event_id=f"J-{run}-2", nationality="Atlantis"),
        _event(3, event_id=f"J-{run}-3", type="separated", separated_on="R6.9.30", hired_on=None),
        _event(4, event_id=f"J-{run}-1"),  # the same feed event twice in one batch
    ]
    events[2].pop("hired_on")
    response = _post_events(ingest, keys.feed, events)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (2, 1, 1)
    statuses = [r["status"] for r in body["results"]]
    assert statuses == ["accepted", "rejected", "accepted", "duplicate"]
    assert body["results"][1]["errors"] == [
        {"field": "events[1].nationality", "reason": body["results"][1]["errors"][0]["reason"]}
    ]
    assert body["results"][3]["detail"] == "the same event id as events[0] in this batch"
    event_ids = {body["results"][0]["event_id"], body["results"][2]["event_id"]}
    assert body["results"][0]["event_id"] == str(derived_id("employment", keys.feed_name, f"J-{run}-1"))

    found = await wait_for_events(kafka_bootstrap, topics.employment, event_ids)
    assert {k: len(v) for k, v in found.items()} == dict.fromkeys(event_ids, 1)
    hired = WorkerHired.model_validate_json(found[body["results"][0]["event_id"]][0].value)
    assert hired.worker_id == pseudonym.worker_id(f"JS{1:08d}ON", PEPPER.encode())
    assert found[body["results"][0]["event_id"]][0].key == hired.worker_id.encode()

    again = _post_events(ingest, keys.feed, [events[0], events[2]]).json()
    assert (again["accepted"], again["duplicates"]) == (0, 2)
    assert {r["detail"] for r in again["results"]} == {"already accepted"}
    changed = _post_events(ingest, keys.feed, [_event(1, event_id=f"J-{run}-1", nationality="VN")]).json()
    assert (
        changed["results"][0]["detail"]
        == "already accepted with different content; the first version was kept"
    )
    found = await wait_for_events(kafka_bootstrap, topics.employment, event_ids, timeout=2)
    assert {k: len(v) for k, v in found.items()} == dict.fromkeys(event_ids, 1)


def test_a_batch_where_nothing_can_be_taken_is_422(ingest: ServiceProcess, keys: Keys) -> None:
    response = _post_events(ingest, keys.feed, [_event(9, residence_card_number="nope"), {"type": "hired"}])
    assert response.status_code == 422
    problem = response.json()
    assert problem["title"] == "No event could be accepted"
    fields = {e["field"] for e in problem["errors"]}
    assert "events[0].residence_card_number" in fields
    assert {"events[1].event_id", "events[1].establishment"} <= fields
    assert "nope" not in response.text


def test_the_envelope_and_body(ingest: ServiceProcess, keys: Keys) -> None:
    url = f"{ingest.url}/v1/employment-events"
    cases = [
        (b"{not json", "application/json", 400, "(body)"),
        (b"[]", "application/json", 422, "(body)"),
        (b'{"events": {}}', "application/json", 422, "events"),
        (b'{"events": [], "extra": 1}', "application/json", 422, "extra"),
        (orjson.dumps({"events": [_event(n) for n in range(1001)]}), "application/json", 422, "events"),
        (b'{"events": []}', "text/plain", 415, None),
    ]
    for body, media, status, field in cases:
        response = httpx.post(url, content=body, headers={**bearer(keys.feed), "Content-Type": media})
        assert response.status_code == status, (body[:40], response.text)
        assert response.headers["content-type"] == "application/problem+json"
        if field:
            assert response.json()["errors"][0]["field"] == field
    empty = httpx.post(url, json={"events": []}, headers=bearer(keys.feed))
    assert empty.status_code == 200 and empty.json()["accepted"] == 0


async def test_notices_scope_idempotency_and_their_topic(
    ingest: ServiceProcess, keys: Keys, kafka_bootstrap: str, topics: Topics
) -> None:
    notice = {
        "title": "{city}の粗大ごみ",
        "body": "{date}に回収します。{{詳しくは市のサイト}}",
        "source_language": "ja",
        "category": "garbage",
        "audience": {"languages": ["vi", "ne"], "nationalities": ["ベトナム"]},
        "priority": "normal",
    }
    url = f"{ingest.url}/v1/notices"
    key = str(uuid.uuid4())
    first = await apost(url, json=notice, headers={**bearer(keys.city_staff), "Idempotency-Key": key})
    assert first.status_code == 202, first.text
    body = first.json()
    assert body["audience"]["cities"] == ["102016", "102024"]  # no cities from a city key: its cities
    assert body["scope_cities"] == ["102016", "102024"]
    retry = await apost(url, json=notice, headers={**bearer(keys.city_staff), "Idempotency-Key": key})
    assert retry.status_code == 202
    assert retry.json()["notice_id"] == body["notice_id"]
    assert retry.headers["idempotent-replayed"] == "true"
    reused = await apost(
        url, json={**notice, "title": "別の"}, headers={**bearer(keys.city_staff), "Idempotency-Key": key}
    )
    assert reused.status_code == 422
    assert reused.json()["errors"][0]["field"] == "header: Idempotency-Key"

    outside = await apost(
        url, json={**notice, "audience": {"cities": ["10201", "10203"]}}, headers=bearer(keys.city_staff)
    )
    assert outside.status_code == 403
    assert outside.json()["errors"] == [
        {"field": "audience.cities[1]", "reason": "102032 is outside this key's cities (102016, 102024)"}
    ]
    wide = await apost(url, json={**notice, "priority": "emergency"}, headers=bearer(keys.prefecture_staff))
    assert wide.status_code == 202 and wide.json()["audience"]["cities"] == []

    submitted = derived_id("notice.submitted", body["notice_id"])
    found = await wait_for_events(kafka_bootstrap, topics.notices, {str(submitted)})
    assert len(found[str(submitted)]) == 1  # the retry did not publish a second notice
    record = found[str(submitted)][0]
    event = NoticeSubmitted.model_validate_json(record.value)
    assert record.key == body["notice_id"].encode()
    assert event.scope_cities == ("102016", "102024")
    assert event.audience.nationalities == ("VN",)
    assert event.content.title == "{city}の粗大ごみ"


def test_notices_refuse_unknown_filter_values_by_name(ingest: ServiceProcess, keys: Keys) -> None:
    response = httpx.post(
        f"{ingest.url}/v1/notices",
        json={
            "title": "x {name}",
            "body": "y",
            "source_language": "ja",
            "category": "tax",
            "audience": {"cities": ["10201", "1020"], "languages": ["vi", "xx"]},
            "send_at": "2001-01-01T00:00:00Z",
        },
        headers=bearer(keys.prefecture_staff),
    )
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"title", "audience.cities[1]", "audience.languages[1]"}


def _webhook(ingest: ServiceProcess, body: bytes, signature: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Line-Signature"] = signature
    return httpx.post(f"{ingest.url}/line/webhook", content=body, headers=headers, timeout=10)


def _line_event(kind: str, webhook_event_id: str, user: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "timestamp": int(time.time() * 1000),
        "mode": "active",
        "webhookEventId": webhook_event_id,
        "deliveryContext": {"isRedelivery": False},
        "source": {"type": "user", "userId": user},
        **extra,
    }


async def test_webhook_signature_good_bad_and_missing(
    ingest: ServiceProcess, kafka_bootstrap: str, topics: Topics
) -> None:
    user = "U" + uuid.uuid4().hex
    ids = [f"01J{uuid.uuid4().hex[:23].upper()}" for _ in range(4)]
    events = [
        _line_event("follow", ids[0], user, replyToken="rt", follow={"isUnblocked": False}),
        _line_event(
            "message",
            ids[1],
            user,
            replyToken="rt2",
            message={"type": "text", "id": "1", "text": "AB12345678CD"},
        ),
        _line_event("join", ids[2], user, replyToken="rt3"),
        _line_event("message", ids[3], user, message={"type": "text", "id": "2", "text": "こんにちは"}),
    ]
    body = orjson.dumps({"destination": "U" + "0" * 32, "events": events})

    verification = orjson.dumps({"destination": "U" + "0" * 32, "events": []})
    assert _webhook(ingest, verification, line_signature(verification)).status_code == 200

    missing = _webhook(ingest, body, None)
    assert missing.status_code == 401 and missing.json()["errors"][0]["reason"] == "missing"
    bad = _webhook(ingest, body, line_signature(body, "another channel's secret"))
    assert bad.status_code == 401 and bad.json()["title"] == "Invalid signature"
    tampered = _webhook(ingest, body.replace(b"AB12345678CD", b"AB12345678CE"), line_signature(body))
    assert tampered.status_code == 401

    started = time.perf_counter()
    good = _webhook(ingest, body, line_signature(body))
    assert time.perf_counter() - started < 1.0  # LINE waits at most 2 s
    assert good.status_code == 200
    assert good.json() == {"accepted": 3, "duplicates": 0, "ignored": 1, "invalid": 0}

    for event in events:  # LINE redelivers with the same webhookEventId
        event["deliveryContext"]["isRedelivery"] = True
    redelivered = orjson.dumps({"destination": "U" + "0" * 32, "events": events})
    again = _webhook(ingest, redelivered, line_signature(redelivered))
    assert again.json() == {"accepted": 0, "duplicates": 3, "ignored": 1, "invalid": 0}

    wanted = {str(derived_id("line", i)) for i in (ids[0], ids[1], ids[3])}
    found = await wait_for_events(kafka_bootstrap, topics.line_events, wanted)
    assert {k: len(v) for k, v in found.items()} == dict.fromkeys(wanted, 1)
    followed = SubscriberFollowed.model_validate_json(found[str(derived_id("line", ids[0]))][0].value)
    assert followed.line_user_id == user and followed.reply_token == "rt"
    card = MessageReceived.model_validate_json(found[str(derived_id("line", ids[1]))][0].value)
    assert card.text is None and card.card_worker_id == pseudonym.worker_id("AB12345678CD", PEPPER.encode())
    assert all(r.key == user.encode() for records in found.values() for r in records)
    everything = b"".join(r.value for r in await topic_records(kafka_bootstrap, topics.line_events))
    assert b"AB12345678CD" not in everything
    assert "AB12345678CD" not in log_text(ingest)
    assert not any(
        event_id_of(r) == str(derived_id("line", ids[2]))
        for r in await topic_records(kafka_bootstrap, topics.line_events)
    )
