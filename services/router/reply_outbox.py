"""The conversation's replies: written with the state they answer, published after the commit.

Why an outbox rather than publishing inside the consumer's transaction: the reply must exist if and only
if the turn that produced it committed. Publishing first and committing second could send a reply whose
turn then rolls back (the retry computes the turn again with a later clock, possibly differently); the
opposite order loses the reply if the process dies between the commit and the publish. So the
DeliveryReady is a row of ``conversation_outbox`` in the turn's transaction, and:

1. right after the commit, the consumer relays the rows it wrote (a few milliseconds: replies must beat
   LINE's reply-token lifetime);
2. a loop relays whatever is left (a crash, Kafka down) every ``GUNMA_ROUTER_DIALOGUE_RELAY_POLL_SECONDS``;
3. a relay takes rows ``FOR UPDATE SKIP LOCKED``, publishes them, waits for Kafka's acknowledgement
   (acks=all), deletes them and commits: two relays (replicas, or the loop and the consumer) never publish
   the same row at once. A crash after the acknowledgement and before the delete publishes the row again
   with the same event and batch ids; the sender's ``sender_batches`` record (and LINE's retry key for
   pushes) makes that second copy a no-op.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from prometheus_client import Counter, Gauge

from services.common.contracts import DeliveryReady
from services.common.db import Connection, Pool
from services.common.kafka import Publisher
from services.common.kafka.consumer import TRANSIENT
from services.common.kafka.publisher import headers_for

log = logging.getLogger(__name__)

Housekeeping = Callable[[Connection], Awaitable[object]]
#: How often the loop runs its housekeeping (forgetting old webhook ids).
HOUSEKEEPING_SECONDS = 3600.0

RELAYED = Counter("gunma_router_replies_relayed_total", "Conversation replies published", ["path"])
PENDING = Gauge(
    "gunma_router_replies_pending", "Conversation replies waiting in the outbox (last relay loop)"
)


async def stage(conn: Connection, deliveries: Sequence[DeliveryReady]) -> list[int]:
    """Write replies into the outbox (inside the caller's transaction); returns their row ids."""
    if not deliveries:
        return []
    rows = await conn.fetch(
        """
        INSERT INTO conversation_outbox (key, payload, headers)
        SELECT * FROM unnest($1::text[], $2::bytea[], $3::jsonb[])
        RETURNING id
        """,
        [d.key for d in deliveries],
        [d.model_dump_json().encode() for d in deliveries],
        [headers_for(d) for d in deliveries],
    )
    return sorted(int(r["id"]) for r in rows)


class ReplyRelay:
    def __init__(
        self, *, pool: Pool, publisher: Publisher, topic: str, poll_seconds: float, chunk: int = 200
    ):
        self._pool = pool
        self._publisher = publisher
        self._topic = topic
        self._poll = poll_seconds
        self._chunk = chunk
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._housekeeping: Housekeeping | None = None

    async def relay(self, ids: Sequence[int] | None = None, *, path: str = "loop") -> int:
        """Publish and delete outbox rows: these ``ids``, or (None) the oldest ``chunk`` rows."""
        if ids is not None and not ids:
            return 0
        async with self._pool.acquire() as conn, conn.transaction():
            if ids is None:
                rows = await conn.fetch(
                    "SELECT id, key, payload, headers FROM conversation_outbox ORDER BY id"
                    " LIMIT $1 FOR UPDATE SKIP LOCKED",
                    self._chunk,
                )
            else:
                rows = await conn.fetch(
                    "SELECT id, key, payload, headers FROM conversation_outbox WHERE id = ANY($1::bigint[])"
                    " ORDER BY id FOR UPDATE SKIP LOCKED",
                    list(ids),
                )
            if not rows:
                return 0
            # Sent in id order; the producer keeps that order per partition.
            await asyncio.gather(
                *(
                    self._publisher.publish_raw(
                        self._topic, bytes(r["payload"]), key=r["key"].encode(), headers=dict(r["headers"])
                    )
                    for r in rows
                )
            )
            await conn.execute(
                "DELETE FROM conversation_outbox WHERE id = ANY($1::bigint[])", [r["id"] for r in rows]
            )
        RELAYED.labels(path).inc(len(rows))
        return len(rows)

    async def relay_after_commit(self, ids: Sequence[int]) -> None:
        """The consumer's fast path; a failure leaves the rows to the loop (the turn is committed)."""
        try:
            await self.relay(ids, path="after_commit")
        except TRANSIENT as error:
            log.warning("replies not published yet, the relay loop will", extra={"error": repr(error)[:300]})
            self._wake.set()

    def start(self, *, housekeeping: Housekeeping | None = None) -> None:
        """Run the loop; ``housekeeping(conn)`` runs at start and then hourly."""
        self._housekeeping = housekeeping
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="conversation-reply-relay")

    async def stop(self, timeout: float) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        # Bounded even if a cancellation gets lost in a client call: the loop then ends at its next
        # turn by itself, as the task is no longer ours (awaiting it could hang the shutdown).
        await asyncio.wait([task], timeout=timeout)

    async def _run(self) -> None:
        next_housekeeping = time.monotonic()
        while asyncio.current_task() is self._task:
            try:
                while await self.relay() >= self._chunk:
                    pass
                async with self._pool.acquire() as conn:
                    PENDING.set(await conn.fetchval("SELECT count(*) FROM conversation_outbox"))
                    if self._housekeeping is not None and time.monotonic() >= next_housekeeping:
                        next_housekeeping = time.monotonic() + HOUSEKEEPING_SECONDS
                        await self._housekeeping(conn)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # keep relaying whatever happens; the rows wait
                log.warning("reply relay failed, retrying", extra={"error": repr(error)[:300]})
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll)
