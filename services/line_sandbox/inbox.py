"""What the sandbox delivered, kept compactly enough for millions of recipients in a few tens of MB.

One :class:`Delivery` per accepted request (a multicast of 500 is one object), its recipients packed as
16 bytes each (a LINE user id is ``U`` + 32 hex digits), its messages interned (every batch of a notice
shares one copy). 1,000,000 recipient deliveries take ~16 MB.

Questions are answered by scanning, which is C-speed over packed bytes:

- what user X received: find X's 16 bytes in each delivery (``bytes.find``, aligned), a few ms per
  million recipients;
- counts per notice: requests and recipients are counted as they arrive; distinct recipients are
  counted on demand by bucketing the packed ids (memory stays ~ the size of the notice's ids);
- duplicates: a user who received the same batch (same batch id) more than once.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson

ID_BYTES = 16


def pack(user_ids: list[str]) -> bytes:
    """``U`` + 32 hex digits each -> 16 bytes each (ids must have been validated)."""
    return bytes.fromhex("".join(u[1:] for u in user_ids))


def unpack_one(packed: bytes) -> str:
    return "U" + packed.hex()


def contains(blob: bytes, needle: bytes) -> int:
    """How often ``needle`` occurs at an id boundary of ``blob``."""
    count = 0
    start = blob.find(needle)
    while start != -1:
        if start % ID_BYTES == 0:
            count += 1
            start = blob.find(needle, start + ID_BYTES)
        else:
            start = blob.find(needle, start + 1)
    return count


def split_batch_id(batch_id: str | None) -> tuple[str | None, str | None, int | None]:
    """``notice_id:language:batch_no`` -> its parts (None where the reference has another shape)."""
    if not batch_id:
        return None, None, None
    parts = batch_id.rsplit(":", 2)
    if len(parts) != 3:
        return None, None, None
    notice, language, number = parts
    try:
        return notice, language, int(number)
    except ValueError:
        return notice, language, None


@dataclass(slots=True)
class Delivery:
    seq: int
    request_id: str
    endpoint: str
    accepted_at: float
    batch_id: str | None
    notice_id: str | None
    retry_key: str | None
    messages: int
    recipients: bytes

    @property
    def recipient_count(self) -> int:
        return len(self.recipients) // ID_BYTES


def message_summary(message: dict[str, Any]) -> dict[str, Any]:
    """What a person sees in the chat list: the text, or the alt text of a rich message."""
    kind = message.get("type")
    summary: dict[str, Any] = {"type": kind}
    if kind in ("text", "textV2"):
        summary["text"] = message.get("text")
    elif "altText" in message:
        summary["text"] = message.get("altText")
    items = (message.get("quickReply") or {}).get("items") or []
    labels = [((i.get("action") or {}).get("label")) for i in items if isinstance(i, dict)]
    if labels:
        summary["quick_replies"] = labels
    return summary


@dataclass
class Inbox:
    deliveries: list[Delivery] = field(default_factory=list)
    _message_index: dict[bytes, int] = field(default_factory=dict)
    _messages: list[bytes] = field(default_factory=list)
    _by_batch: dict[str, list[int]] = field(default_factory=dict)
    _by_notice: dict[str, list[int]] = field(default_factory=dict)
    _notice_recipients: Counter[str] = field(default_factory=Counter)
    recipients_total: int = 0

    def intern_messages(self, messages: list[Any]) -> int:
        raw = orjson.dumps(messages)
        index = self._message_index.get(raw)
        if index is None:
            index = len(self._messages)
            self._messages.append(raw)
            self._message_index[raw] = index
        return index

    def messages(self, index: int) -> list[dict[str, Any]]:
        loaded: list[dict[str, Any]] = orjson.loads(self._messages[index])
        return loaded

    def record(
        self,
        *,
        request_id: str,
        endpoint: str,
        recipients: bytes,
        messages: int,
        batch_id: str | None,
        retry_key: str | None,
        accepted_at: float | None = None,
    ) -> Delivery:
        notice_id = split_batch_id(batch_id)[0]
        delivery = Delivery(
            seq=len(self.deliveries),
            request_id=request_id,
            endpoint=endpoint,
            accepted_at=time.time() if accepted_at is None else accepted_at,
            batch_id=batch_id,
            notice_id=notice_id,
            retry_key=retry_key,
            messages=messages,
            recipients=recipients,
        )
        self.deliveries.append(delivery)
        if batch_id:
            self._by_batch.setdefault(batch_id, []).append(delivery.seq)
        if notice_id:
            self._by_notice.setdefault(notice_id, []).append(delivery.seq)
            self._notice_recipients[notice_id] += delivery.recipient_count
        self.recipients_total += delivery.recipient_count
        return delivery

    # --- questions --------------------------------------------------------------------------------

    def received_by(self, user_id: str, *, limit: int = 1000) -> list[dict[str, Any]]:
        """What one user received, oldest first."""
        needle = pack([user_id])
        out: list[dict[str, Any]] = []
        for delivery in self.deliveries:
            times = contains(delivery.recipients, needle)
            for _ in range(times):
                notice, language, batch_no = split_batch_id(delivery.batch_id)
                out.append(
                    {
                        "seq": delivery.seq,
                        "request_id": delivery.request_id,
                        "endpoint": delivery.endpoint,
                        "accepted_at": delivery.accepted_at,
                        "batch_id": delivery.batch_id,
                        "notice_id": notice,
                        "language": language,
                        "batch_no": batch_no,
                        "messages": [message_summary(m) for m in self.messages(delivery.messages)],
                    }
                )
                if len(out) >= limit:
                    return out
        return out

    def notice_summary(self, notice_id: str) -> dict[str, Any]:
        seqs = self._by_notice.get(notice_id, [])
        batches = {self.deliveries[s].batch_id for s in seqs}
        languages = sorted({split_batch_id(b)[1] or "?" for b in batches})
        deliveries = self._notice_recipients.get(notice_id, 0)
        distinct = self._distinct([self.deliveries[s].recipients for s in seqs])
        return {
            "notice_id": notice_id,
            "requests": len(seqs),
            "batches": len(batches),
            "languages": languages,
            "recipient_deliveries": deliveries,
            "distinct_recipients": distinct,
            "duplicate_deliveries": deliveries - distinct,
        }

    def notices(self) -> list[dict[str, Any]]:
        return [
            {
                "notice_id": notice,
                "requests": len(seqs),
                "recipient_deliveries": self._notice_recipients[notice],
            }
            for notice, seqs in self._by_notice.items()
        ]

    @staticmethod
    def _distinct(blobs: list[bytes]) -> int:
        """Distinct ids over packed blobs, bucketed by first byte so no big set is ever built."""
        buckets: list[bytearray] = [bytearray() for _ in range(256)]
        for blob in blobs:
            for i in range(0, len(blob), ID_BYTES):
                buckets[blob[i]] += blob[i : i + ID_BYTES]
        distinct = 0
        for bucket in buckets:
            if bucket:
                mv = bytes(bucket)
                distinct += len({mv[i : i + ID_BYTES] for i in range(0, len(mv), ID_BYTES)})
        return distinct

    def duplicates(self, *, notice_id: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """Users who received the same batch more than once (also within one request)."""
        out: list[dict[str, Any]] = []
        for batch_id, seqs in self._by_batch.items():
            if notice_id is not None and split_batch_id(batch_id)[0] != notice_id:
                continue
            counts: Counter[bytes] = Counter()
            for s in seqs:
                blob = self.deliveries[s].recipients
                counts.update(blob[i : i + ID_BYTES] for i in range(0, len(blob), ID_BYTES))
            for packed, n in counts.items():
                if n > 1:
                    out.append(
                        {
                            "user_id": unpack_one(packed),
                            "batch_id": batch_id,
                            "times": n,
                            "request_ids": [self.deliveries[s].request_id for s in seqs],
                        }
                    )
                    if len(out) >= limit:
                        return out
        return out

    def batch(self, batch_id: str) -> list[dict[str, Any]]:
        return [
            {
                "seq": d.seq,
                "request_id": d.request_id,
                "endpoint": d.endpoint,
                "accepted_at": d.accepted_at,
                "recipients": d.recipient_count,
                "retry_key": d.retry_key,
            }
            for d in (self.deliveries[s] for s in self._by_batch.get(batch_id, []))
        ]

    def totals(self) -> dict[str, Any]:
        by_endpoint: Counter[str] = Counter()
        for d in self.deliveries:
            by_endpoint[d.endpoint] += 1
        return {
            "requests": len(self.deliveries),
            "requests_by_endpoint": dict(by_endpoint),
            "recipient_deliveries": self.recipients_total,
            "batches": len(self._by_batch),
            "notices": len(self._by_notice),
        }
