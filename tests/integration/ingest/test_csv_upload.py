"""CSV uploads through the real process into real Kafka: mixed rows, duplicates, the report, the limits."""

import codecs
import uuid
from typing import Any

import httpx
import orjson

from services.common import db
from services.common.contracts import WorkerHired, WorkerSeparated
from services.common.topics import Topics
from tests.support.services import ServiceProcess

from .conftest import MAX_CSV_BYTES, Keys, bearer, log_text, wait_for_events

HEADER_JA = (
    "届出種別,在留カード番号,国籍・地域,在留資格,在留期間満了日,雇入れ年月日,離職年月日,"
    "雇用保険適用事業所番号,事業所名称,市区町村コード,氏名"
)
HEADER_EN = (
    "type,residence_card_number,nationality,residence_status,period_expires_on,hired_on,separated_on,"
    "establishment_id,establishment_name,municipality_code,name"
)


def _card(prefix: str, n: int) -> str:
    return f"{prefix}{n:08d}ZZ"


def _row(prefix: str, n: int) -> str:
    hired = n % 4 != 0
    date = f"R6.{n % 12 + 1}.{n % 28 + 1}"
    return ",".join(
        [
            "雇入れ" if hired else "離職",
            _card(prefix, n),
            "ベトナム" if n % 2 else "VN",
            "特定技能１号" if n % 3 else "技能実習2号ロ",
            "令和8年3月31日",
            date if hired else "",
            "" if hired else date,
            f"1234-{n % 1000:06d}-1",
            f"㈱グンマ{n % 50}",
            "10201" if n % 2 else "10202",
            "グエン",
        ]
    )


def _upload(ingest: ServiceProcess, key: str, body: bytes, **params: str) -> httpx.Response:
    return httpx.post(
        f"{ingest.url}/v1/employment-events/csv",
        params=params,
        content=body,
        headers={**bearer(key), "Content-Type": "text/csv"},
        timeout=120,
    )


def _lines(response: httpx.Response) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = [orjson.loads(line) for line in response.text.splitlines() if line]
    return lines[0], lines[1:]


async def test_a_file_with_good_and_bad_rows_and_its_resend(
    ingest: ServiceProcess, keys: Keys, kafka_bootstrap: str, topics: Topics, pool: db.Pool
) -> None:
    prefix = "KA"
    count = 3000  # more than one block: the first is read in the service, the rest in the parse pool
    rows = [_row(prefix, n) for n in range(count)]
    bad = {
        10: rows[10].replace("令和8年3月31日", "平成31年5月1日"),  # after the end of Heisei
        500: rows[500].replace(_card(prefix, 500), "KA1234"),  # malformed card number
        1700: rows[1700].replace("ベトナム", "Atlantis").replace(",VN,", ",Atlantis,"),
        2999: rows[2999].replace(",10201,", ",99999,").replace(",10202,", ",99999,"),
    }
    for n, text in bad.items():
        rows[n] = text
    rows.insert(1200, ",,,,,,,,,,")  # a blank line (Excel leaves them)
    rows.insert(1500, rows[1400])  # the same row twice in one file
    body = (HEADER_JA + "\r\n" + "\r\n".join(rows) + "\r\n").encode("cp932")

    response = _upload(ingest, keys.feed, body, filename="2024-04.csv")
    assert response.status_code == 200, response.text
    summary, report = _lines(response)
    assert summary["encoding"] == "cp932"
    assert summary["rows"] == count + 1
    assert summary["blank_rows"] == 1
    assert summary["rejected"] == len(bad)
    assert summary["duplicates"] == 1
    assert summary["accepted"] == count - len(bad)
    assert summary["ignored_columns"] == {"personal": ["氏名"], "unknown": []}

    rejected = {line["row"]: line for line in report if line["status"] == "rejected"}
    # Row numbers as a spreadsheet shows them: the header is row 1, data row n is row n + 2.
    assert set(rejected) == {12, 502, 1704, 3003}
    assert rejected[12]["errors"] == [
        {
            "column": "在留期間満了日",
            "field": "period_expires_on",
            "reason": rejected[12]["errors"][0]["reason"],
        }
    ]
    assert "平成 ended" in rejected[12]["errors"][0]["reason"]
    assert rejected[502]["errors"][0]["column"] == "在留カード番号"
    assert "KA1234" not in response.text  # the card number is never echoed
    assert rejected[1704]["errors"][0]["field"] == "nationality"
    assert rejected[3003]["errors"][0]["field"] == "municipality_code"
    repeated = [line for line in report if line["status"] == "duplicate"]
    assert (
        len(repeated) == 1
        and repeated[0]["row"] == 1502
        and repeated[0]["detail"] == "the same event as row 1402"
    )

    # Every accepted row is in Kafka, once, as the contract says.
    accepted = await pool.fetch(
        "SELECT event_id::text FROM ingest_accepted "
        "WHERE source = $1 AND accepted_at > now() - interval '10 minutes'",
        keys.feed_name,
    )
    event_ids = {r[0] for r in accepted}
    assert len(event_ids) >= summary["accepted"]
    in_kafka = await wait_for_events(kafka_bootstrap, topics.employment, event_ids)
    assert set(in_kafka) == event_ids
    assert all(len(copies) == 1 for copies in in_kafka.values())
    kinds = {_contract(records[0].value).type for records in in_kafka.values()}
    assert kinds == {"worker.hired", "worker.separated"}

    # The same file again: nothing new is accepted, every row is reported as a duplicate.
    again = _upload(ingest, keys.feed, body)
    assert again.status_code == 200
    summary2, report2 = _lines(again)
    assert summary2["accepted"] == 0
    assert summary2["duplicates"] == count - len(bad) + 1
    assert summary2["rejected"] == len(bad)
    assert {line["detail"] for line in report2 if line["status"] == "duplicate"} == {
        "already accepted",
        "the same event as row 1402",
    }
    in_kafka = await wait_for_events(kafka_bootstrap, topics.employment, event_ids, timeout=2)
    assert all(len(copies) == 1 for copies in in_kafka.values())

    # Card numbers and names are not written to the logs.
    logs = log_text(ingest)
    assert _card(prefix, 1) not in logs and "グエン" not in logs
    upload = await pool.fetchrow(
        "SELECT status, rows, accepted, duplicates, rejected, encoding, filename FROM ingest_uploads "
        "WHERE upload_id = $1",
        uuid.UUID(summary["upload_id"]),
    )
    assert upload is not None
    assert dict(upload) == {
        "status": "completed",
        "rows": count + 1,
        "accepted": count - len(bad),
        "duplicates": 1,
        "rejected": len(bad),
        "encoding": "cp932",
        "filename": "2024-04.csv",
    }


def _contract(value: bytes) -> WorkerHired | WorkerSeparated:
    data = orjson.loads(value)
    if data["type"] == "worker.hired":
        return WorkerHired.model_validate(data)
    return WorkerSeparated.model_validate(data)


def test_english_headers_utf8_bom_and_a_report_of_every_row(ingest: ServiceProcess, keys: Keys) -> None:
    rows = [_row("KB", n).replace("雇入れ", "hired").replace("離職", "separated") for n in range(20)]
    body = codecs.BOM_UTF8 + (HEADER_EN + "\n" + "\n".join(rows) + "\n").encode()
    response = _upload(ingest, keys.feed, body, report="all")
    summary, report = _lines(response)
    assert summary["encoding"] == "utf-8"
    assert summary["accepted"] == 20
    assert [line["row"] for line in report] == list(range(2, 22))
    assert all(line["status"] == "accepted" and line["event_id"] for line in report)


def test_an_unusable_header_is_refused_before_any_row(ingest: ServiceProcess, keys: Keys) -> None:
    response = _upload(ingest, keys.feed, "氏名,国籍\r\nグエン,VN\r\n".encode("cp932"))
    assert response.status_code == 422
    problem = response.json()
    assert problem["title"] == "Unusable header"
    assert any("在留カード番号" in e["field"] and "missing" in e["reason"] for e in problem["errors"])
    assert problem["accepted_headers"]


def test_a_file_where_no_row_can_be_taken_is_422_with_the_rows(ingest: ServiceProcess, keys: Keys) -> None:
    rows = [_row("KC", n).replace(",10201,", ",00000,").replace(",10202,", ",00000,") for n in range(5)]
    response = _upload(ingest, keys.feed, (HEADER_JA + "\r\n" + "\r\n".join(rows)).encode("cp932"))
    assert response.status_code == 422
    problem = response.json()
    assert problem["title"] == "No row could be accepted"
    assert [e["field"] for e in problem["errors"]] == [f"row {n}: 市区町村コード" for n in range(2, 7)]
    assert problem["summary"]["rejected"] == 5


async def test_a_file_that_breaks_midway_keeps_the_rows_before(
    ingest: ServiceProcess, keys: Keys, kafka_bootstrap: str, topics: Topics
) -> None:
    rows = [_row("KD", n) for n in range(10)]
    body = (
        HEADER_JA + "\r\n" + "\r\n".join(rows[:5]) + '\r\n雇入れ,"never closed\r\n' + "\r\n".join(rows[5:])
    ).encode("cp932")
    response = _upload(ingest, keys.feed, body)
    assert response.status_code == 422
    problem = response.json()
    assert problem["title"] == "The file could not be read to the end"
    assert "never closes" in problem["detail"]
    assert problem["summary"]["accepted"] == 5
    # The corrected file: the first five come back as duplicates, the rest are accepted.
    fixed = _upload(ingest, keys.feed, (HEADER_JA + "\r\n" + "\r\n".join(rows)).encode("cp932"))
    summary, _ = _lines(fixed)
    assert (summary["accepted"], summary["duplicates"]) == (5, 5)


def test_limits_media_types_and_empty_files(ingest: ServiceProcess, keys: Keys) -> None:
    big = (HEADER_JA + "\r\n").encode() + b"x" * (MAX_CSV_BYTES + 10)
    response = _upload(ingest, keys.feed, big)
    assert response.status_code == 413
    assert "at most" in response.json()["detail"]

    response = httpx.post(
        f"{ingest.url}/v1/employment-events/csv",
        content=b"a,b\n",
        headers={**bearer(keys.feed), "Content-Type": "application/json"},
    )
    assert response.status_code == 415
    response = httpx.post(
        f"{ingest.url}/v1/employment-events/csv",
        content=b"a,b\n",
        headers={**bearer(keys.feed), "Content-Type": "text/csv; charset=ebcdic"},
    )
    assert response.status_code == 415
    assert "unsupported charset" in response.json()["detail"]

    response = _upload(ingest, keys.feed, b"")
    assert response.status_code == 422
    assert "empty" in response.json()["detail"]
    response = _upload(ingest, keys.feed, (HEADER_JA + "\r\n").encode("cp932"))
    summary, report = _lines(response)
    assert (summary["rows"], report) == (0, [])


def test_streamed_upload_in_small_pieces_shift_jis_declared(ingest: ServiceProcess, keys: Keys) -> None:
    rows = [_row("KE", n) for n in range(300)]
    data = (HEADER_JA + "\r\n" + "\r\n".join(rows) + "\r\n").encode("cp932")

    def pieces() -> Any:
        for start in range(0, len(data), 777):
            yield data[start : start + 777]

    response = httpx.post(
        f"{ingest.url}/v1/employment-events/csv",
        content=pieces(),
        headers={**bearer(keys.feed), "Content-Type": "text/csv; charset=Shift_JIS"},
        timeout=60,
    )
    summary, _ = _lines(response)
    assert (summary["accepted"], summary["encoding"]) == (300, "cp932")
