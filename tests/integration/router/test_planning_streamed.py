"""The audience snapshot taken page by page (issue 8): published while it is taken, one MVCC snapshot for
all pages, and a release cut short resumed without anyone twice, with the same batch ids.

The planner runs here without a router process; its publisher records what it was given. Each test's
notice is due ten years after any running router's clock, so only these planners release it.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from services.common import db
from services.common.contracts import (
    AudienceFilter,
    DeliveryPlanned,
    NoticeContent,
    NoticeSubmitted,
    batch_id_for,
)
from services.common.kafka import Publisher
from services.router.domain.quiet_hours import QuietHours
from services.router.planning import Planner, Released, record_notices
from tests.integration.router.conftest import line_user, seed_subscribers

TOKYO = ZoneInfo("Asia/Tokyo")
LATER = datetime(2036, 5, 1, 10, 0, tzinfo=TOKYO)
NO_QUIET_HOURS = QuietHours(LATER.time(), LATER.time(), TOKYO)


class Recorder(Publisher):
    """Keeps what would have gone to Kafka for one notice (others of the session's database pass);
    ``before(call)`` runs before each of that notice's calls and may raise."""

    def __init__(self, notice_id: uuid.UUID, before: Callable[[int], Awaitable[None]] | None = None) -> None:
        self.notice_id = notice_id
        self.calls: list[list[DeliveryPlanned]] = []
        self._before = before

    async def publish_many(self, topic: str, events: Iterable[tuple[str, Any]]) -> int:
        batch = [event for _, event in events]
        if not batch or batch[0].notice_id != self.notice_id:
            return len(batch)
        if self._before is not None:
            await self._before(len(self.calls) + 1)
        self.calls.append(batch)
        return len(batch)

    @property
    def plans(self) -> list[DeliveryPlanned]:
        return [plan for call in self.calls for plan in call]


def planner(pool: db.Pool, publisher: Publisher, *, chunk: int = 2, fallback: str | None = None) -> Planner:
    return Planner(
        pool=pool,
        publisher=publisher,
        topic="unused",
        quiet=NO_QUIET_HOURS,
        batch_size=500,
        publish_chunk=chunk,
        fallback_language=fallback,
    )


async def submit(pool: db.Pool, tag: str) -> NoticeSubmitted:
    notice = NoticeSubmitted(
        notice_id=uuid.uuid4(),
        content=NoticeContent(
            title="Rain", body="Heavy rain tonight.", source_language="en", category="disaster"
        ),
        audience=AudienceFilter(employers=(tag,)),
        submitted_by="test-key",
    )
    async with pool.acquire() as conn, conn.transaction():
        await record_notices(conn, [notice], now=LATER, quiet=NO_QUIET_HOURS)
    return notice


async def release(planning: Planner, notice_id: uuid.UUID, now: datetime = LATER) -> Released:
    """Release due notices until this one was (others of the session's database may be due too)."""
    while True:
        released = await planning.release_next(now)
        assert released is not None, "the notice was never released"
        if released.notice_id == notice_id:
            return released


async def people(pool: db.Pool, tag: str, counts: dict[str | None, int]) -> dict[str | None, list[str]]:
    made = {language: sorted(line_user() for _ in range(n)) for language, n in counts.items()}
    await seed_subscribers(
        pool,
        [
            {"line_user_id": u, "language": language, "declared_establishment_id": tag}
            for language, users in made.items()
            for u in users
        ],
    )
    return made


def by_batch(plans: list[DeliveryPlanned]) -> dict[str, DeliveryPlanned]:
    counted = Counter(p.batch_id for p in plans)
    assert max(counted.values()) == 1, counted.most_common(3)
    return {p.batch_id: p for p in plans}


async def test_pages_go_out_while_the_snapshot_is_taken_and_all_see_the_release_moment(pool: db.Pool) -> None:
    tag = f"S{uuid.uuid4().hex[:10].upper()}"
    made = await people(pool, tag, {"en": 1200, "th": 700, "vi": 1200})
    notice = await submit(pool, tag)
    moved_en_to_vi = made["en"][-1]  # in en's last batch, not yet read at the first publish
    moved_vi_to_en = made["vi"][0]
    unfollowed = made["en"][-2]
    newcomer = line_user()
    seen: dict[str, Any] = {}

    async def meanwhile(call: int) -> None:
        if call != 1:
            return
        async with pool.acquire() as conn:
            seen["completed_at_first_publish"] = await conn.fetchval(
                "SELECT snapshot_completed_at FROM notices WHERE notice_id = $1", notice.notice_id
            )
            await conn.execute(
                "UPDATE subscribers SET language = 'vi' WHERE line_user_id = $1", moved_en_to_vi
            )
            await conn.execute(
                "UPDATE subscribers SET language = 'en' WHERE line_user_id = $1", moved_vi_to_en
            )
            await conn.execute("UPDATE subscribers SET followed = false WHERE line_user_id = $1", unfollowed)
        await seed_subscribers(
            pool, [{"line_user_id": newcomer, "language": "th", "declared_establishment_id": tag}]
        )

    recorder = Recorder(notice.notice_id, meanwhile)
    await release(planner(pool, recorder), notice.notice_id)
    assert seen["completed_at_first_publish"] is None, "the first page left before the snapshot was complete"
    assert len(recorder.calls) > 1 and len(recorder.calls[0]) == 2
    plans = by_batch(recorder.plans)
    for language, users in made.items():
        batches = sorted((p for p in plans.values() if p.language == language), key=lambda p: p.batch_no)
        assert [p.batch_id for p in batches] == [
            batch_id_for(notice.notice_id, str(language), k) for k in range(-(-len(users) // 500))
        ]
        assert [u for p in batches for u in p.recipients] == users, f"{language}: as at the release"
    assert {p.notice_recipients for p in plans.values()} == {3100}
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT state, recipients, batches, snapshot_completed_at FROM notices WHERE notice_id = $1",
            notice.notice_id,
        )
    assert row is not None
    assert (row["state"], row["recipients"], row["batches"]) == ("planned", 3100, 3 + 2 + 3)
    assert row["snapshot_completed_at"] is not None


async def test_a_release_cut_short_resumes_with_the_same_batches_and_nobody_twice(pool: db.Pool) -> None:
    tag = f"R{uuid.uuid4().hex[:10].upper()}"
    made = await people(pool, tag, {"en": 1300, "vi": 1100})
    notice = await submit(pool, tag)

    async def cut(call: int) -> None:
        if call == 2:
            raise ConnectionResetError("the broker went away")

    first = Recorder(notice.notice_id, cut)
    try:
        await release(planner(pool, first), notice.notice_id)
        raise AssertionError("the publisher should have failed")
    except ConnectionResetError:
        pass
    async with pool.acquire() as conn:
        stored = await conn.fetch(
            "SELECT language, batch_no, published_at IS NOT NULL AS published FROM notice_batches"
            " WHERE notice_id = $1 ORDER BY 1, 2",
            notice.notice_id,
        )
        state = await conn.fetchval("SELECT state FROM notices WHERE notice_id = $1", notice.notice_id)
        # Across the cut: someone already planned (en) switches to a language not read yet, and
        # someone registers. Neither may get the notice (again).
        switched = made["en"][0]
        await conn.execute("UPDATE subscribers SET language = 'vi' WHERE line_user_id = $1", switched)
    newcomer = line_user()
    await seed_subscribers(
        pool, [{"line_user_id": newcomer, "language": "vi", "declared_establishment_id": tag}]
    )
    assert state == "publishing"
    # Small pages are published together: en's last batch waited for vi's first page, and that publish
    # was cut after the three batches had been committed.
    assert [(r["language"], r["batch_no"], r["published"]) for r in stored] == [
        ("en", 0, True),
        ("en", 1, True),
        ("en", 2, False),
        ("vi", 0, False),
        ("vi", 1, False),
    ]

    second = Recorder(notice.notice_id)
    await release(planner(pool, second), notice.notice_id)
    assert [p.batch_id for p in second.plans[:3]] == [
        batch_id_for(notice.notice_id, "en", 2),
        batch_id_for(notice.notice_id, "vi", 0),
        batch_id_for(notice.notice_id, "vi", 1),
    ], "the committed batches go first, as they were stored"
    plans = by_batch(first.plans + second.plans)
    assert sorted(plans) == sorted(
        [batch_id_for(notice.notice_id, "en", k) for k in range(3)]
        + [batch_id_for(notice.notice_id, "vi", k) for k in range(3)]
    )
    everyone = [u for p in plans.values() for u in p.recipients]
    assert len(everyone) == len(set(everyone)) == 2400
    assert set(everyone) == set(made["en"]) | set(made["vi"])
    assert newcomer not in everyone
    vi = [u for p in plans.values() if p.language == "vi" for u in p.recipients]
    assert switched not in vi
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT state, recipients, batches FROM notices WHERE notice_id = $1", notice.notice_id
        )
    assert row is not None
    assert (row["state"], row["recipients"], row["batches"]) == ("planned", 2400, 6)


async def test_without_a_language_the_fallback_readers_are_batched_with_it(pool: db.Pool) -> None:
    tag = f"F{uuid.uuid4().hex[:10].upper()}"
    made = await people(pool, tag, {"en": 600, None: 450, "vi": 10})
    notice = await submit(pool, tag)
    recorder = Recorder(notice.notice_id)
    await release(planner(pool, recorder, chunk=100, fallback="en"), notice.notice_id)
    plans = by_batch(recorder.plans)
    en = sorted((p for p in plans.values() if p.language == "en"), key=lambda p: p.batch_no)
    assert [len(p.recipients) for p in en] == [500, 500, 50]
    readers = [u for p in en for u in p.recipients]
    assert readers == sorted(made["en"] + made[None])
    assert {p.notice_recipients for p in plans.values()} == {1060}
    assert len(recorder.calls) == 1, "a small notice goes out in one publish"
    assert delivered_once(plans.values()) == 1060
    assert notice.notice_id == en[0].notice_id


def delivered_once(plans: Iterable[DeliveryPlanned]) -> int:
    everyone = [u for p in plans for u in p.recipients]
    assert len(everyone) == len(set(everyone))
    return len(everyone)


async def test_an_empty_audience_is_planned_with_nobody(pool: db.Pool) -> None:
    notice = await submit(pool, f"N{uuid.uuid4().hex[:10].upper()}")
    recorder = Recorder(notice.notice_id)
    released = await release(planner(pool, recorder), notice.notice_id)
    assert (released.recipients, released.batches) == (0, 0)
    assert recorder.calls == []
    async with pool.acquire() as conn:
        assert (
            await conn.fetchval("SELECT state FROM notices WHERE notice_id = $1", notice.notice_id)
            == "planned"
        )
