"""Recipients per second through the real sender and LINE sandbox processes.

DeliveryReady records (``--batches`` x ``--per-batch`` recipients, one notice) are pre-loaded into a
fresh Kafka topic; then a sandbox and a sender process start and the clock runs from the first recipient
the sandbox accepts to the last. Two runs by default:

- ``lifted``: the sandbox's and the sender's rate limits off: what sender + sandbox can do on this machine;
- ``limits``: LINE's limits on (multicast 200 requests/s): how close to 200 x 500 = 100,000 recipients/s.

Each run checks exactly-once (every recipient delivered once, no duplicates) and reads each process's peak
RSS (VmHWM). Uses the local Kafka and PostgreSQL (./dev up); a fresh database and topic prefix per run.

    .venv/bin/python -m bench.sender_throughput                      # 2,000 x 500 = 1,000,000, both runs
    .venv/bin/python -m bench.sender_throughput --batches 200 --runs lifted
    .venv/bin/python -m bench.sender_throughput --profile .local/profiles   # pyinstrument, both processes
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from services.common import db, migrate
from services.common.contracts import DeliveryReady, batch_id_for
from services.common.kafka import ensure_topics
from services.common.topics import Topics
from services.line_sandbox.client import SandboxClient
from tests.support.stack import REPO, ensure_stack, free_port

TOKEN = "bench-channel-token"  # noqa: S105 - a throwaway token for a loopback sandbox
ADMIN = "bench-sandbox-admin"
LANGUAGES = ("vi", "ne", "id", "my", "zh-Hans", "pt-BR", "fil", "en")


@dataclass
class RunResult:
    name: str
    recipients: int
    seconds: float
    end_to_end_seconds: float
    sender_rss_mb: float
    sandbox_rss_mb: float
    steady_per_second: float
    duplicates: int
    distinct: int
    responses: dict[str, int]

    @property
    def per_second(self) -> float:
        return self.recipients / self.seconds if self.seconds else 0.0


def steady_rate(samples: list[tuple[float, int]], total: int) -> float:
    """Recipients/s between 10 % and 90 % of the load: the sustained rate, without start and tail."""
    low = next((t for t, n in samples if n >= total * 0.1), None)
    high = next((t for t, n in samples if n >= total * 0.9), None)
    if low is None or high is None or high <= low:
        return float("nan")
    return total * 0.8 / (high - low)


def peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except FileNotFoundError:
        return float("nan")
    return float("nan")


async def preload(bootstrap: str, topic: str, batches: int, per_batch: int) -> tuple[uuid.UUID, set[str]]:
    notice_id = uuid.uuid4()
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        enable_idempotence=True,
        acks="all",
        linger_ms=20,
        max_batch_size=1024 * 1024,
        max_request_size=8 * 1024 * 1024,
    )
    await producer.start()
    batch_ids: set[str] = set()
    messages = (
        {
            "type": "text",
            "text": "Residence card: apply for renewal up to 3 months before it expires. "
            "Details in your language: https://example.org/gunma/residence",
            "quickReply": {
                "items": [{"type": "action", "action": {"type": "message", "label": "OK", "text": "OK"}}]
            },
        },
    )
    try:
        pending = []
        for n in range(batches):
            language = LANGUAGES[n % len(LANGUAGES)]
            ready = DeliveryReady(
                batch_id=batch_id_for(notice_id, language, n),
                notice_id=notice_id,
                language=language,
                batch_no=n,
                recipients=tuple("U" + uuid.uuid4().hex for _ in range(per_batch)),
                notice_recipients=batches * per_batch,
                planned_at=datetime.now(UTC),
                messages=messages,
            )
            batch_ids.add(ready.batch_id)
            pending.append(
                await producer.send(topic, ready.model_dump_json().encode(), key=ready.key.encode())
            )
            if len(pending) >= 200:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return notice_id, batch_ids


async def count_results(bootstrap: str, topic: str, expect: int, deadline: float) -> int:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    seen: set[bytes] = set()
    try:
        while len(seen) < expect and time.monotonic() < deadline:
            for part in (await consumer.getmany(timeout_ms=500)).values():
                for record in part:
                    seen.add((record.headers and dict(record.headers).get("x-event-id")) or record.value[:64])
    finally:
        await consumer.stop()
    return len(seen)


def start(module: str, env: dict[str, str], log: Path, profile: Path | None) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", module]
    if profile is not None:
        profile.mkdir(parents=True, exist_ok=True)
        out = profile / f"{module.rsplit('.', 1)[-1]}.txt"
        command = [sys.executable, "-m", "pyinstrument", "-r", "text", "-o", str(out), "-m", module]
    return subprocess.Popen(
        command,
        cwd=REPO,
        env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url} exited with {process.returncode}; see {log}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} not ready in {timeout} s; see {log}")


def stop(process: subprocess.Popen[bytes], *, profiled: bool = False) -> None:
    if process.poll() is None:
        # pyinstrument's runner writes its report on SIGINT (it does not pass SIGTERM on to uvicorn).
        process.send_signal(signal.SIGINT if profiled else signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


async def run(name: str, args: argparse.Namespace, bootstrap: str, dsn: str, logs: Path) -> RunResult:
    limits = name == "limits"
    topics = Topics(prefix=f"bench{time.strftime('%H%M%S')}{uuid.uuid4().hex[:4]}.")
    await ensure_topics(bootstrap, topics)
    print(f"[{name}] pre-loading {args.batches} x {args.per_batch} recipients into {topics.deliveries_ready}")
    notice_id, batch_ids = await preload(bootstrap, topics.deliveries_ready, args.batches, args.per_batch)
    total = args.batches * args.per_batch

    sandbox_port, sender_port = free_port(), free_port()
    spec = REPO.parent / "shared" / "line-openapi" / "messaging-api.yml"
    sandbox_env = {
        "GUNMA_SANDBOX_HTTP_PORT": str(sandbox_port),
        "GUNMA_SANDBOX_CHANNEL_ACCESS_TOKENS": TOKEN,
        "GUNMA_SANDBOX_CHANNEL_SECRET": "bench-secret",
        "GUNMA_SANDBOX_ADMIN_TOKEN": ADMIN,
        "GUNMA_SANDBOX_WEBHOOK_URL": "",
        "GUNMA_SANDBOX_RATE_LIMITS_ENABLED": "true" if limits else "false",
        "GUNMA_SANDBOX_REQUEST_LOG_SIZE": "0",
        "GUNMA_LOG_LEVEL": "WARNING",
    }
    if spec.is_file() and not args.no_spec:
        sandbox_env["GUNMA_SANDBOX_OPENAPI_SPEC"] = str(spec)
    sender_env = {
        "GUNMA_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "GUNMA_KAFKA_TOPIC_PREFIX": topics.prefix,
        "GUNMA_DATABASE_URL": dsn,
        "GUNMA_SENDER_HTTP_PORT": str(sender_port),
        "GUNMA_SENDER_LINE_API_BASE_URL": f"http://127.0.0.1:{sandbox_port}",
        "GUNMA_SENDER_LINE_CHANNEL_ACCESS_TOKEN": TOKEN,
        "GUNMA_SENDER_RATE_LIMITS_ENABLED": "true" if limits else "false",
        "GUNMA_SENDER_MAX_IN_FLIGHT": str(args.in_flight),
        "GUNMA_SENDER_CONSUMER_MAX_RECORDS": str(args.max_records),
        "GUNMA_SENDER_QUOTA_CHECK_THRESHOLD": str(total + 1),
        "GUNMA_LOG_LEVEL": "WARNING",
        **dict(item.split("=", 1) for item in args.sender_env),
    }
    profile = args.profile / name if args.profile else None
    sandbox = start("services.line_sandbox", sandbox_env, logs / f"{name}-sandbox.log", profile)
    sender: subprocess.Popen[bytes] | None = None
    try:
        wait_ready(f"http://127.0.0.1:{sandbox_port}", sandbox, logs / f"{name}-sandbox.log")
        async with SandboxClient(f"http://127.0.0.1:{sandbox_port}", ADMIN, timeout=120) as line:
            started = time.monotonic()
            sender = start("services.sender", sender_env, logs / f"{name}-sender.log", profile)
            first_at: float | None = None
            samples: list[tuple[float, int]] = []
            last_count = 0
            last_at = started
            deadline = started + args.timeout
            while time.monotonic() < deadline:
                stats = await line.stats()
                count = int(stats["recipient_deliveries"])
                now = time.monotonic()
                if count and first_at is None:
                    first_at = now
                if count != last_count:
                    last_count, last_at = count, now
                    samples.append((now, count))
                if count >= total:
                    break
                if sender.poll() is not None:
                    raise SystemExit(f"the sender exited with {sender.returncode}; see {logs}")
                await asyncio.sleep(0.05)
            results = await count_results(bootstrap, topics.deliveries_results, len(batch_ids), deadline)
            end_to_end = time.monotonic() - started
            sender_rss = peak_rss_mb(sender.pid)
            sandbox_rss_before_checks = peak_rss_mb(sandbox.pid)
            summary = await line.notice(str(notice_id))
            duplicates = await line.duplicates(notice_id=str(notice_id), limit=10)
            stats = await line.stats()
        if results < len(batch_ids):
            print(f"[{name}] only {results} of {len(batch_ids)} DeliveryResults arrived in time")
        # The first-to-last window; the first poll interval is added back (we saw the count late).
        seconds = (last_at - (first_at or started)) + 0.05
        return RunResult(
            name=name,
            recipients=last_count,
            seconds=seconds,
            end_to_end_seconds=end_to_end,
            sender_rss_mb=sender_rss,
            sandbox_rss_mb=sandbox_rss_before_checks,
            steady_per_second=steady_rate(samples, total),
            duplicates=len(duplicates) + int(summary["duplicate_deliveries"]),
            distinct=int(summary["distinct_recipients"]),
            responses=dict(stats["responses"]),
        )
    finally:
        if sender is not None:
            stop(sender, profiled=profile is not None)
        stop(sandbox, profiled=profile is not None)


async def main(args: argparse.Namespace) -> int:
    stack = ensure_stack()
    name = f"gunma_bench_{uuid.uuid4().hex[:8]}"
    admin = await db.connect(stack.admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    dsn = stack.dsn_for(name)
    await migrate.migrate(dsn)
    logs = REPO / ".local" / "bench-logs"
    logs.mkdir(parents=True, exist_ok=True)
    outcomes: list[RunResult] = []
    try:
        for run_name in args.runs:
            outcomes.append(await run(run_name, args, stack.kafka_bootstrap, dsn, logs))
    finally:
        admin = await db.connect(stack.admin_dsn)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    total = args.batches * args.per_batch
    command = ["python", "-m", "bench.sender_throughput", *sys.argv[1:]]
    print()
    print(f"command: .venv/bin/{shlex.join(command)}")
    print(
        f"load: {args.batches} DeliveryReady x {args.per_batch} recipients = {total:,} recipients, one "
        f"notice; sender max_in_flight={args.in_flight}, consumer max_records={args.max_records}; "
        f"OpenAPI validation {'off' if args.no_spec else 'on'}; machine: {os.cpu_count()} cores, shared"
    )
    for r in outcomes:
        ok = r.recipients == total and r.distinct == total and r.duplicates == 0
        target = "" if r.name == "lifted" else f" ({r.per_second / 100_000:.0%} of 200 x 500 = 100,000/s)"
        print(
            f"{r.name:>7}: {r.per_second:,.0f} recipients/s{target}; {r.recipients:,} delivered in "
            f"{r.seconds:.2f} s (first to last acceptance; sustained 10-90 %: {r.steady_per_second:,.0f}/s); "
            f"{r.end_to_end_seconds:.1f} s from sender start to the last result"
        )
        print(
            f"         peak RSS sender {r.sender_rss_mb:.0f} MB, sandbox {r.sandbox_rss_mb:.0f} MB; "
            f"exactly once: {'yes' if ok else 'NO'} (distinct {r.distinct:,}, duplicates {r.duplicates})"
        )
        print(f"         sandbox answers: {r.responses}")
    return 0


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=2000)
    parser.add_argument("--per-batch", type=int, default=500)
    parser.add_argument("--runs", nargs="+", choices=["lifted", "limits"], default=["lifted", "limits"])
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--max-records", type=int, default=250)
    parser.add_argument("--timeout", type=float, default=600, help="seconds per run, at most")
    parser.add_argument(
        "--sender-env", nargs="*", default=[], metavar="NAME=VALUE", help="extra sender settings"
    )
    parser.add_argument("--no-spec", action="store_true", help="sandbox without the OpenAPI validation")
    parser.add_argument("--profile", type=Path, default=None, help="write pyinstrument profiles here")
    return parser.parse_args(argv)


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(parse())))
