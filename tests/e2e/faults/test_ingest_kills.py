"""Fault test: a 100,000-event feed push while ingest is killed with SIGKILL twice.

The feed sends 100 JSON batches of 1,000 hires, four requests at a time, and re-sends every batch that
got no answer (connection cut, or 503 while ingest restarts), as a feed client must. ingest is killed
when between 25 % and 40 % of the batches were answered, and again between 60 % and 75 %, each time with
requests in flight, and restarted at once. Then:

- every batch has an answer, each event accepted or a duplicate, nothing rejected; a batch is never
  half-applied: its events are either all accepted or (a re-send of a batch committed before the cut)
  all duplicates;
- employment.v1 holds each event once (by ``x-event-id``), and the router's registry holds each worker
  once, with the event id derived from the feed's own id: every event answered with a 2xx is in the
  registry exactly once.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.demo import generate
from services.ingest.domain.employment import event_id_for
from tests.e2e.pipeline.system import System, eventually, topic_event_ids
from tests.support.stack import Stack

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

EVENTS = 100_000
BATCH = 1_000
KILL_WINDOWS = ((0.25, 0.40), (0.60, 0.75))


class FeedPush:
    """Batches sent ``concurrency`` at a time; unanswered ones go back to the queue."""

    def __init__(self, url: str, key: str, batches: list[list[dict[str, Any]]], concurrency: int) -> None:
        self.url, self.key, self.batches, self.concurrency = url, key, batches, concurrency
        self.pending: asyncio.Queue[int] = asyncio.Queue()
        for n in range(len(batches)):
            self.pending.put_nowait(n)
        self.answers: dict[int, dict[str, Any]] = {}
        self.in_flight = 0
        self.unanswered = 0  # requests cut by a kill or refused while restarting
        self.resent: set[int] = set()

    @property
    def answered(self) -> int:
        return len(self.answers)

    async def run(self) -> None:
        async with httpx.AsyncClient(timeout=httpx.Timeout(60, connect=2), trust_env=False) as client:
            await asyncio.gather(*(self._worker(client) for _ in range(self.concurrency)))

    async def _worker(self, client: httpx.AsyncClient) -> None:
        while self.answered < len(self.batches):
            try:
                n = self.pending.get_nowait()
            except asyncio.QueueEmpty:
                await asyncio.sleep(0.01)
                continue
            self.in_flight += 1
            try:
                response = await client.post(
                    f"{self.url}/v1/employment-events",
                    json={"events": self.batches[n]},
                    headers={"Authorization": f"Bearer {self.key}"},
                )
            except httpx.TransportError:
                response = None
            finally:
                self.in_flight -= 1
            if response is not None and response.status_code == 200:
                self.answers[n] = response.json()
                continue
            if response is not None and response.status_code not in (502, 503, 504):
                raise AssertionError(f"batch {n}: {response.status_code} {response.text[:500]}")
            self.unanswered += 1
            self.resent.add(n)
            self.pending.put_nowait(n)
            await asyncio.sleep(0.2)  # the feed's own back-off before re-sending


async def test_every_event_answered_2xx_is_in_the_registry_exactly_once(
    stack: Stack, service_env: dict[str, str], tmp_path: Path
) -> None:
    system = System(
        name="ingestkills",
        kafka_bootstrap=stack.kafka_bootstrap,
        admin_dsn=stack.admin_dsn,
        base_env=service_env,
        log_dir=tmp_path,
        services=("ingest", "router"),
        overrides={"ingest": {"GUNMA_INGEST_FEED_BATCH_MAX": str(BATCH)}},
    )
    await system.start()
    try:
        people = generate.workers(EVENTS, seed=99, separated_share=0)
        events = list(generate.json_events(people))
        batches = [events[i : i + BATCH] for i in range(0, len(events), BATCH)]
        push = FeedPush(system.url("ingest"), system.feed_key, batches, concurrency=4)
        kills: list[dict[str, Any]] = []

        async def killer() -> None:
            for low, high in KILL_WINDOWS:
                while not (push.answered >= low * len(batches) and push.in_flight > 0):
                    assert push.answered <= high * len(batches), f"the push passed {high:.0%} before the kill"
                    await asyncio.sleep(0.002)
                moment = {"answered": push.answered, "in_flight": push.in_flight}
                await system.kill("ingest")
                started = time.monotonic()
                await system.restart("ingest")
                kills.append({**moment, "restart_s": round(time.monotonic() - started, 1)})

        await asyncio.gather(push.run(), killer())

        # The kills happened mid-push, with requests in flight, and cut some of them.
        assert len(kills) == 2, kills
        for (low, high), kill in zip(KILL_WINDOWS, kills, strict=True):
            assert low * len(batches) <= kill["answered"] <= high * len(batches) and kill["in_flight"] > 0, (
                kills
            )
        assert push.unanswered >= 2 and push.resent, (push.unanswered, kills)

        # Every batch answered; each batch all-accepted or all-duplicate (never half-applied).
        statuses: Counter[str] = Counter()
        for n, answer in push.answers.items():
            batch_statuses = {r["status"] for r in answer["results"]}
            assert batch_statuses in ({"accepted"}, {"duplicate"}), (n, batch_statuses, answer["results"][:3])
            assert n in push.resent or batch_statuses == {"accepted"}, n
            statuses.update(r["status"] for r in answer["results"])
        assert statuses["accepted"] + statuses["duplicate"] == EVENTS and statuses["rejected"] == 0

        source = "MHLW employment feed (e2e)"
        expected = {event_id_for(source, e["event_id"]) for e in events}
        in_kafka = await eventually(
            lambda: _complete(system, EVENTS), timeout=120, what="every accepted event in employment.v1"
        )
        assert len(in_kafka) == EVENTS and max(in_kafka.values()) == 1, in_kafka.most_common(3)
        assert set(in_kafka) == expected

        async def applied() -> bool:
            return await system.registry_rows() >= EVENTS

        await eventually(applied, timeout=180, what=f"{EVENTS:,} employments in the registry", interval=1)
        async with system.connection() as conn:
            rows = await conn.fetch("SELECT hired_event_id::text AS id FROM employments")
            accepted = await conn.fetchval("SELECT count(*) FROM ingest_accepted")
        assert len(rows) == EVENTS and {r["id"] for r in rows} == expected
        assert accepted == EVENTS
        print(
            f"\nkills: {kills}; requests cut or refused: {push.unanswered}; "
            f"re-sent batches: {len(push.resent)}; answers: {dict(statuses)}"
        )
    finally:
        await system.stop()


async def _complete(system: System, events: int) -> Counter[str] | None:
    ids = await topic_event_ids(system.kafka_bootstrap, system.topics.employment)
    return ids if sum(ids.values()) >= events else None
