"""The system a worker talks to, as real processes: LINE sandbox, ingest, router, sender, translate.

    stack = LineStack.start(stack_info, log_dir=...)        # or the ``line_stack`` fixture (tests/e2e)
    code = await stack.issue_code(name="Ota Foods", municipality_code="10205")
    phone = await stack.phone(language="vi")                 # the sandbox follows: a signed webhook to ingest
    greeting = await phone.follow()                          # -> Reply: the texts the worker's inbox got
    await phone.tap("cmd=set_language&lang=vi")
    await phone.say(code["code"])                            # as the QR code / deep link sends it
    await phone.say("AB12345678CD")                          # a residence card number: ingest hashes it
    stack.stop()

Everything is wired as in production: the sandbox signs webhooks with the channel secret ingest checks;
ingest publishes to line-events.v1; the router (dialogue, registry, reply outbox) publishes replies as
DeliveryReady; the sender replies (fresh token) or pushes to the sandbox; translate renders personal
reminders and notices. The stack has its own database and its own topic prefix, so tests that seed the
shared session database cannot disturb it (and the other way round).

Reply waiting is exact: a turn's reply is the inbox entry whose notice id is
``derived_id("conversation", user, webhookEventId)`` (see services/router/dialogue/delivery.py).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from services.common import auth, db
from services.common.kafka import ensure_topics
from services.common.topics import Topics
from services.line_sandbox.client import SandboxClient
from services.line_sandbox.phone import Phone, new_user_id

from .services import ServiceProcess
from .stack import REPO, Stack, free_port

CHANNEL_TOKEN = "e2e-line-channel-access-token"
ADMIN_TOKEN = "e2e-sandbox-admin-token"
BASIC_ID = "@gunma-e2e"
SPECS = REPO.parent / "shared" / "line-openapi"


@dataclass
class LineStack:
    sandbox: ServiceProcess
    ingest: ServiceProcess
    router: ServiceProcess
    sender: ServiceProcess
    translate: ServiceProcess
    database_url: str
    topics: Topics
    keys: dict[str, str]
    client: SandboxClient | None = None

    @property
    def processes(self) -> list[ServiceProcess]:
        return [self.sandbox, self.ingest, self.router, self.sender, self.translate]

    # --- start and stop ---------------------------------------------------------------------------
    @classmethod
    async def start(cls, stack: Stack, *, log_dir: Path, name: str | None = None, **env: str) -> LineStack:
        """Create a database and topics of its own, API keys (feed, staff, ops), and start the five
        processes; ``env`` overrides any variable of any of them (e.g. GUNMA_ROUTER_DIALOGUE_LANGUAGES)."""
        name = name or f"e2e{time.strftime('%m%d%H%M%S')}{uuid.uuid4().hex[:6]}"
        database = f"gunma_{name}"
        dsn = await stack.create_database(database)
        topics = Topics(prefix=f"{name}.")
        await ensure_topics(stack.kafka_bootstrap, topics)
        conn = await db.connect(dsn)
        try:
            keys = {
                role.value: (await auth.create_key(conn, name=f"e2e {role.value}", role=role))[0]
                for role in (auth.Role.FEED, auth.Role.STAFF, auth.Role.OPS)
            }
        finally:
            await conn.close()
        common = {
            "GUNMA_KAFKA_BOOTSTRAP_SERVERS": stack.kafka_bootstrap,
            "GUNMA_KAFKA_TOPIC_PREFIX": topics.prefix,
            "GUNMA_DATABASE_URL": dsn,
            "GUNMA_LOG_LEVEL": "INFO",
            "GUNMA_SHUTDOWN_GRACE_SECONDS": "5",
            "GUNMA_RUN_MIGRATIONS": "false",
            "GUNMA_WORKER_ID_PEPPER": "e2e-only-worker-id-pepper-0123456789abcdef",
            "GUNMA_LINE_CHANNEL_SECRET": "e2e-only-line-channel-secret",
            # No proxy may come between the services and the loopback sandbox.
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
        ports = {service: free_port() for service in ("sandbox", "ingest", "router", "sender", "translate")}
        sandbox_url = f"http://127.0.0.1:{ports['sandbox']}"
        specs = {}
        if (SPECS / "messaging-api.yml").is_file() and (SPECS / "webhook.yml").is_file():
            # Every reply is checked against LINE's published OpenAPI documents.
            specs = {
                "GUNMA_SANDBOX_OPENAPI_SPEC": "../shared/line-openapi/messaging-api.yml",
                "GUNMA_SANDBOX_WEBHOOK_OPENAPI_SPEC": "../shared/line-openapi/webhook.yml",
            }
        sandbox = ServiceProcess(
            "line_sandbox",
            {
                **common,
                "GUNMA_SANDBOX_HTTP_PORT": str(ports["sandbox"]),
                "GUNMA_SANDBOX_CHANNEL_ACCESS_TOKENS": CHANNEL_TOKEN,
                "GUNMA_SANDBOX_CHANNEL_SECRET": common["GUNMA_LINE_CHANNEL_SECRET"],
                "GUNMA_SANDBOX_ADMIN_TOKEN": ADMIN_TOKEN,
                "GUNMA_SANDBOX_WEBHOOK_URL": f"http://127.0.0.1:{ports['ingest']}/line/webhook",
                **specs,
                **env,
            },
            ports["sandbox"],
            log_dir,
        )
        ingest = ServiceProcess(
            "ingest",
            {
                **common,
                "GUNMA_INGEST_HTTP_PORT": str(ports["ingest"]),
                "GUNMA_INGEST_CSV_WORKERS": "0",
                "GUNMA_INGEST_RELAY_POLL_SECONDS": "0.2",
                "GUNMA_INGEST_KEY_CACHE_SECONDS": "0",
                **env,
            },
            ports["ingest"],
            log_dir,
        )
        router = ServiceProcess(
            "router",
            {
                **common,
                "GUNMA_ROUTER_HTTP_PORT": str(ports["router"]),
                # Personal reminders go out at once in tests (quiet hours would hold them at night).
                "GUNMA_ROUTER_QUIET_HOURS_START": "00:00",
                "GUNMA_ROUTER_QUIET_HOURS_END": "00:00",
                "GUNMA_ROUTER_SCHEDULER_POLL_SECONDS": "0.5",
                "GUNMA_ROUTER_API_KEY_CACHE_SECONDS": "0",
                "GUNMA_ROUTER_LINE_API_BASE_URL": sandbox_url,
                "GUNMA_ROUTER_LINE_CHANNEL_ACCESS_TOKEN": CHANNEL_TOKEN,
                "GUNMA_ROUTER_LINE_BASIC_ID": BASIC_ID,
                "GUNMA_ROUTER_DIALOGUE_RELAY_POLL_SECONDS": "0.5",
                **env,
            },
            ports["router"],
            log_dir,
        )
        sender = ServiceProcess(
            "sender",
            {
                **common,
                "GUNMA_SENDER_HTTP_PORT": str(ports["sender"]),
                "GUNMA_SENDER_LINE_API_BASE_URL": sandbox_url,
                "GUNMA_SENDER_LINE_CHANNEL_ACCESS_TOKEN": CHANNEL_TOKEN,
                "GUNMA_SENDER_REQUEST_TIMEOUT_SECONDS": "5",
                **env,
            },
            ports["sender"],
            log_dir,
        )
        translate = ServiceProcess(
            "translate",
            {**common, "GUNMA_TRANSLATE_HTTP_PORT": str(ports["translate"]), **env},
            ports["translate"],
            log_dir,
        )
        self = cls(sandbox, ingest, router, sender, translate, dsn, topics, keys)
        try:
            for process in self.processes:
                process.start(wait=False)
            for process in self.processes:
                await asyncio.to_thread(process.wait_ready, 120)
        except BaseException:
            self.stop()
            raise
        self.client = SandboxClient(sandbox_url, ADMIN_TOKEN)
        return self

    def stop(self) -> None:
        for process in reversed(self.processes):
            try:
                process.stop(timeout=20)
            except Exception:
                process.kill()

    async def close(self, stack: Stack, *, drop_database: bool = True) -> None:
        if self.client is not None:
            await self.client.close()
        self.stop()
        if drop_database:
            await stack.drop_database(self.database_url.rsplit("/", 1)[1])

    def logs(self, lines: int = 30) -> str:
        return "\n\n".join(f"--- {p.name} ---\n{p.tail(lines)}" for p in self.processes)

    # --- what the people around the worker do -----------------------------------------------------
    @property
    def sandbox_client(self) -> SandboxClient:
        assert self.client is not None, "LineStack.start() was not awaited"
        return self.client

    async def phone(self, *, language: str = "en", user_id: str | None = None) -> Phone:
        """A new worker's phone (not yet following); ``language`` is the phone's (LINE profile) language."""
        return Phone(self.sandbox_client, user_id or new_user_id(), language)

    async def issue_code(
        self,
        *,
        establishment_id: str | None = None,
        name: str = "Test Works",
        municipality_code: str = "10205",
        key: str = "staff",
    ) -> dict[str, Any]:
        """A registration code from the router's API (entering the establishment if it is new)."""
        ident = establishment_id or f"{uuid.uuid4().int % 10**11:011d}"
        async with httpx.AsyncClient(base_url=self.router.url, trust_env=False, timeout=30) as http:
            answer = await http.post(
                f"/v1/establishments/{ident}/registration-codes",
                json={"establishment": {"name": name, "municipality_code": municipality_code}},
                headers={"Authorization": f"Bearer {self.keys[key]}"},
            )
        if answer.status_code != 201:
            raise AssertionError(f"issuing a code failed: {answer.status_code} {answer.text}")
        return dict(answer.json())

    async def feed(self, events: list[dict[str, Any]]) -> dict[str, Any]:
        """Employment events through ingest's feed API (as the government feed sends them)."""
        async with httpx.AsyncClient(base_url=self.ingest.url, trust_env=False, timeout=30) as http:
            answer = await http.post(
                "/v1/employment-events",
                json={"events": events},
                headers={"Authorization": f"Bearer {self.keys['feed']}"},
            )
        if answer.status_code != 200:
            raise AssertionError(f"the feed was refused: {answer.status_code} {answer.text}")
        return dict(answer.json())

    async def query(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        """Read the stack's database (e.g. the registry, to check what a conversation changed)."""
        conn = await db.connect(self.database_url)
        try:
            return [dict(r) for r in await conn.fetch(sql, *args)]
        finally:
            await conn.close()
