"""Router benchmark: employment events applied per second, and a 1,000,000-subscriber notice planned.

Runs the real router process (``python -m services.router``) against the local Kafka and PostgreSQL,
in a database and with topics of its own (dropped at the end):

1. employment apply rate: N employment events (hires of distinct workers, some separations and status
   changes, thousands of workplaces across Gunma's cities) are written to employment.v1 first; then the
   router starts and applies them. Reported: events/s from the first to the last applied batch, and
   end to end from process start.
2. planning: S subscribers in the 25 languages (some unfollowed, unreachable, stopped or opted out) are
   loaded with COPY; a fresh router process is started and one prefecture-wide notice is submitted on
   notices.v1. Reported: seconds to the audience snapshot and to the last DeliveryPlanned acknowledged by
   Kafka, batches per language checked against ceil(n/500), no recipient twice, and the router's peak
   memory (VmHWM: the peak resident set of the process).

    .venv/bin/python -m bench.router_plan [--events 1000000] [--subscribers 1000000] [--skip-employment]

The figures depend on what else runs on the machine (other engineers' tests share its 2 cores).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import secrets
import shlex
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil  # type: ignore[import-untyped]
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner

from bench._support import drop_run_state
from services.common import db, languages, migrate
from services.common.contracts import AudienceFilter, NoticeContent, NoticeSubmitted, Priority
from services.common.kafka import ensure_topics
from services.common.topics import Topics
from tests.support.stack import REPO, ensure_stack, free_port

GUNMA_CITIES = [
    "102016", "102024", "102032", "102041", "102059", "102067", "102075", "102083", "102091", "102105",
    "102113", "102121", "103446", "103454", "103667", "103675", "103829", "103837", "103845", "104213",
    "104248", "104256", "104264", "104281", "104299", "104434", "104442", "104485", "104493", "104647",
    "105210", "105228", "105236", "105244", "105252",
]  # fmt: skip
NATIONALITIES = ["VN", "PH", "ID", "CN", "NP", "BR", "MM", "TH", "KH", "LK", "MN", "BD", "IN", "PK", "PE"]
STATUSES = [
    "technical_intern_1a", "technical_intern_2a", "technical_intern_3a", "specified_skilled_worker_1",
    "specified_skilled_worker_2", "engineer_humanities_international", "permanent_resident",
    "long_term_resident", "spouse_or_child_of_japanese", "student", "designated_activities",
]  # fmt: skip


# --------------------------------------------------------------------------------------------------
# Process


class Router:
    """The router as a child process, with its peak memory and CPU time."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.env = {**os.environ, **env, "GUNMA_ROUTER_HTTP_PORT": str(self.port), "PYTHONUNBUFFERED": "1"}
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.started = 0.0

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "services.router"],
            cwd=REPO,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    async def ready(self, timeout: float = 120) -> float:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                assert self.process is not None
                if self.process.poll() is not None:
                    raise RuntimeError(f"router exited with {self.process.returncode}; see {self.log_path}")
                try:
                    if (
                        await client.get(f"http://127.0.0.1:{self.port}/readyz", timeout=1)
                    ).status_code == 200:
                        return time.perf_counter() - self.started
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        raise TimeoutError(f"router not ready; see {self.log_path}")

    def check_alive(self) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"router exited with {self.process.returncode}; see {self.log_path}")

    def peak_rss_mib(self) -> float:
        """VmHWM: the largest resident set the process ever had."""
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float(psutil.Process(self.process.pid).memory_info().rss) / 2**20

    def cpu_seconds(self) -> float:
        assert self.process is not None
        times = psutil.Process(self.process.pid).cpu_times()
        return float(times.user) + float(times.system)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


# --------------------------------------------------------------------------------------------------
# Phase 1: employment events


def employment_events(n: int, rnd: random.Random) -> list[tuple[bytes, bytes]]:
    """(key, JSON) pairs of valid employment.v1 events: 85% hires, 10% separations, 5% status changes."""
    establishments = [
        (f"{10_000_000_000 + i:011d}", f"Company {i}", rnd.choice(GUNMA_CITIES))
        for i in range(max(n // 150, 10))
    ]
    reported = datetime(2026, 4, 1, tzinfo=UTC)
    hires = int(n * 0.85)
    workers = [secrets.token_hex(32) for _ in range(hires)]
    out: list[tuple[bytes, bytes]] = []
    for i in range(n):
        if i < hires:
            worker, kind = workers[i], "worker.hired"
        else:
            worker, kind = (
                workers[rnd.randrange(hires)],
                rnd.choice(["worker.separated"] * 2 + ["residence.changed"]),
            )
        est_id, name, city = establishments[int(worker[:8], 16) % len(establishments)]
        day = date(2025, 4, 1) + timedelta(days=rnd.randrange(365))
        event: dict[str, Any] = {
            "type": kind,
            "schema_version": 1,
            "event_id": str(uuid.uuid4()),
            "occurred_at": reported.isoformat(),
            "worker_id": worker,
            "source": "bench",
            "source_event_id": f"b{i}",
            "reported_at": (reported + timedelta(seconds=i)).isoformat(),
            "establishment": {"establishment_id": est_id, "name": name, "municipality_code": city},
            "nationality": rnd.choice(NATIONALITIES),
            "residence_status": rnd.choice(STATUSES),
            "period_expires_on": (day + timedelta(days=365 + rnd.randrange(700))).isoformat(),
        }
        key = {
            "worker.hired": "hired_on",
            "worker.separated": "separated_on",
            "residence.changed": "changed_on",
        }[kind]
        event[key] = (day if kind == "worker.hired" else day + timedelta(days=200)).isoformat()
        out.append((worker.encode(), orjson.dumps(event)))
    return out


async def produce(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> float:
    """Write records in batches per partition (keys partitioned like any producer would)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=20
    )
    await producer.start()
    started = time.perf_counter()
    try:
        partitions = sorted(await producer.partitions_for(topic))
        by_partition: dict[int, list[tuple[bytes, bytes]]] = {}
        partitioner = DefaultPartitioner()
        for key, value in records:
            by_partition.setdefault(partitioner(key, partitions, partitions), []).append((key, value))
        futures = []
        for partition, items in by_partition.items():
            batch = producer.create_batch()
            for key, value in items:
                if batch.append(key=key, value=value, timestamp=None) is None:
                    futures.append(await producer.send_batch(batch, topic, partition=partition))
                    batch = producer.create_batch()
                    batch.append(key=key, value=value, timestamp=None)
            futures.append(await producer.send_batch(batch, topic, partition=partition))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return time.perf_counter() - started


async def processed(pool: db.Pool, group: str, topic: str) -> int:
    value = await pool.fetchval(
        "SELECT COALESCE(sum(next_offset), 0) FROM consumer_offsets WHERE consumer = $1 AND topic = $2",
        group,
        topic,
    )
    return int(value)


async def employment_phase(
    args: argparse.Namespace, env: dict[str, str], topics: Topics, pool: db.Pool, log: Path
) -> dict[str, float]:
    rnd = random.Random(4)
    t = time.perf_counter()
    records = employment_events(args.events, rnd)
    generated = time.perf_counter() - t
    produced = await produce(env["GUNMA_KAFKA_BOOTSTRAP_SERVERS"], topics.employment, records)
    del records
    print(
        f"  {args.events:,} employment events generated in {generated:.1f} s,"
        f" written to Kafka in {produced:.1f} s"
    )
    routers = [Router(env, log) for _ in range(args.replicas)]
    group = topics.prefix + "router.employment"
    others_before = cpu_ticks(("postgres", "java"))
    for router in routers:
        router.start()
    started = min(r.started for r in routers)
    try:
        first_at: float | None = None
        first_count = 0
        first_cpu = 0.0
        while True:
            done = await processed(pool, group, topics.employment)
            now = time.perf_counter()
            if done and first_at is None:
                # Steady state starts with the first applied batch (start-up and imports excluded).
                first_at, first_count = now, done
                first_cpu = sum(r.cpu_seconds() for r in routers)
                others_before = cpu_ticks(("postgres", "java"))
            if done >= args.events:
                break
            for router in routers:
                router.check_alive()
            if now - started > args.timeout:
                raise TimeoutError(f"only {done:,} of {args.events:,} events applied; see {log}")
            await asyncio.sleep(0.02)
        finished = time.perf_counter()
        cpu = sum(r.cpu_seconds() for r in routers) - first_cpu
        peak = max(r.peak_rss_mib() for r in routers)
        others = cpu_seconds_since(others_before)
    finally:
        for router in routers:
            router.stop()
    assert first_at is not None
    rows = await pool.fetchval("SELECT count(*) FROM employments")
    steady = (args.events - first_count) / max(finished - first_at, 1e-9)
    end_to_end = args.events / (finished - started)
    establishments = await pool.fetchval("SELECT count(*) FROM establishments")
    print(f"  employments rows: {rows:,}; establishments: {establishments:,}")
    return {
        "events": args.events,
        "apply_seconds": finished - first_at,
        "events_per_second": steady,
        "end_to_end_events_per_second": end_to_end,
        "router_replicas": args.replicas,
        "router_cpu_us_per_event": cpu / (args.events - first_count) * 1e6,
        "postgres_cpu_us_per_event": others.get("postgres", 0.0) / (args.events - first_count) * 1e6,
        "kafka_cpu_us_per_event": others.get("java", 0.0) / (args.events - first_count) * 1e6,
        "router_peak_rss_mib": peak,
    }


def cpu_ticks(commands: tuple[str, ...]) -> dict[tuple[int, str], int]:
    """CPU clock ticks used so far by every process running one of ``commands``."""
    out: dict[tuple[int, str], int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        command = stat[stat.index("(") + 1 : stat.rindex(")")]
        if command in commands:
            fields = stat[stat.rindex(")") + 2 :].split()
            out[(int(entry.name), command)] = int(fields[11]) + int(fields[12])
    return out


def cpu_seconds_since(before: dict[tuple[int, str], int]) -> dict[str, float]:
    """CPU seconds per command since ``before`` (processes that exited meanwhile are not counted)."""
    hertz = os.sysconf("SC_CLK_TCK")
    totals: dict[str, float] = {}
    for key, ticks in cpu_ticks(tuple({c for _, c in before} | {"postgres", "java"})).items():
        totals[key[1]] = totals.get(key[1], 0.0) + (ticks - before.get(key, 0)) / hertz
    return totals


# --------------------------------------------------------------------------------------------------
# Phase 2: planning a notice to a million subscribers


async def seed_subscribers(pool: db.Pool, n: int, rnd: random.Random) -> Counter[str]:
    """COPY n reachable subscribers and 2% more that must not be reached; return the count per language."""
    codes = [lang.code for lang in languages.DEFAULT_LANGUAGES]
    weights = [30, 25, 12, 10, 3, 2, 9, 8, 2, 14, 3, 6, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1]
    expected: Counter[str] = Counter()
    now = datetime.now(UTC)
    chunk: list[tuple[Any, ...]] = []
    columns = (
        "line_user_id",
        "language",
        "declared_municipality_code",
        "followed",
        "unreachable_at",
        "opted_out_categories",
    )

    async def flush() -> None:
        async with pool.acquire() as conn:
            await conn.copy_records_to_table("subscribers", records=chunk, columns=columns)
        chunk.clear()

    excluded = n // 50
    for i in range(n + excluded):
        language = rnd.choices(codes, weights)[0]
        user = "U" + secrets.token_hex(16)
        city = rnd.choice(GUNMA_CITIES)
        if i < n:
            chunk.append((user, language, city, True, None, []))
            expected[language] += 1
        else:
            which = i % 3
            chunk.append(
                (
                    user,
                    language,
                    city,
                    which != 0,
                    now if which == 1 else None,
                    ["disaster"] if which == 2 else [],
                )
            )
        if len(chunk) >= 50_000:
            await flush()
    if chunk:
        await flush()
    return expected


async def count_planned(
    bootstrap: str, topic: str, notice_id: uuid.UUID, verify: bool
) -> tuple[int, Counter[str], int]:
    """Read deliveries.planned to its end: batches, batches per language, distinct recipients."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",  # a racing implicit reset must not jump to the end
        max_partition_fetch_bytes=16 * 2**20,
    )
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or set()]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        per_language: Counter[str] = Counter()
        recipients: set[str] = set()
        total_recipients = 0
        batches = 0
        while True:
            positions = [await consumer.position(tp) for tp in partitions]
            if all(pos >= ends[tp] for pos, tp in zip(positions, partitions, strict=True)):
                break
            for part in (await consumer.getmany(timeout_ms=500, max_records=2000)).values():
                for record in part:
                    plan = orjson.loads(record.value)
                    if plan["notice_id"] != str(notice_id):
                        continue
                    batches += 1
                    per_language[plan["language"]] += 1
                    total_recipients += len(plan["recipients"])
                    if verify:
                        recipients.update(plan["recipients"])
        distinct = len(recipients) if verify else total_recipients
        return batches, per_language, distinct if distinct == total_recipients else -total_recipients
    finally:
        await consumer.stop()


async def planning_phase(
    args: argparse.Namespace, env: dict[str, str], topics: Topics, pool: db.Pool, log: Path
) -> dict[str, float]:
    rnd = random.Random(7)
    t = time.perf_counter()
    expected = await seed_subscribers(pool, args.subscribers, rnd)
    await pool.execute("VACUUM ANALYZE subscribers")
    print(
        f"  {args.subscribers:,} reachable subscribers (+2% not) loaded with COPY"
        f" in {time.perf_counter() - t:.1f} s"
    )
    router = Router(env, log)
    router.start()
    try:
        await router.ready()
        notice = NoticeSubmitted(
            notice_id=uuid.uuid4(),
            content=NoticeContent(
                title="Heavy rain warning",
                body="Heavy rain is expected tonight. Check the evacuation shelters near your home.",
                source_language="en",
                category="disaster",
            ),
            audience=AudienceFilter(),
            priority=Priority.EMERGENCY,
            submitted_by="bench",
        )
        producer = AIOKafkaProducer(bootstrap_servers=env["GUNMA_KAFKA_BOOTSTRAP_SERVERS"], acks="all")
        await producer.start()
        try:
            submitted_at = time.perf_counter()
            await producer.send_and_wait(
                topics.notices, notice.model_dump_json().encode(), key=str(notice.notice_id).encode()
            )
        finally:
            await producer.stop()
        snapshot_at = planned_at = None
        rss_samples: list[float] = []
        proc = psutil.Process(router.process.pid)  # type: ignore[union-attr]
        while planned_at is None:
            state = await pool.fetchval("SELECT state FROM notices WHERE notice_id = $1", notice.notice_id)
            now = time.perf_counter()
            rss_samples.append(proc.memory_info().rss / 2**20)
            if state in ("publishing", "planned") and snapshot_at is None:
                snapshot_at = now
            if state == "planned":
                planned_at = now
            if now - submitted_at > args.timeout:
                raise TimeoutError(f"notice not planned in {args.timeout} s (state {state}); see {log}")
            await asyncio.sleep(0.02)
        peak = router.peak_rss_mib()
        cpu = router.cpu_seconds()
        row = await pool.fetchrow(
            "SELECT recipients, batches, released_at, planned_at FROM notices WHERE notice_id = $1",
            notice.notice_id,
        )
    finally:
        router.stop()
    assert row is not None
    assert snapshot_at is not None
    batches, per_language, distinct = await count_planned(
        env["GUNMA_KAFKA_BOOTSTRAP_SERVERS"],
        topics.deliveries_planned,
        notice.notice_id,
        verify=not args.no_verify,
    )
    want = {lang: math.ceil(n / 500) for lang, n in expected.items()}
    ok = dict(per_language) == want and row["recipients"] == args.subscribers and distinct == args.subscribers
    print(
        f"  recipients {row['recipients']:,} in {batches:,} DeliveryPlanned"
        f" over {len(per_language)} languages;"
        f" ceil(n/500) per language: {'yes' if dict(per_language) == want else 'NO'};"
        f" distinct recipients: {distinct:,} ({'ok' if ok else 'MISMATCH'})"
    )
    if not ok:
        raise SystemExit("planning result does not match the audience")
    return {
        "subscribers": args.subscribers,
        "seconds_to_snapshot": snapshot_at - submitted_at,
        "seconds_to_planned": planned_at - submitted_at,
        "router_reported_seconds": (row["planned_at"] - row["released_at"]).total_seconds(),
        "batches": batches,
        "router_peak_rss_mib": peak,
        "router_rss_max_sampled_mib": max(rss_samples),
        "router_cpu_seconds": cpu,
    }


# --------------------------------------------------------------------------------------------------


async def main(args: argparse.Namespace) -> None:
    stack = ensure_stack()
    stamp = time.strftime("%m%d%H%M%S")
    database = f"gunma_bench_router_{stamp}"
    admin = await db.connect(stack.admin_dsn)
    await admin.execute(f'CREATE DATABASE "{database}"')
    await admin.close()
    dsn = stack.dsn_for(database)
    topics = Topics(prefix=f"bench.router.{stamp}.")
    log = Path(args.log_dir) / f"router-bench-{stamp}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {
        "GUNMA_KAFKA_BOOTSTRAP_SERVERS": stack.kafka_bootstrap,
        "GUNMA_KAFKA_TOPIC_PREFIX": topics.prefix,
        "GUNMA_DATABASE_URL": dsn,
        "GUNMA_LOG_LEVEL": "INFO",
    }
    results: dict[str, dict[str, float]] = {}
    pool: db.Pool | None = None
    try:
        await migrate.migrate(dsn, ["router"])
        await ensure_topics(stack.kafka_bootstrap, topics)
        pool = await db.create_pool(dsn, min_size=1, max_size=4)
        if not args.skip_employment:
            print(f"phase 1: employment apply rate ({args.events:,} events)")
            results["employment"] = await employment_phase(args, env, topics, pool, log)
        if not args.skip_plan:
            print(f"phase 2: plan a notice to {args.subscribers:,} subscribers")
            results["planning"] = await planning_phase(args, env, topics, pool, log)
    finally:
        if pool is not None:
            await pool.close()
        if not args.keep:
            await drop_run_state(stack.admin_dsn, database, stack.kafka_bootstrap, topics)
    command = "PYTHONPATH=. .venv/bin/python -m bench.router_plan " + " ".join(
        shlex.quote(a) for a in sys.argv[1:]
    )
    print()
    print(f"command: {command}")
    print(
        f"machine: {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB,"
        " shared with other work"
    )
    for phase, figures in results.items():
        print(f"{phase}:")
        for key, value in figures.items():
            print(f"  {key:32s} {value:,.2f}" if isinstance(value, float) else f"  {key:32s} {value:,}")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.router_plan", description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="employment events (phase 1)")
    parser.add_argument("--subscribers", type=int, default=1_000_000, help="reachable subscribers (phase 2)")
    parser.add_argument("--replicas", type=int, default=1, help="router processes in phase 1")
    parser.add_argument("--skip-employment", action="store_true")
    parser.add_argument("--skip-plan", action="store_true")
    parser.add_argument("--no-verify", action="store_true", help="do not check recipients for duplicates")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per phase before giving up")
    parser.add_argument("--keep", action="store_true", help="keep the database and topics afterwards")
    parser.add_argument("--log-dir", default=str(REPO / ".local" / "logs"))
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))
