import uuid

from services.line_sandbox.inbox import Inbox, contains, pack, split_batch_id


def ids(n: int) -> list[str]:
    return ["U" + uuid.uuid4().hex for _ in range(n)]


def test_packing_and_aligned_search() -> None:
    users = ids(50)
    blob = pack(users)
    assert len(blob) == 50 * 16
    for user in users:
        assert contains(blob, pack([user])) == 1
    assert contains(blob, pack(ids(1))) == 0
    # A needle that straddles two ids must not count.
    assert contains(blob, blob[8:24]) == 0


def test_split_batch_id() -> None:
    notice = str(uuid.uuid4())
    assert split_batch_id(f"{notice}:pt-BR:12") == (notice, "pt-BR", 12)
    assert split_batch_id(None) == (None, None, None)
    assert split_batch_id("no-colons") == (None, None, None)


def test_notice_counts_and_duplicates() -> None:
    inbox = Inbox()
    notice = str(uuid.uuid4())
    first, second = ids(500), ids(500)
    messages = inbox.intern_messages([{"type": "text", "text": "x"}])
    for n, batch in enumerate((first, second)):
        inbox.record(
            request_id=f"r{n}",
            endpoint="multicast",
            recipients=pack(batch),
            messages=messages,
            batch_id=f"{notice}:vi:{n}",
            retry_key=None,
        )
    summary = inbox.notice_summary(notice)
    assert summary["recipient_deliveries"] == 1000
    assert summary["distinct_recipients"] == 1000
    assert summary["duplicate_deliveries"] == 0
    assert inbox.duplicates() == []
    # The same batch again (a resend LINE did not recognise): every user of it is a duplicate.
    inbox.record(
        request_id="r2",
        endpoint="multicast",
        recipients=pack(second[:10]),
        messages=messages,
        batch_id=f"{notice}:vi:1",
        retry_key=None,
    )
    duplicates = inbox.duplicates(notice_id=notice)
    assert len(duplicates) == 10
    assert duplicates[0]["times"] == 2
    assert duplicates[0]["request_ids"] == ["r1", "r2"]
    assert inbox.notice_summary(notice)["duplicate_deliveries"] == 10
    assert inbox.intern_messages([{"type": "text", "text": "x"}]) == messages  # interned once
    assert [r["batch_no"] for r in inbox.received_by(second[0])] == [1, 1]
