"""End to end over the real processes: the feed's CSV in, notices out, checked person by person.

CSV extract (demo generator, CP932 like a Japanese Excel export) → ingest's HTTP CSV endpoint →
employment.v1 → the router's registry; LINE users follow through the sandbox's signed webhooks;
staff notices through ingest's ``POST /v1/notices`` → router (audience snapshot, batches) → translate
(Apertium APY for Spanish and Brazilian Portuguese, fallbacks for the rest) → sender → the sandbox.
For every subscriber the sandbox's inbox must hold exactly what they should get: each notice of their
audience once, in their language, with the expected text; nothing from a notice they are outside of.

Subscribers come into existence as people do: each simulated phone follows the account through the
sandbox's signed webhooks and goes through the onboarding conversation (language, the employer's
registration code, nationality, status of residence, consent and the residence card number); a few
decline to link their record, two never pick a language, two unfollow. Audiences read only what the
workers declared; the consented link serves the personal reminders.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from babel.dates import format_date

from services.common import languages
from services.common.contracts import derived_id
from services.common.pseudonym import worker_id
from services.demo import generate
from services.demo.generate import Employer, Worker
from services.line_sandbox.client import SandboxClient
from services.line_sandbox.phone import Phone, new_user_id
from services.router.dialogue import CONSENT_VERSION

from .oracle import MACHINE, Oracle
from .system import System, eventually

pytestmark = pytest.mark.timeout(600)

SEED = 8
MAEBASHI, TAKASAKI, ISESAKI, OTA = (c.code for c in generate.PILOT_CITIES)


@dataclass
class Subscriber:
    """What a subscriber declared (employer and city from the registration code, nationality): notice
    audiences read only that (consent scope, migration 0101); a consented link to the employment record
    (``worker``) serves personal reminders."""

    user: str
    language: str | None
    employer: Employer | None = None
    nationality: str | None = None
    worker: Worker | None = None
    followed: bool = True

    @property
    def city(self) -> str | None:
        return self.employer.municipality_code if self.employer else None

    @property
    def establishment(self) -> str | None:
        return self.employer.registry_id if self.employer else None

    @property
    def reachable(self) -> bool:
        return self.followed and self.language is not None


@dataclass
class World:
    system: System
    people: list[Worker]
    subscribers: list[Subscriber]
    rows: int
    summary: dict[str, Any]


def _line_language(language: str) -> str:
    """What the phone's LINE app would report (LINE has no Easy Japanese)."""
    return "ja" if language == "ja-x-easy" else language


def _choose_followers(people: list[Worker], today: Any) -> list[Worker]:
    """Up to three workers per language, and some whose period of stay ends within 14, 30 and 90 days."""
    chosen: dict[str, Worker] = {}
    by_language: dict[str, list[Worker]] = defaultdict(list)
    for person in people:
        by_language[person.language].append(person)
    for language in sorted(by_language):
        for person in by_language[language][:3]:
            chosen[person.card_number] = person
    for low, high in ((1, 14), (15, 30), (61, 90)):
        for person in people:
            if (
                person.period_expires_on
                and low <= (person.period_expires_on - today).days <= high
                and person.active
            ):
                chosen[person.card_number] = person
                break
    separated = next(p for p in people if not p.active)
    chosen[separated.card_number] = separated
    return list(chosen.values())


async def _onboard(
    line: SandboxClient, worker: Worker, code: dict[str, Any], *, consent: bool, choose: bool = True
) -> Phone:
    """The worker's phone goes through the onboarding conversation as a person does: follow, pick a
    language, send the employer's registration code (what its QR code's deep link sends), nationality,
    status of residence, consent to link the employment record and, if given, the residence card number
    (ingest hashes it at the door). ``choose=False``: the worker follows and stops there."""
    phone = Phone(line, new_user_id(), _line_language(worker.language), timeout=60)
    await phone.follow()
    if not choose:
        return phone
    await phone.tap(f"cmd=set_language&lang={worker.language}")
    await phone.say(code["message"])
    await phone.tap(f"cmd=set_nationality&c={worker.nationality}")
    await phone.tap(f"cmd=set_status&s={worker.residence_status.value}")
    await phone.tap(f"cmd=consent&v={CONSENT_VERSION}&a={'yes' if consent else 'no'}")
    if consent:
        await phone.say(worker.card_number)
    return phone


@pytest.fixture(scope="module")
async def world(pipeline: System) -> World:
    today = datetime.now(ZoneInfo("Asia/Tokyo")).date()
    people = list(generate.workers(240, seed=SEED, today=today, employers_per_city=3))
    body = generate.csv_bytes(people, encoding="cp932")
    summary = await pipeline.upload_csv(body, filename="2026-04-gunma.csv", charset="shift_jis")
    rows = len(people) + sum(1 for p in people if not p.active)
    assert (summary["rows"], summary["accepted"], summary["rejected"]) == (rows, rows, 0), summary
    await eventually(
        lambda: _registry_complete(pipeline, len(people)),
        timeout=120,
        what=f"{len(people)} employments applied",
    )

    followers = _choose_followers(people, today)
    others = [p for p in people if p not in followers]
    declining, silent = others[:6], others[6:8]
    codes = {}
    for employer in {p.employer.registry_id: p.employer for p in people}.values():
        codes[employer.registry_id] = await pipeline.issue_code(
            establishment_id=employer.establishment_id,
            name=employer.name,
            municipality_code=employer.municipality_code,
        )

    gate = asyncio.Semaphore(10)

    async def one(worker: Worker, consent: bool, choose: bool) -> Subscriber:
        async with gate:
            phone = await _onboard(
                line, worker, codes[worker.employer.registry_id], consent=consent, choose=choose
            )
        if not choose:
            return Subscriber(phone.user_id, None)
        return Subscriber(
            phone.user_id, worker.language, worker.employer, worker.nationality, worker if consent else None
        )

    def consents(n: int, worker: Worker) -> bool:
        # every third one links the record, and all whose period of stay ends within 90 days
        soon = worker.period_expires_on is not None and (worker.period_expires_on - today).days <= 90
        return n % 3 == 0 or soon

    async with pipeline.sandbox() as line:
        subscribers = list(
            await asyncio.gather(
                *(one(w, consents(n, w), True) for n, w in enumerate(followers)),
                *(one(w, False, True) for w in declining),
                *(one(w, False, False) for w in silent),
            )
        )
        unfollowing = [s for s in subscribers if s.language in ("es", "vi")][:2]
        for sub in unfollowing:
            await Phone(line, sub.user).unfollow()
            sub.followed = False

    # What the conversation recorded is what the audiences will read.
    async with pipeline.connection() as conn:
        recorded = {
            r["line_user_id"]: r
            for r in await conn.fetch(
                "SELECT line_user_id, language, followed, establishment_id, municipality_code, nationality,"
                " worker_id IS NOT NULL AS linked FROM subscribers"
            )
        }
    for sub in subscribers:
        row = recorded[sub.user]
        assert row["language"] == sub.language, (sub, dict(row))
        assert (row["establishment_id"], row["municipality_code"]) == (sub.establishment, sub.city), dict(row)
        assert row["nationality"] == sub.nationality and row["linked"] == (sub.worker is not None), dict(row)
    gone = [s.user for s in subscribers if not s.followed]

    async def unfollow_applied() -> bool:
        async with pipeline.connection() as conn:
            n = await conn.fetchval(
                "SELECT count(*) FROM subscribers WHERE NOT followed AND line_user_id = ANY($1::text[])", gone
            )
        return int(n) == len(gone)

    await eventually(unfollow_applied, timeout=60, what="unfollows applied")
    return World(pipeline, people, subscribers, rows, summary)


async def _registry_complete(system: System, workers: int) -> bool:
    return await system.registry_rows() == workers


async def test_the_feed_lands_in_the_registry_as_sent(world: World) -> None:
    """Every worker of the CSV is one employment with the facts of its rows; names of people are not
    kept; the card number is only a keyed hash."""
    pepper = world.system.base_env["GUNMA_WORKER_ID_PEPPER"].encode()
    async with world.system.connection() as conn:
        rows = {
            r["worker_id"]: r
            for r in await conn.fetch(
                "SELECT worker_id, establishment_id, municipality_code, nationality, residence_status,"
                " period_expires_on, hired_on, separated_on, active FROM employments"
            )
        }
        establishments = await conn.fetchval("SELECT count(*) FROM establishments")
    assert len(rows) == len(world.people)
    assert establishments == len({p.employer.establishment_id for p in world.people})
    for person in world.people:
        row = rows[worker_id(person.card_number, pepper)]
        assert row["establishment_id"] == person.employer.registry_id
        assert row["municipality_code"] == person.employer.municipality_code
        assert row["nationality"] == person.nationality
        assert row["residence_status"] == person.residence_status.value
        assert row["period_expires_on"] == person.period_expires_on
        assert row["hired_on"] == person.hired_on
        assert row["separated_on"] == person.separated_on
        assert row["active"] is person.active
    assert world.summary["encoding"].lower() in ("cp932", "shift_jis", "windows-31j")


NOTICES: list[tuple[str, dict[str, Any], Callable[[Subscriber, list[Employer]], bool]]] = [
    (
        "garbage days, two cities",
        {
            "title": "New garbage collection days from next month",
            "body": "From next month, burnable garbage is collected on Monday and Thursday mornings. "
            "Put it out at the collection point by eight in the morning.\n\n"
            "Plastic containers are collected on Wednesday. Please rinse them before you put them out.\n\n"
            "If you are not sure how to sort your garbage, ask your city office.",
            "source_language": "en",
            "category": "garbage",
            "audience": {"cities": [ISESAKI, OTA]},
        },
        lambda s, _: s.city in (ISESAKI, OTA),
    ),
    (
        "consultation day, two nationalities",
        {
            "title": "Free consultation day for workers from Brazil and Peru",
            "body": "On Sunday there is a free consultation day at the international center. "
            "You can ask about work, housing, school and health.\n\n"
            "Interpreters for Portuguese and Spanish will be there.",
            "source_language": "en",
            "category": "other",
            "audience": {"nationalities": ["ブラジル", "PE"]},
        },
        lambda s, _: s.nationality in ("BR", "PE"),
    ),
    (
        "resident tax, everyone (Japanese source)",
        {
            "title": "住民税の納付について",
            "body": "6月に住民税の納税通知書が届きます。期限までに納付してください。\n\n"
            "分からないことがあれば、市役所の税務課に相談してください。",
            "source_language": "ja",
            "category": "tax",
            "audience": {},
        },
        lambda s, _: True,
    ),
    (
        "cycling rules, one employer",
        {
            "title": "Cycling rules: new fines from April",
            "body": "Riding a bicycle while using a phone or without lights at night can now be fined. "
            "Always ride on the left side of the road.",
            "source_language": "en",
            "category": "traffic",
            "audience": {"employers": ["{employer0}"]},
        },
        lambda s, employers: s.establishment == employers[0].registry_id,
    ),
]


async def test_each_notice_reaches_exactly_its_audience_in_each_language(
    world: World, apertium_url: str
) -> None:
    system, oracle = world.system, Oracle(apertium_url)
    employers = sorted(
        {p.employer.establishment_id: p.employer for p in world.people}.values(), key=lambda e: e.name
    )
    submitted: list[tuple[str, uuid.UUID, dict[str, Any], list[Subscriber]]] = []
    for name, notice, rule in NOTICES:
        audience = {
            k: [employers[0].establishment_id if v == "{employer0}" else v for v in values]
            for k, values in notice["audience"].items()
        }
        body = {**notice, "audience": audience}
        expected = [s for s in world.subscribers if s.reachable and rule(s, employers)]
        assert expected, f"{name}: the test data give this notice nobody to reach"
        submitted.append((name, await system.submit_notice(body), body, expected))

    for name, notice_id, _, expected in submitted:
        summary = await system.wait_delivered(notice_id, len(expected), timeout=180)
        assert summary["duplicate_deliveries"] == 0, (name, summary)
        assert summary["distinct_recipients"] == len(expected), (name, summary)
        status = await system.notice_status(notice_id)
        assert status["totals"]["planned"] == len(expected), (name, status)
        assert status["totals"]["sent"] == len(expected) and status["totals"]["failed"] == 0, (name, status)
        assert {row["language"] for row in status["languages"]} == {s.language for s in expected}

    async with system.sandbox() as line:
        inboxes = dict(
            zip(
                [s.user for s in world.subscribers],
                await asyncio.gather(*(line.inbox(s.user) for s in world.subscribers)),
                strict=True,
            )
        )
        assert await line.duplicates() == []
    failures: list[str] = []
    for name, notice_id, body, expected in submitted:
        targets = {s.user for s in expected}
        for sub in world.subscribers:
            got = [m for m in inboxes[sub.user] if m["notice_id"] == str(notice_id)]
            if sub.user not in targets:
                if got:
                    failures.append(
                        f"{name}: {sub.user[:8]} ({sub.language}) is outside the audience but got it"
                    )
                continue
            if len(got) != 1:
                failures.append(f"{name}: {sub.user[:8]} ({sub.language}) got it {len(got)} times")
                continue
            assert sub.language is not None
            want = await oracle.expected(
                title=body["title"],
                body=body["body"],
                source_language=body["source_language"],
                reader=sub.language,
            )
            texts = [m["text"] for m in got[0]["messages"]]
            if got[0]["language"] != sub.language or texts != [want]:
                failures.append(
                    f"{name}: {sub.user[:8]} reads {sub.language}, got {got[0]['language']}: "
                    f"{texts!r}, want {want!r}"
                )
    assert not failures, "\n".join(failures)

    covered = {s.language for _, _, _, expected in submitted for s in expected}
    assert covered >= MACHINE and "en" in covered and len(covered) >= 8, covered


async def test_personal_reminders_reach_their_worker_once(world: World) -> None:
    """Linked workers whose period of stay ends soon get the expiry reminder by push, once, in their
    language, with the date written in the text's locale."""
    system = world.system
    linked = {s.user: s for s in world.subscribers if s.worker is not None}

    async def published() -> list[Any] | None:
        async with system.connection() as conn:
            rows = await conn.fetch(
                "SELECT rule_id, line_user_id, language, batch_id, values, state FROM reminder_deliveries"
            )
        if not rows or any(r["state"] == "pending" for r in rows):
            return None
        return list(rows)

    rows = await eventually(published, timeout=120, what="expiry reminders raised and published")
    rules = {r["rule_id"] for r in rows}
    assert {"residence-expiry-14", "residence-expiry-30", "residence-expiry-90"} <= rules, rules

    async def arrived() -> bool:
        async with system.sandbox() as line:
            for row in rows:
                if row["state"] != "published":
                    continue
                if not any(m["batch_id"] == row["batch_id"] for m in await line.inbox(row["line_user_id"])):
                    return False
        return True

    await eventually(arrived, timeout=120, what="every published reminder in its inbox", interval=1)
    async with system.sandbox() as line:
        for row in rows:
            sub = linked[row["line_user_id"]]
            inbox = await line.inbox(sub.user)
            notice = str(derived_id("reminder", row["rule_id"]))
            got = [m for m in inbox if m["notice_id"] == notice]
            if row["state"] != "published":
                assert got == [], row
                continue
            assert len(got) == 1 and got[0]["endpoint"] == "push", got
            assert got[0]["language"] == sub.language == row["language"]
            values = row["values"] if isinstance(row["values"], dict) else orjson.loads(row["values"])
            text = "\n".join(m["text"] for m in got[0]["messages"])
            written_in = sub.language if sub.language in ("en", *MACHINE) else "en"
            locale = languages.get(written_in).babel_locale
            when = date.fromisoformat(values["date"])
            assert format_date(when, "long", locale=locale) in text, (sub.language, text)
