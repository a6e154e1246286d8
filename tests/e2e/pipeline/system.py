"""The whole system as real processes, for end-to-end and fault tests.

A :class:`System` is the LINE sandbox, ingest, router, translate and sender, each ``python -m
services.<name>`` in its own process (``tests.support.services.ServiceProcess``: SIGKILL-able,
restartable, one log file per start), on a PostgreSQL database and a Kafka topic prefix of its own, so
that what one test's notice reaches is exactly what that test put into the registry. The Kafka
bootstrap is a parameter: the broker-restart fault test runs the system on a broker of its own.

Everything goes in through the front doors: the feed's CSV through ingest's HTTP endpoint with a feed
key, notices through ``POST /v1/notices`` with a staff key, subscribers through the sandbox's follow
webhooks and the onboarding conversation. The one shortcut is named as such
(:func:`seed_subscribers_with_copy`, for volume), and says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import orjson
import psutil  # type: ignore[import-untyped]
from aiokafka.admin import AIOKafkaAdminClient

from services.common import auth, db
from services.common.topics import Topics
from services.line_sandbox.client import SandboxClient
from tests.support import kafka
from tests.support.services import ServiceProcess
from tests.support.stack import Stack, free_port

log = logging.getLogger(__name__)

CHANNEL_TOKEN = "e2e-only-channel-token"
SANDBOX_ADMIN = "e2e-only-sandbox-admin"
MESSAGING_SPEC = "../shared/line-openapi/messaging-api.yml"  # relative to the repository (cwd of services)
WEBHOOK_SPEC = "../shared/line-openapi/webhook.yml"
SERVICES = ("line_sandbox", "ingest", "router", "translate", "sender")
_PORT_VARIABLE = {
    "line_sandbox": "GUNMA_SANDBOX_HTTP_PORT",
    "ingest": "GUNMA_INGEST_HTTP_PORT",
    "router": "GUNMA_ROUTER_HTTP_PORT",
    "translate": "GUNMA_TRANSLATE_HTTP_PORT",
    "sender": "GUNMA_SENDER_HTTP_PORT",
}

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T | None]], *, timeout: float, what: str, interval: float = 0.2
) -> T:
    """Poll ``probe`` until it returns something other than None (or a false value); fail naming ``what``."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while True:
        last = await probe()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached within {timeout:.0f} s (last: {last!r})")
        await asyncio.sleep(interval)


@dataclass
class System:
    """Five real service processes on their own database and topics (see the module docstring)."""

    name: str
    kafka_bootstrap: str
    admin_dsn: str
    base_env: Mapping[str, str]
    log_dir: Path
    apertium_url: str | None = None
    #: extra environment per service (``{"sender": {"GUNMA_SENDER_RATE_MULTICAST_PER_SECOND": "10"}}``);
    #: None removes a variable the harness would set
    overrides: Mapping[str, Mapping[str, str | None]] = field(default_factory=dict)
    #: the services to run (all by default)
    services: tuple[str, ...] = SERVICES
    database: str = field(init=False)
    dsn: str = field(init=False)
    topics: Topics = field(init=False)
    processes: dict[str, ServiceProcess] = field(init=False, default_factory=dict)
    feed_key: str = field(init=False, default="")
    staff_key: str = field(init=False, default="")
    pool: db.Pool | None = field(init=False, default=None)

    @property
    def _stack(self) -> Stack:
        return Stack(self.kafka_bootstrap, self.admin_dsn)

    def __post_init__(self) -> None:
        stamp = f"{time.strftime('%m%d%H%M%S')}{uuid.uuid4().hex[:6]}"
        self.database = f"gunma_e2e_{self.name}_{stamp}"
        self.dsn = self._stack.dsn_for(self.database)
        self.topics = Topics(prefix=f"e2e.{self.name}.{stamp}.")

    # --- life cycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        await self._stack.create_database(self.database)
        self.pool = await db.create_pool(self.dsn, min_size=1, max_size=8, application_name="gunma-e2e")
        async with self.pool.acquire() as conn:
            self.feed_key, _ = await auth.create_key(
                conn, name="MHLW employment feed (e2e)", role=auth.Role.FEED
            )
            self.staff_key, _ = await auth.create_key(
                conn, name="Gunma prefecture staff (e2e)", role=auth.Role.STAFF
            )
        ports = {name: free_port() for name in SERVICES}
        for name in self.services:
            self.processes[name] = ServiceProcess(
                name, self._environment(name, ports), ports[name], self.log_dir / self.name
            )
        for process in self.processes.values():
            process.start(wait=False)
        await asyncio.gather(*(asyncio.to_thread(p.wait_ready, 120) for p in self.processes.values()))

    async def stop(self) -> None:
        for process in reversed(list(self.processes.values())):
            children = _children(process)
            with contextlib.suppress(Exception):
                await asyncio.to_thread(process.stop, 30)
            _kill_all(children)  # whatever outlived its parent (e.g. a parse worker after a kill)
        if self.pool is not None:
            await self.pool.close()
        if os.environ.get("GUNMA_KEEP_TEST_DB"):
            return  # the topics too, with the database
        await self._stack.drop_database(self.database)
        with contextlib.suppress(Exception):  # the topics are prefixed: leaving them is harmless
            client = AIOKafkaAdminClient(bootstrap_servers=self.kafka_bootstrap)
            await client.start()
            try:
                await client.delete_topics([name for name, _ in self.topics.specs_with_dlq()])
            finally:
                await client.close()

    def _environment(self, name: str, ports: Mapping[str, int]) -> dict[str, str]:
        env = {
            **self.base_env,
            "GUNMA_KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
            "GUNMA_KAFKA_TOPIC_PREFIX": self.topics.prefix,
            "GUNMA_DATABASE_URL": self.dsn,
            "GUNMA_SHUTDOWN_GRACE_SECONDS": "5",
            _PORT_VARIABLE[name]: str(ports[name]),
        }
        if name == "line_sandbox":
            env |= {
                "GUNMA_SANDBOX_CHANNEL_ACCESS_TOKENS": CHANNEL_TOKEN,
                "GUNMA_SANDBOX_CHANNEL_SECRET": self.base_env["GUNMA_LINE_CHANNEL_SECRET"],
                "GUNMA_SANDBOX_ADMIN_TOKEN": SANDBOX_ADMIN,
                "GUNMA_SANDBOX_OPENAPI_SPEC": MESSAGING_SPEC,
                "GUNMA_SANDBOX_WEBHOOK_OPENAPI_SPEC": WEBHOOK_SPEC,
                "GUNMA_SANDBOX_WEBHOOK_URL": f"http://127.0.0.1:{ports['ingest']}/line/webhook",
                "GUNMA_SANDBOX_REQUEST_LOG_SIZE": "200",
            }
        elif name == "ingest":
            # a feed pushing batches back to back would meet the per-key limit meant for misbehaving clients
            env |= {"GUNMA_INGEST_RATE_LIMIT_PER_SECOND": "1000", "GUNMA_INGEST_RATE_LIMIT_BURST": "1000"}
        elif name == "router":
            env |= {
                # tests run at any hour: no quiet hours (equal start and end)
                "GUNMA_ROUTER_QUIET_HOURS_START": "00:00",
                "GUNMA_ROUTER_QUIET_HOURS_END": "00:00",
                "GUNMA_ROUTER_SCHEDULER_POLL_SECONDS": "0.5",
                # the conversation reads LINE profiles (the phone's language) from the sandbox
                "GUNMA_ROUTER_LINE_API_BASE_URL": f"http://127.0.0.1:{ports['line_sandbox']}",
                "GUNMA_ROUTER_LINE_CHANNEL_ACCESS_TOKEN": CHANNEL_TOKEN,
                "GUNMA_ROUTER_LINE_BASIC_ID": "@gunma-e2e",
                "GUNMA_ROUTER_DIALOGUE_RELAY_POLL_SECONDS": "0.5",
            }
        elif name == "translate":
            if self.apertium_url:
                env |= {
                    "GUNMA_TRANSLATE_APERTIUM_URL": self.apertium_url,
                    "GUNMA_TRANSLATE_BACKENDS": '{"es": "apertium", "pt-BR": "apertium"}',
                }
        elif name == "sender":
            env |= {
                "GUNMA_SENDER_LINE_API_BASE_URL": f"http://127.0.0.1:{ports['line_sandbox']}",
                "GUNMA_SENDER_LINE_CHANNEL_ACCESS_TOKEN": CHANNEL_TOKEN,
            }
        for variable, value in self.overrides.get(name, {}).items():
            if value is None:
                env.pop(variable, None)
            else:
                env[variable] = value
        return env

    def __getitem__(self, name: str) -> ServiceProcess:
        return self.processes[name]

    def url(self, name: str) -> str:
        return self.processes[name].url

    async def kill(self, name: str) -> None:
        """kill -9 of the service and its child processes (ingest's CSV parse workers), as when its
        container dies: no shutdown hook runs, nothing is flushed or committed."""
        process = self.processes[name]
        children = _children(process)
        await asyncio.to_thread(process.kill)
        _kill_all(children)

    async def restart(self, name: str, timeout: float = 120) -> None:
        await asyncio.to_thread(self.processes[name].start, wait=True, timeout=timeout)

    def assert_running(self) -> None:
        for name, process in self.processes.items():
            if process.process is not None:
                process.process.poll()
            code = process.process.returncode if process.process else None
            assert process.process is not None and code is None, (
                f"{name} exited with {code}:\n{process.tail()}"
            )

    def sandbox(self, timeout: float = 60) -> SandboxClient:
        return SandboxClient(self.url("line_sandbox"), SANDBOX_ADMIN, timeout=timeout)

    def connection(self) -> Any:
        assert self.pool is not None, "start() first"
        return self.pool.acquire()

    # --- the front doors ----------------------------------------------------------------------------

    async def upload_csv(
        self, body: bytes, *, filename: str = "extract.csv", charset: str = "utf-8"
    ) -> dict[str, Any]:
        """The feed's CSV through ingest; returns the summary line (the answer comes after every row
        was recorded)."""
        async with httpx.AsyncClient(timeout=httpx.Timeout(30, read=600), trust_env=False) as client:
            response = await client.post(
                f"{self.url('ingest')}/v1/employment-events/csv",
                params={"filename": filename},
                content=body,
                headers={
                    "Authorization": f"Bearer {self.feed_key}",
                    "Content-Type": f"text/csv; charset={charset}",
                },
            )
        assert response.status_code == 200, response.text[:2000]
        lines = response.text.splitlines()
        summary: dict[str, Any] = orjson.loads(lines[0])
        summary["problems"] = [orjson.loads(line) for line in lines[1:]]
        return summary

    async def submit_notice(self, notice: Mapping[str, Any]) -> uuid.UUID:
        """A staff notice through ``POST /v1/notices``; returns its id."""
        async with httpx.AsyncClient(timeout=30, trust_env=False) as client:
            response = await client.post(
                f"{self.url('ingest')}/v1/notices",
                json=dict(notice),
                headers={"Authorization": f"Bearer {self.staff_key}", "Idempotency-Key": str(uuid.uuid4())},
            )
        assert response.status_code == 202, response.text[:2000]
        return uuid.UUID(response.json()["notice_id"])

    async def issue_code(self, *, establishment_id: str, name: str, municipality_code: str) -> dict[str, Any]:
        """A registration code for an employer, from the router's API (what the prefecture prints)."""
        async with httpx.AsyncClient(timeout=30, trust_env=False) as client:
            response = await client.post(
                f"{self.url('router')}/v1/establishments/{establishment_id}/registration-codes",
                json={"establishment": {"name": name, "municipality_code": municipality_code}},
                headers={"Authorization": f"Bearer {self.staff_key}"},
            )
        assert response.status_code == 201, response.text[:2000]
        issued: dict[str, Any] = response.json()
        return issued

    async def notice_status(self, notice_id: uuid.UUID) -> dict[str, Any]:
        """The router's view (``GET /v1/notices/{id}``): state, planned / sent / failed per language."""
        async with httpx.AsyncClient(timeout=30, trust_env=False) as client:
            response = await client.get(
                f"{self.url('router')}/v1/notices/{notice_id}",
                headers={"Authorization": f"Bearer {self.staff_key}"},
            )
        if response.status_code == 404:
            return {}
        assert response.status_code == 200, response.text[:2000]
        status: dict[str, Any] = response.json()
        return status

    async def wait_delivered(self, notice_id: uuid.UUID, expected: int, *, timeout: float) -> dict[str, Any]:
        """Until the sandbox saw ``expected`` distinct recipients of the notice and the router recorded a
        result for every planned recipient; returns the sandbox's summary of the notice."""

        seen: dict[str, Any] = {}

        async def done() -> dict[str, Any] | None:
            async with self.sandbox() as line:
                try:
                    seen["sandbox"] = summary = await line.notice(str(notice_id))
                except Exception as error:
                    seen["sandbox"] = repr(error)
                    return None
            seen["router"] = status = await self.notice_status(notice_id)
            totals = status.get("totals", {})
            if summary["distinct_recipients"] < expected:
                return None
            if (
                status.get("state") != "planned"
                or totals.get("sent", -1) + totals.get("failed", 0) < expected
            ):
                return None
            return summary

        if expected == 0:
            status = await eventually(
                lambda: self._planned(notice_id), timeout=timeout, what=f"notice {notice_id} planned"
            )
            return {"distinct_recipients": 0, "duplicate_deliveries": 0, "router": status}
        try:
            return await eventually(
                done, timeout=timeout, what=f"notice {notice_id} delivered to {expected}", interval=0.5
            )
        except AssertionError as error:
            raise AssertionError(f"{error}\nlast seen: {seen}\n{self.tails()}") from None

    def tails(self, lines: int = 15) -> str:
        """The last log lines of every process, for a failure message."""
        return "\n".join(f"--- {name}\n{p.tail(lines)}" for name, p in self.processes.items())

    async def _planned(self, notice_id: uuid.UUID) -> dict[str, Any] | None:
        status = await self.notice_status(notice_id)
        return status if status.get("state") == "planned" else None

    async def registry_rows(self) -> int:
        async with self.connection() as conn:
            return int(await conn.fetchval("SELECT count(*) FROM employments"))


def _children(process: ServiceProcess) -> list[psutil.Process]:
    if process.process is None or process.process.poll() is not None:
        return []
    try:
        return list(psutil.Process(process.process.pid).children(recursive=True))
    except psutil.Error:
        return []


def _kill_all(processes: list[psutil.Process]) -> None:
    for child in processes:
        with contextlib.suppress(psutil.Error):
            child.kill()
    psutil.wait_procs(processes, timeout=10)


# --------------------------------------------------------------------------------------------------
# Subscribers


async def follow_through_sandbox(
    system: System, languages: Sequence[str], *, concurrency: int = 8
) -> list[str]:
    """Each simulated phone adds the account: the sandbox sends a signed follow webhook to ingest, which
    must answer 200; returns the LINE user ids. The router creates the subscribers from line-events.v1."""
    gate = asyncio.Semaphore(concurrency)

    async def one(line: SandboxClient, language: str) -> str:
        async with gate:
            sent = await line.follow(language=language)
        assert sent["delivery"]["status"] == 200, sent["delivery"]
        return str(sent["event"]["source"]["userId"])

    async with system.sandbox() as line:
        users = await asyncio.gather(*(one(line, language) for language in languages))

    async def arrived() -> bool:
        async with system.connection() as conn:
            n = await conn.fetchval(
                "SELECT count(*) FROM subscribers WHERE followed AND line_user_id = ANY($1::text[])", users
            )
        return int(n) == len(users)

    await eventually(arrived, timeout=60, what=f"{len(users)} followers in the registry")
    return list(users)


async def seed_subscribers_with_copy(system: System, rows: Iterable[tuple[str, str, bool]]) -> int:
    """TEST SHORTCUT for volume: (line_user_id, language, reachable) rows COPied straight into the
    registry's subscribers table. Used where the test is about delivering a notice exactly once to
    100,000 people, not about how they came to follow; unreachable rows are unfollowed."""
    batch: list[tuple[str, str, bool]] = []
    total = 0
    assert system.pool is not None
    for row in rows:
        batch.append(row)
        if len(batch) >= 50_000:
            total += await _copy(system.pool, batch)
            batch = []
    if batch:
        total += await _copy(system.pool, batch)
    async with system.connection() as conn:
        await conn.execute("ANALYZE subscribers")
    return total


async def _copy(pool: db.Pool, batch: list[tuple[str, str, bool]]) -> int:
    async with pool.acquire() as conn:
        await conn.copy_records_to_table(
            "subscribers", records=batch, columns=("line_user_id", "language", "followed")
        )
    return len(batch)


async def topic_event_ids(bootstrap: str, topic: str) -> Counter[str]:
    """How often each ``x-event-id`` occurs in ``topic``, read from its start to its current end."""
    counts: Counter[str] = Counter()
    for record in await kafka.read_to_end(bootstrap, topic):
        headers = dict(record.headers or ())
        counts[headers.get("x-event-id", b"").decode()] += 1
    return counts
