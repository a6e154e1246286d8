"""The demo scenario that ``./dev up`` plays against the running system, as its users would.

1. the government feed sends a CSV extract: 10,000 foreign workers of 100 employers in four pilot cities;
2. the prefecture issues registration codes to the employers of the workers who will follow;
3. a few hundred of those workers add the LINE account in the sandbox and onboard in their language
   (language, employer code, nationality, status of residence, consent, residence card number);
   those whose period of stay ends within 90 days get their personal expiry reminder;
4. staff send example notices (garbage collection in Isesaki, cycling rules, resident tax, renewing the
   period of stay), one with an approved Vietnamese translation;
5. it shows what each sample worker received, in their language, and the statistics.

Everything goes through the public interfaces: ingest's HTTP API, the router's and translate's staff
APIs, and signed webhooks from the LINE sandbox. Only the API keys are created directly in PostgreSQL,
as an operator does with ``gunma keys create``.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from rich.console import Console
from rich.table import Table

from services.common import auth, db, languages
from services.line_sandbox.client import SandboxClient
from services.line_sandbox.phone import Phone
from services.router.dialogue import CONSENT_VERSION

from . import generate

TOKYO = ZoneInfo("Asia/Tokyo")
_DEMO_NAMESPACE = uuid.UUID("0b8e5a86-51f3-5a43-9d3c-2d2f3c1e7a10")


@dataclass(frozen=True)
class Endpoints:
    ingest: str
    router: str
    translate: str
    sandbox: str
    sandbox_admin_token: str
    database_url: str


@dataclass(frozen=True)
class DemoPlan:
    workers: int = 10_000
    followers: int = 300
    #: share of followers who decline to link their employment record
    decline_every: int = 6
    concurrency: int = 12
    seed: int = generate.DEFAULT_SEED


@dataclass
class DemoResult:
    keys: dict[str, str]
    accepted_rows: int = 0
    followers: list[generate.Worker] = field(default_factory=list)
    onboarded: int = 0
    linked: int = 0
    failures: list[str] = field(default_factory=list)
    notices: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ExampleNotice:
    key: str
    title: str
    body: str
    category: str
    cities: tuple[str, ...] = ()


NOTICES: tuple[ExampleNotice, ...] = (
    ExampleNotice(
        "garbage",
        "Garbage collection in Isesaki",
        "Put your garbage out by 8:30 in the morning on the collection day for your area, at your "
        "neighbourhood's collection point.\n\nSort it: burnable garbage, non-burnable garbage, cans, "
        "bottles and PET bottles go out on different days. Use the bags the city designates. Large items "
        "such as furniture need a reservation.\n\nThe collection calendar for your area is at the city "
        "office and on the city's website.",
        "garbage",
        ("102041",),
    ),
    ExampleNotice(
        "cycling",
        "Cycling rules: fines for cyclists",
        "Since April 2026, cyclists aged 16 and over who break traffic rules can be fined, like car "
        "drivers.\n\nRide on the left side of the road. Use a light at night. Do not use your phone or "
        "hold an umbrella while riding. Never ride after drinking alcohol. Please wear a helmet.",
        "traffic",
    ),
    ExampleNotice(
        "tax",
        "Resident tax",
        "Resident tax is charged on last year's income by the city where you lived on 1 January.\n\nIf "
        "it is not taken from your salary, the city sends you payment slips in June: you can pay in four "
        "instalments at a bank or a convenience store.\n\nIf you leave Japan, pay the rest before you "
        "leave or name a tax representative at the city office.",
        "tax",
    ),
    ExampleNotice(
        "renewal",
        "Renewing your period of stay",
        "You can apply to extend your period of stay from about 3 months before it ends, at the "
        "Regional Immigration Services Bureau (in Gunma: the Takasaki branch office).\n\nApply before "
        "the date on your residence card. Staying after that date without applying is illegal, even "
        "for one day.",
        "immigration",
    ),
)

#: A human translation staff approve before release: it wins over the machine's.
APPROVED_VIETNAMESE = {
    "title": "Gia hạn thời gian lưu trú",
    "body": "Bạn có thể nộp đơn xin gia hạn thời gian lưu trú từ khoảng 3 tháng trước ngày hết hạn, "
    "tại Cục Quản lý Xuất nhập cảnh và Lưu trú khu vực (ở Gunma: văn phòng chi nhánh Takasaki).\n\n"
    "Hãy nộp đơn trước ngày ghi trên thẻ lưu trú. Ở lại sau ngày đó mà không nộp đơn là vi phạm "
    "pháp luật, dù chỉ một ngày.",
}


def line_user_id(worker: generate.Worker) -> str:
    """A stable LINE user id per demo worker, so a rerun meets the same people."""
    return "U" + uuid.uuid5(_DEMO_NAMESPACE, worker.event_id).hex


def choose_followers(people: Sequence[generate.Worker], count: int) -> list[generate.Worker]:
    """Every n-th worker still employed: a spread over cities, employers and languages."""
    active = [w for w in people if w.active]
    step = max(1, len(active) // max(count, 1))
    return active[::step][:count]


async def create_keys(database_url: str) -> dict[str, str]:
    """Fresh feed, staff and ops keys for the demo (earlier demo keys are revoked)."""
    conn = await db.connect(database_url, application_name="gunma-demo")
    try:
        await conn.execute(
            "UPDATE api_keys SET revoked_at = now() WHERE name LIKE 'demo-%' AND revoked_at IS NULL"
        )
        keys: dict[str, str] = {}
        for role in (auth.Role.FEED, auth.Role.STAFF, auth.Role.OPS):
            keys[role.value], _ = await auth.create_key(conn, name=f"demo-{role.value}", role=role)
        return keys
    finally:
        await conn.close()


class Demo:
    def __init__(self, endpoints: Endpoints, plan: DemoPlan, state_dir: Path, console: Console) -> None:
        self.endpoints = endpoints
        self.plan = plan
        self.state_dir = state_dir
        self.console = console
        self.today = datetime.now(TOKYO).date()

    def _http(self, base_url: str, key: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=120, trust_env=False
        )

    async def run(self) -> DemoResult:
        result = DemoResult(keys=await create_keys(self.endpoints.database_url))
        people = list(generate.workers(self.plan.workers, seed=self.plan.seed, today=self.today))
        await self._feed(people, result)
        result.followers = choose_followers(people, self.plan.followers)
        async with SandboxClient(self.endpoints.sandbox, self.endpoints.sandbox_admin_token) as sandbox:
            codes = await self._issue_codes(result)
            await self._onboard(sandbox, codes, result)
            await self._send_notices(result)
            await self._wait_for_deliveries(result)
            await self._show(sandbox, result)
        return result

    # --- 1. the government feed ----------------------------------------------------------------
    async def _feed(self, people: list[generate.Worker], result: DemoResult) -> None:
        path = self.state_dir / "employment.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = generate.write_csv(path, people, encoding="cp932")
        started = time.monotonic()
        async with self._http(self.endpoints.ingest, result.keys["feed"]) as http:
            with path.open("rb") as handle:
                answer = await http.post(
                    "/v1/employment-events/csv",
                    content=_chunks(handle),
                    headers={"Content-Type": "text/csv"},
                )
        if answer.status_code >= 300:
            raise RuntimeError(f"the feed upload failed: {answer.status_code} {answer.text[:300]}")
        summary = json.loads(answer.text.splitlines()[0])
        result.accepted_rows = int(summary.get("accepted", 0)) + int(summary.get("duplicates", 0))
        self.console.print(
            f"[bold]1. Feed[/bold]  {rows:,} CSV rows (CP932, Japanese headers) -> ingest: "
            f"{summary.get('accepted', 0):,} accepted, {summary.get('duplicates', 0):,} duplicates, "
            f"{summary.get('rejected', 0):,} rejected in {time.monotonic() - started:.1f} s"
        )
        await self._wait_for_registry(len(people))

    async def _wait_for_registry(self, workers: int, timeout: float = 120) -> None:
        conn = await db.connect(self.endpoints.database_url, application_name="gunma-demo")
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                known = await conn.fetchval("SELECT count(DISTINCT worker_id) FROM employments")
                if known >= workers:
                    places = await conn.fetchval("SELECT count(*) FROM establishments")
                    self.console.print(f"           registry: {known:,} workers at {places} establishments")
                    return
                await asyncio.sleep(0.5)
        finally:
            await conn.close()
        raise TimeoutError("the router did not apply the feed in time")

    # --- 2. registration codes -----------------------------------------------------------------
    async def _issue_codes(self, result: DemoResult) -> dict[str, dict[str, Any]]:
        codes: dict[str, dict[str, Any]] = {}
        async with self._http(self.endpoints.router, result.keys["ops"]) as http:
            for employer in sorted({w.employer for w in result.followers}, key=lambda e: e.registry_id):
                answer = await http.post(
                    f"/v1/establishments/{employer.registry_id}/registration-codes",
                    json={"note": "demo: poster in the canteen"},
                )
                if answer.status_code >= 300:
                    raise RuntimeError(f"issuing a code failed: {answer.status_code} {answer.text[:300]}")
                codes[employer.registry_id] = answer.json()
        sample = next(iter(codes.values()))
        self.console.print(
            f"[bold]2. Codes[/bold] {len(codes)} employers got a registration code, "
            f"e.g. {sample['code']} ({sample['deep_link'] or 'no LINE basic id configured'})"
        )
        return codes

    # --- 3. workers onboard in LINE ------------------------------------------------------------
    async def _onboard(
        self, sandbox: SandboxClient, codes: dict[str, dict[str, Any]], result: DemoResult
    ) -> None:
        gate = asyncio.Semaphore(self.plan.concurrency)
        started = time.monotonic()

        async def one(index: int, worker: generate.Worker) -> None:
            async with gate:
                consent = index % self.plan.decline_every != 0
                try:
                    await self._conversation(sandbox, worker, codes[worker.employer.registry_id], consent)
                except (TimeoutError, AssertionError, httpx.HTTPError) as error:
                    result.failures.append(f"{worker.event_id}: {error}")
                    return
                result.onboarded += 1
                result.linked += consent

        await asyncio.gather(*(one(i, w) for i, w in enumerate(result.followers)))
        by_language = Counter(w.language for w in result.followers)
        self.console.print(
            f"[bold]3. LINE[/bold]  {result.onboarded} of {len(result.followers)} workers onboarded "
            f"({result.linked} linked their employment record) in {time.monotonic() - started:.0f} s; "
            f"languages: " + ", ".join(f"{code} {n}" for code, n in by_language.most_common())
        )
        for failure in result.failures[:5]:
            self.console.print(f"           [red]failed[/red] {failure}")

    async def _conversation(
        self, sandbox: SandboxClient, worker: generate.Worker, code: dict[str, Any], consent: bool
    ) -> None:
        phone = Phone(sandbox, line_user_id(worker), worker.language, timeout=60)
        await phone.follow()
        await phone.tap(f"cmd=set_language&lang={worker.language}")
        await phone.say(code["message"])  # what the printed QR code's deep link makes the phone send
        await phone.tap(f"cmd=set_nationality&c={worker.nationality}")
        await phone.tap(f"cmd=set_status&s={worker.residence_status.value}")
        await phone.tap(f"cmd=consent&v={CONSENT_VERSION}&a={'yes' if consent else 'no'}")
        if consent:
            await phone.say(worker.card_number)  # ingest turns it into its keyed hash at the door

    # --- 4. staff send notices -----------------------------------------------------------------
    async def _send_notices(self, result: DemoResult) -> None:
        send_at = datetime.now(UTC) + timedelta(seconds=20)
        async with self._http(self.endpoints.ingest, result.keys["staff"]) as http:
            for notice in NOTICES:
                body: dict[str, Any] = {
                    "title": notice.title,
                    "body": notice.body,
                    "source_language": "en",
                    "category": notice.category,
                    "audience": {"cities": list(notice.cities)},
                    "priority": "normal",
                }
                if notice.key == "renewal":
                    body["send_at"] = send_at.isoformat()  # time to approve the Vietnamese text first
                answer = await http.post(
                    "/v1/notices", json=body, headers={"Idempotency-Key": f"demo-{self.today}-{notice.key}"}
                )
                if answer.status_code >= 300:
                    raise RuntimeError(f"notice {notice.key}: {answer.status_code} {answer.text[:300]}")
                result.notices[notice.key] = str(answer.json()["notice_id"])
        await self._approve_vietnamese(result)
        self.console.print(
            "[bold]4. Notices[/bold] "
            + ", ".join(n.title for n in NOTICES)
            + " (English source; Spanish and Portuguese by Apertium; the Vietnamese renewal text approved "
            "by staff)"
        )

    async def _approve_vietnamese(self, result: DemoResult) -> None:
        notice_id = result.notices["renewal"]
        async with self._http(self.endpoints.translate, result.keys["staff"]) as http:
            deadline = time.monotonic() + 15
            while True:  # translate learns the notice from notices.v1
                answer = await http.post(
                    f"/v1/notices/{notice_id}/translations/vi", json={**APPROVED_VIETNAMESE, "approve": True}
                )
                if answer.status_code < 300:
                    return
                if answer.status_code != 404 or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"approving the translation failed: {answer.status_code} {answer.text[:300]}"
                    )
                await asyncio.sleep(0.3)

    async def _wait_for_deliveries(self, result: DemoResult, timeout: float = 180) -> None:
        async with self._http(self.endpoints.router, result.keys["staff"]) as http:
            deadline = time.monotonic() + timeout
            pending = dict(result.notices)
            while pending and time.monotonic() < deadline:
                for key, notice_id in list(pending.items()):
                    status = (await http.get(f"/v1/notices/{notice_id}")).json()
                    done = status["state"] == "planned" and all(
                        p["pending"] == 0 for p in status.get("languages", [])
                    )
                    if done:
                        del pending[key]
                await asyncio.sleep(1)
        if pending:
            self.console.print(
                f"[yellow]still delivering after {timeout:.0f} s: {', '.join(pending)}[/yellow]"
            )

    # --- 5. what the workers received, and the statistics ---------------------------------------
    async def _show(self, sandbox: SandboxClient, result: DemoResult) -> None:
        report: dict[str, Any] = {}
        for worker in result.followers:
            received = await sandbox.inbox(line_user_id(worker))
            report[line_user_id(worker)] = {
                "language": worker.language,
                "city": worker.employer.municipality_code,
                "received": [
                    {
                        "notice_id": e["notice_id"],
                        "endpoint": e["endpoint"],
                        "texts": [m.get("text") for m in e["messages"]],
                    }
                    for e in received
                ],
            }
        (self.state_dir / "received.json").write_text(json.dumps(report, ensure_ascii=False, indent=1))
        self._show_samples(result, report)
        await self._show_reminders()
        await self._show_notices(result)
        await self._show_stats(result)

    def _show_samples(self, result: DemoResult, report: dict[str, Any]) -> None:
        titles = {notice_id: key for key, notice_id in result.notices.items()}
        by_language: dict[str, generate.Worker] = {}
        for worker in result.followers:  # one worker per language, in Isesaki: it gets every notice
            if worker.employer.municipality_code == "102041":
                by_language.setdefault(worker.language, worker)
        table = Table(title="5. What sample workers in Isesaki received (one worker per language, up to 8)")
        table.add_column("language")
        table.add_column("notice")
        table.add_column("beginning of the LINE message", overflow="fold")
        for worker in list(by_language.values())[:8]:
            for item in report[line_user_id(worker)]["received"]:
                kind = titles.get(item["notice_id"])
                if kind is None:
                    continue  # the conversation's replies and personal reminders
                lines = [line for text in item["texts"] if text for line in text.splitlines() if line.strip()]
                table.add_row(languages.get(worker.language).english_name, kind, " / ".join(lines[:3])[:150])
        self.console.print(table)
        pushed = sum(1 for v in report.values() for e in v["received"] if e["endpoint"] == "push")
        self.console.print(
            f"   personal reminders pushed to demo workers: {pushed}; every inbox: "
            f"{self.state_dir / 'received.json'}"
        )

    async def _show_reminders(self) -> None:
        conn = await db.connect(self.endpoints.database_url, application_name="gunma-demo")
        try:
            rows = await conn.fetch(
                """SELECT rule_id, count(*) AS raised, count(published_at) AS published,
                          min(language) AS a_language
                   FROM reminder_deliveries GROUP BY rule_id ORDER BY rule_id"""
            )
        finally:
            await conn.close()
        table = Table(title="Personal reminders raised from the employment data (linked workers only)")
        for column in ("rule", "raised", "published"):
            table.add_column(column)
        for row in rows:
            table.add_row(row["rule_id"], str(row["raised"]), str(row["published"]))
        self.console.print(table)

    async def _show_notices(self, result: DemoResult) -> None:
        table = Table(title="Notices: planned, sent and failed")
        for column in ("notice", "languages", "planned", "sent", "failed", "unreachable"):
            table.add_column(column, justify="right" if column != "notice" else "left")
        async with self._http(self.endpoints.router, result.keys["staff"]) as http:
            for key, notice_id in result.notices.items():
                status = (await http.get(f"/v1/notices/{notice_id}")).json()
                progress = status.get("languages", [])
                table.add_row(
                    key,
                    str(len(progress)),
                    *(
                        str(sum(p[field] for p in progress))
                        for field in ("planned", "sent", "failed", "unreachable")
                    ),
                )
        self.console.print(table)

    async def _show_stats(self, result: DemoResult) -> None:
        async with self._http(self.endpoints.router, result.keys["staff"]) as http:
            stats = (await http.get("/v1/stats", params={"employers": 0})).json()
        self.console.print(f"Participation: {json.dumps(stats['totals'], ensure_ascii=False)}")
        for title, rows in (("by city", stats["by_city"]), ("by language", stats["by_language"])):
            if not rows:
                continue
            table = Table(title=f"Participation {title}")
            for column in rows[0]:
                table.add_column(str(column))
            for row in rows:
                table.add_row(*(str(v) for v in row.values()))
            self.console.print(table)


async def _iterate(handle: Any, size: int = 1 << 16) -> Any:
    while chunk := handle.read(size):
        yield chunk


def _chunks(handle: Any) -> Any:
    """The file as an async byte stream: a million-row extract is never read into memory."""
    return _iterate(handle)


def today_in_tokyo() -> date:
    return datetime.now(TOKYO).date()
