"""Benchmark (issue 8, 4c): webhook-to-reply latency at 200 webhooks/s.

    .venv/bin/python -m bench.e2e_webhook_reply                        # 200/s for 15 s (3,000 webhooks)
    .venv/bin/python -m bench.e2e_webhook_reply --rate 100 --seconds 10
    .venv/bin/python -m bench.e2e_webhook_reply --wait-quiet 900

The LINE sandbox, ingest, router (with the onboarding conversation) and sender run as real processes
on the local Kafka and PostgreSQL, in a database and topic prefix of their own. First ``rate x 3``
simulated workers follow the account and pick a language (the greeting and the language answer are
awaited: the conversation knows them). Then, on a fixed schedule of ``rate`` per second, one of them
sends "help" (a command word the conversation answers in the worker's language): the sandbox signs the
webhook and posts it to ingest, exactly as LINE would. A worker writes again only every 3 s.

Latency of one webhook: from the event's timestamp (set by the sandbox when it makes the event, just
before it posts it) to the moment the sandbox accepted the answer for that event (the inbox entry whose
notice id is ``derived_id("conversation", user, webhookEventId)``), both on the sandbox's clock. That is
ingest (signature, outbox, relay to Kafka), the router (line-events consumer, dialogue turn in its
transaction, reply outbox, Kafka), the sender and the reply call. Target: p99 under 300 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench._support import (
    BENCH_ENV,
    Machine,
    command_line,
    cpu_seconds,
    cpu_since,
    peak_rss_mib,
    percentile,
    print_profiles,
    py_spy,
    system_pids,
    wait_for_quiet,
)
from services.common.contracts import derived_id
from services.line_sandbox.client import SandboxClient
from services.line_sandbox.phone import Phone, new_user_id
from tests.e2e.pipeline.system import SANDBOX_ADMIN, System
from tests.support.stack import REPO, ensure_stack

LANGUAGES = ("vi", "en", "pt-BR", "id", "zh-Hans", "fil", "ne", "es", "my", "th")


async def _delivered(line: SandboxClient, sent: dict[str, Any]) -> dict[str, Any]:
    """The sandbox does not retry a webhook by itself; like LINE's redelivery, send it again (same
    webhookEventId, ``isRedelivery``) when ingest's answer was lost, e.g. to a keep-alive race."""
    for _ in range(3):
        if sent["delivery"].get("status") == 200:
            return dict(sent["event"])
        sent = await line.redeliver(sent["event"]["webhookEventId"])
    raise AssertionError(f"ingest did not take the webhook: {sent['delivery']}")


async def prepare(line: SandboxClient, users: int, concurrency: int) -> list[str]:
    """Workers who follow and pick a language, each answer awaited."""
    gate = asyncio.Semaphore(concurrency)

    async def one(n: int) -> str:
        language = LANGUAGES[n % len(LANGUAGES)]
        phone = Phone(line, new_user_id(), language, timeout=120)
        async with gate:
            event = await _delivered(line, await line.follow(phone.user_id, language=language))
            await phone.reply_to(event["webhookEventId"])
            event = await _delivered(
                line, await line.postback(phone.user_id, f"cmd=set_language&lang={language}")
            )
            await phone.reply_to(event["webhookEventId"])
        return phone.user_id

    return list(await asyncio.gather(*(one(n) for n in range(users))))


async def load(
    base_url: str, users: list[str], rate: float, seconds: float, errors: list[str]
) -> list[dict[str, Any]]:
    """Send "help" on a fixed schedule through the sandbox (which signs and posts each webhook to ingest);
    returns what was sent (user, event id, timestamps, ingest's status)."""
    total = int(rate * seconds)
    sent: list[dict[str, Any]] = []
    # A client of its own: when the system falls behind, many calls are open at once.
    async with httpx.AsyncClient(
        base_url=base_url,
        headers={"Authorization": f"Bearer {SANDBOX_ADMIN}"},
        timeout=120,
        limits=httpx.Limits(max_connections=500, max_keepalive_connections=200),
        trust_env=False,
    ) as http:

        async def one(n: int) -> None:
            user = users[n % len(users)]
            try:
                response = await http.post(f"/admin/users/{user}/message", json={"text": "help"})
                response.raise_for_status()
            except httpx.HTTPError as error:  # the phone simulator's own API; counted, not measured
                errors.append(f"{type(error).__name__}: {error}"[:200])
                return
            answer = response.json()
            event = answer["event"]
            sent.append(
                {
                    "user": user,
                    "event_id": event["webhookEventId"],
                    "at": event["timestamp"] / 1000,
                    "status": answer["delivery"].get("status"),
                    "ingest_ms": answer["delivery"].get("elapsed_ms"),
                }
            )

        begin = time.perf_counter()
        tasks = []
        for n in range(total):  # bounded: total webhooks, then it stops
            delay = begin + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(n)))
        await asyncio.gather(*tasks)
    return sent


async def collect(
    line: SandboxClient, sent: list[dict[str, Any]], timeout: float
) -> dict[str, dict[str, Any]]:
    """The answer of every sent event (by the conversation's deterministic notice id); waits for late
    ones."""
    wanted = {str(derived_id("conversation", s["user"], s["event_id"])): s for s in sent}
    found: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    while True:
        pending = sorted({wanted[k]["user"] for k in wanted.keys() - found.keys()})
        for user in pending:
            for entry in await line.inbox(user):
                if entry["notice_id"] in wanted:
                    found[entry["notice_id"]] = entry
        if len(found) == len(wanted) or time.monotonic() > deadline:
            return found
        await asyncio.sleep(1)


def ms(value: float) -> str:
    return f"{value * 1000:.0f} ms"


@dataclass
class Round:
    rate: float
    sent: list[dict[str, Any]]
    found: dict[str, dict[str, Any]]
    sending: float
    cpu: dict[str, float]
    load: tuple[float, float]
    #: calls to the sandbox's admin API (the phones) that failed: their webhooks are not measured
    errors: list[str]

    def latencies(self) -> tuple[list[float], Counter[str]]:
        by_key = {str(derived_id("conversation", s["user"], s["event_id"])): s for s in self.sent}
        latencies: list[float] = []
        endpoints: Counter[str] = Counter()
        for key, entry in self.found.items():
            latencies.append(float(entry["accepted_at"]) - by_key[key]["at"])
            endpoints[entry["endpoint"]] += 1
        return latencies, endpoints


def report(
    args: argparse.Namespace, machine: Machine, users: int, rounds: list[Round], rss: dict[str, float]
) -> None:
    print()
    print("bench.e2e_webhook_reply: signed webhook -> ingest -> router (conversation) -> sender -> reply")
    print(f"  command:  {command_line('bench.e2e_webhook_reply')}")
    print(f"  machine:  {machine.describe()} at the start")
    print(f"  workers:  {users} (each writes at most every 3 s); the answer is the conversation's help text")
    for r in rounds:
        latencies, endpoints = r.latencies()
        refused = sum(1 for s in r.sent if s["status"] != 200)
        missing = len(r.sent) - len(latencies)
        print(
            f"  [{r.rate:g}/s] {len(r.sent):,} webhooks sent in {r.sending:.1f} s; ingest refused {refused}; "
            f"answered {len(latencies):,}"
            + (f" (MISSING {missing})" if missing else "")
            + (f"; the phone simulator failed {len(r.errors)} calls, e.g. {r.errors[0]}" if r.errors else "")
        )
        if not latencies:
            print("    NO ANSWERS: the router produced no replies (is the onboarding conversation wired?)")
            continue
        p99 = percentile(latencies, 0.99)
        verdict = "met" if p99 < 0.3 else "MISSED"
        print(
            f"    webhook -> answer in the inbox: p50 {ms(percentile(latencies, 0.5))}, p95 "
            f"{ms(percentile(latencies, 0.95))}, p99 {ms(p99)}, max {ms(max(latencies))} "
            f"(target p99 < 300 ms{' at 200/s' if r.rate != 200 else ''}: {verdict}); by {dict(endpoints)}"
        )
        ingest = [s["ingest_ms"] / 1000 for s in r.sent if s["ingest_ms"] is not None]
        print(
            f"    ingest's answer to the webhook: p50 {ms(percentile(ingest, 0.5))}, "
            f"p99 {ms(percentile(ingest, 0.99))}"
        )
        total = sum(r.cpu.values())
        per = ", ".join(f"{k} {v / len(r.sent) * 1e3:.1f}" for k, v in r.cpu.items())
        print(
            f"    CPU per webhook (ms): {per}; total {total / len(r.sent) * 1e3:.1f} ms "
            f"= {total / r.sending:.2f} cores busy; load average {r.load[0]:.2f} -> {r.load[1]:.2f}"
        )
    print("  peak RSS: " + ", ".join(f"{k} {v:.0f} MiB" for k, v in rss.items()))


async def main(args: argparse.Namespace) -> int:
    machine = await asyncio.to_thread(wait_for_quiet, 0.5, 60, args.wait_quiet)
    stack = ensure_stack()
    sandbox_env: dict[str, str | None] = {"GUNMA_SANDBOX_REQUEST_LOG_SIZE": "10"}
    if not args.sandbox_spec_validation:
        # The sandbox stands in for LINE and the phones: checking its own webhooks and our replies
        # against LINE's OpenAPI documents is the tests' job; here it would only take CPU from the system.
        sandbox_env |= {"GUNMA_SANDBOX_OPENAPI_SPEC": None, "GUNMA_SANDBOX_WEBHOOK_OPENAPI_SPEC": None}
    system = System(
        name="bwebhook",
        kafka_bootstrap=stack.kafka_bootstrap,
        admin_dsn=stack.admin_dsn,
        base_env=BENCH_ENV,
        log_dir=REPO / ".local" / "bench-logs" / f"e2e-webhook-{time.strftime('%m%d%H%M%S')}",
        services=("line_sandbox", "ingest", "router", "sender"),
        overrides={"line_sandbox": sandbox_env},
    )
    rounds: list[Round] = []
    try:
        await system.start()
        async with system.sandbox(timeout=60) as line:
            t = time.perf_counter()
            users = await prepare(line, int(max(args.rates) * 3), args.concurrency)
            print(f"{len(users)} workers followed and chose a language in {time.perf_counter() - t:.0f} s")
            pids = system_pids(system)
            for rate in args.rates:
                await asyncio.sleep(3)  # every worker may write again
                before = cpu_seconds(pids)
                load_before = os.getloadavg()[0]
                started = time.perf_counter()
                errors: list[str] = []
                spies = py_spy(pids, args.profile / f"{rate:g}" if args.profile else None)
                async with spies:
                    sent = await load(system.url("line_sandbox"), users, rate, args.seconds, errors)
                sending = time.perf_counter() - started
                await asyncio.sleep(2)  # the last answers; inboxes are read after the CPU is counted
                cpu = cpu_since(before, cpu_seconds(pids))
                found = await collect(line, sent, timeout=30)
                rounds.append(
                    Round(rate, sent, found, sending, cpu, (load_before, os.getloadavg()[0]), errors)
                )
                print(f"  {rate:g}/s done")
            rss = {name: peak_rss_mib(pid) for name, pid in pids.items()}
    finally:
        await system.stop()
    report(args, machine, len(users), rounds, rss)
    if args.profile:
        for rate in args.rates:
            print_profiles(args.profile / f"{rate:g}", f"{rate:g}/s")
    return 0 if rounds and all(len(r.found) == len(r.sent) for r in rounds) else 1


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.e2e_webhook_reply", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--rates", type=float, nargs="+", default=[200.0], help="webhooks per second, one round each"
    )
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--concurrency", type=int, default=20, help="workers onboarding at once beforehand")
    parser.add_argument(
        "--sandbox-spec-validation", action="store_true", help="keep the sandbox's OpenAPI checks on"
    )
    parser.add_argument("--profile", type=Path, default=None, help="py-spy profiles of every process here")
    parser.add_argument(
        "--wait-quiet", type=float, default=0, help="wait up to this many seconds for load < 0.5"
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(parse())))
