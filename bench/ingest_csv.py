"""Benchmark: a generated employment CSV through the real ingest process into Kafka.

    .venv/bin/python -m bench.ingest_csv                 # 1,000,000 rows, CP932, as a Japanese extract
    .venv/bin/python -m bench.ingest_csv --rows 100000 --encoding utf-8-sig
    .venv/bin/python -m bench.ingest_csv --rows 200000 --profile .local/profile   # pyinstrument HTML

It starts ``python -m services.ingest`` on a fresh database and topic prefix (the local Kafka and
PostgreSQL of deploy/local), creates a feed key, streams the file over HTTP, and reports:

- rows/s end to end: from the first byte of the upload until every accepted row is in Kafka (the
  outbox is empty and the topic's end offsets add up to the accepted rows);
- the upload alone (until the 200 with the report);
- the peak resident memory of the ingest process (VmHWM), which must not grow with the file.

The file is generated deterministically from ``--seed`` (rows are unique, dates valid, a realistic mix
of Japanese labels, era dates and codes). Everything it created is removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import random
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil  # type: ignore[import-untyped]
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from bench._support import drop_run_state
from services.common import auth, codes, db
from services.common.topics import Topics
from tests.support.stack import REPO, ensure_stack, free_port

#: Municipalities of Gunma (JIS X 0402 without the check digit).
_CITIES = [
    "10201",
    "10202",
    "10203",
    "10204",
    "10205",
    "10206",
    "10207",
    "10208",
    "10209",
    "10210",
    "10211",
    "10212",
    "10344",
    "10345",
    "10366",
    "10367",
    "10382",
    "10383",
    "10384",
    "10421",
    "10424",
    "10425",
    "10426",
    "10428",
    "10429",
    "10443",
    "10444",
    "10448",
    "10449",
    "10464",
    "10521",
    "10522",
    "10523",
    "10524",
    "10525",
]
_STATUSES = (
    "技能実習1号イ",
    "技能実習1号ロ",
    "技能実習2号イ",
    "技能実習2号ロ",
    "技能実習3号イ",
    "特定技能1号",
    "特定技能2号",
    "技術・人文知識・国際業務",
    "永住者",
    "定住者",
    "日本人の配偶者等",
    "留学",
    "家族滞在",
    "特定活動",
)
_NATIONALITIES = (
    "VN",
    "ベトナム",
    "CN",
    "中国",
    "PH",
    "フィリピン",
    "ID",
    "インドネシア",
    "NP",
    "MM",
    "BR",
    "ブラジル",
    "PE",
    "TH",
)
_HEADER = (
    "届出種別,在留カード番号,国籍・地域,在留資格,在留期間満了日,生年,性別,資格外活動許可の有無,"
    "雇入れ年月日,離職年月日,雇用保険適用事業所番号,事業所名称,事業所所在地,市区町村コード"
)
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _reiwa(rnd: random.Random, first_year: int, last_year: int) -> tuple[int, int, int]:
    year = rnd.randint(first_year, last_year)
    return year, rnd.randint(1, 12), rnd.randint(1, 28)


def rows(count: int, seed: int) -> Iterator[str]:
    """The header and ``count`` distinct data rows, deterministic for a seed."""
    rnd = random.Random(seed)
    cities = [c + str(codes.municipality_check_digit(c)) for c in _CITIES]
    yield _HEADER
    for n in range(count):
        card = (
            f"{rnd.choice(_LETTERS)}{rnd.choice(_LETTERS)}{n:08d}{rnd.choice(_LETTERS)}{rnd.choice(_LETTERS)}"
        )
        kind = rnd.random()
        year, month, day = _reiwa(rnd, 2, 6)
        date = f"R{year}.{month}.{day}" if rnd.random() < 0.5 else f"{2018 + year}-{month:02d}-{day:02d}"
        status = rnd.choice(_STATUSES)
        ey, em, ed = _reiwa(rnd, 7, 10)
        expiry = "" if status == "永住者" else f"令和{ey}年{em}月{ed}日"
        est = rnd.randint(1, 20_000)
        yield ",".join(
            (
                "雇入れ" if kind < 0.75 else "離職",
                card,
                rnd.choice(_NATIONALITIES),
                status,
                expiry,
                str(rnd.randint(1965, 2006)),
                rnd.choice("男女"),
                rnd.choice(("有", "無")),
                date if kind < 0.75 else "",
                "" if kind < 0.75 else date,
                f"{1000 + est % 9000:04d}-{est * 37 % 1_000_000:06d}-{est % 10}",
                f"株式会社グンマ製作所{est}",
                f"群馬県前橋市大手町{est % 100}-{est % 7 + 1}",
                cities[est % len(cities)],
            )
        )


def generate(path: Path, count: int, seed: int, encoding: str) -> int:
    with path.open("w", encoding=encoding, newline="") as out:
        for line in rows(count, seed):
            out.write(line + "\r\n")
    return path.stat().st_size


class PeakMemory:
    """Peak RSS of the ingest process and of its parse workers.

    ``main`` is the kernel's high-water mark (VmHWM) of the service's process; ``total`` the largest
    sum over the process and its children seen by sampling every 0.1 s.
    """

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.total = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            try:
                family = [self.process, *self.process.children(recursive=True)]
                self.total = max(self.total, sum(p.memory_info().rss for p in family))
            except psutil.Error:
                continue

    def main(self) -> int:
        try:
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            pass
        return int(self.process.memory_info().rss)

    def stop(self) -> None:
        self._stop.set()


async def kafka_count(bootstrap: str, topic: str) -> int:
    """Records in a topic (the sum of its partitions' end offsets; nothing is ever deleted here)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
        partitions = [TopicPartition(topic, p["partition"]) for p in described[0]["partitions"]]
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(partitions)
        return sum(ends.values())
    finally:
        await consumer.stop()


def _upload(url: str, key: str, path: Path, encoding: str) -> tuple[dict[str, object], float]:
    import orjson

    def chunks() -> Iterator[bytes]:
        with path.open("rb") as source:
            while block := source.read(1 << 20):
                yield block

    charset = {"cp932": "shift_jis"}.get(encoding, "utf-8")
    started = time.perf_counter()
    with httpx.stream(
        "POST",
        f"{url}/v1/employment-events/csv?filename={path.name}",
        content=chunks(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": f"text/csv; charset={charset}"},
        timeout=httpx.Timeout(30, read=3600),
    ) as response:
        if response.status_code != 200:
            raise SystemExit(f"upload failed: {response.status_code} {response.read()[:2000]!r}")
        lines = response.iter_lines()
        summary: dict[str, object] = orjson.loads(next(lines))
        for _ in lines:
            pass
    return summary, time.perf_counter() - started


async def run(args: argparse.Namespace) -> None:
    stack = ensure_stack()
    run_id = f"bench{time.strftime('%m%d%H%M%S')}{uuid.uuid4().hex[:4]}"
    database = f"gunma_{run_id}"
    topics = Topics(prefix=f"{run_id}.")
    workdir = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    csv_path = workdir / f"extract-{args.rows}.csv"
    t = time.perf_counter()
    size = generate(csv_path, args.rows, args.seed, args.encoding)
    seconds = time.perf_counter() - t
    print(f"generated {args.rows:,} rows, {size / 1e6:.1f} MB ({args.encoding}) in {seconds:.1f} s")

    admin = await db.connect(stack.admin_dsn)
    await admin.execute(f'CREATE DATABASE "{database}"')
    await admin.close()
    dsn = stack.dsn_for(database)
    port = free_port()
    env = {
        **os.environ,
        "GUNMA_KAFKA_BOOTSTRAP_SERVERS": stack.kafka_bootstrap,
        "GUNMA_KAFKA_TOPIC_PREFIX": topics.prefix,
        "GUNMA_DATABASE_URL": dsn,
        "GUNMA_INGEST_HTTP_PORT": str(port),
        "GUNMA_INGEST_WORKER_ID_PEPPER": "bench-only-pepper-0123456789abcdef0123456789",
        "GUNMA_INGEST_LINE_CHANNEL_SECRET": "bench-only-secret",
        "GUNMA_LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
        **dict(item.split("=", 1) for item in args.env),
    }
    command = [sys.executable, "-m", "services.ingest"]
    if args.profile:
        profile_dir = Path(args.profile)
        await asyncio.to_thread(profile_dir.mkdir, parents=True, exist_ok=True)
        out = profile_dir / f"ingest-{run_id}.{args.profile_format}"
        command = [
            sys.executable,
            "-m",
            "pyinstrument",
            "-r",
            "html" if args.profile_format == "html" else "text",
            "-o",
            str(out),
            "-m",
            "services.ingest",
        ]
    log_path = workdir / "ingest.log"
    process = await asyncio.to_thread(_start, command, env, log_path)
    memory = PeakMemory(process.pid)
    try:
        url = f"http://127.0.0.1:{port}"
        await asyncio.to_thread(_wait_ready, process, url, log_path)
        conn = await db.connect(dsn)
        key, _ = await auth.create_key(conn, name="bench-feed", role=auth.Role.FEED)
        rss_idle = psutil.Process(process.pid).memory_info().rss
        cpu_before = _cpu_seconds(process.pid)

        started = time.perf_counter()
        summary, upload_seconds = await asyncio.to_thread(_upload, url, key, csv_path, args.encoding)
        accepted = int(summary["accepted"])  # type: ignore[call-overload]
        while True:
            backlog = await conn.fetchval("SELECT count(*) FROM ingest_outbox")
            if backlog == 0 and await kafka_count(stack.kafka_bootstrap, topics.employment) >= accepted:
                break
            if process.poll() is not None:
                raise SystemExit(f"ingest exited: {log_path.read_text()[-3000:]}")
            await asyncio.sleep(0.05)
        total = time.perf_counter() - started
        in_kafka = await kafka_count(stack.kafka_bootstrap, topics.employment)
        await conn.close()
        peak_main, peak_total = memory.main(), memory.total
        cpu = {name: after - cpu_before.get(name, 0.0) for name, after in _cpu_seconds(process.pid).items()}

        print()
        print("ingest CSV benchmark")
        print(f"  command:     {shlex.join([sys.executable, '-m', 'bench.ingest_csv', *sys.argv[1:]])}")
        print(
            f"  machine:     {platform.node()}, {os.cpu_count()} CPUs, "
            f"load {os.getloadavg()[0]:.2f} at the end"
        )
        print(
            f"  file:        {args.rows:,} rows, {size / 1e6:.1f} MB, {summary['encoding']}; "
            f"accepted {summary['accepted']:,}, duplicates {summary['duplicates']:,}, "
            f"rejected {summary['rejected']:,}"
        )
        print(f"  in Kafka:    {in_kafka:,} records on {topics.employment}")
        print(
            f"  upload:      {upload_seconds:.2f} s until the 200 ({args.rows / upload_seconds:,.0f} rows/s)"
        )
        print(f"  end to end:  {total:.2f} s until every row is in Kafka -> {args.rows / total:,.0f} rows/s")
        print(
            f"  memory:      peak RSS {peak_main / 2**20:.0f} MiB in the service's process (idle before the "
            f"upload {rss_idle / 2**20:.0f} MiB); {peak_total / 2**20:.0f} MiB with its parse workers"
        )
        print(
            "  CPU:         "
            + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in cpu.items())
            + f" (of {total * (os.cpu_count() or 1):.1f} s available; other work on the machine counts too)"
        )
        if accepted != args.rows or in_kafka != accepted:
            raise SystemExit("the counts do not add up")
    finally:
        memory.stop()
        if process.poll() is None:
            process.send_signal(signal.SIGINT if args.profile else signal.SIGTERM)
            try:
                process.wait(120)
            except subprocess.TimeoutExpired:
                process.kill()
        if args.profile:
            print(f"  profile:     {Path(args.profile) / f'ingest-{run_id}.{args.profile_format}'}")
        if not args.keep:
            await drop_run_state(stack.admin_dsn, database, stack.kafka_bootstrap, topics)
            await asyncio.to_thread(shutil.rmtree, workdir, ignore_errors=True)
        else:
            print(f"  kept:        database {database}, topics {topics.prefix}*, files in {workdir}")


def _start(command: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=log_path.open("wb"), stderr=subprocess.STDOUT)


def _wait_ready(process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    deadline = time.monotonic() + 120
    while True:
        if process.poll() is not None:
            raise SystemExit(f"ingest exited: {log_path.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit("ingest did not become ready")
        time.sleep(0.2)


def _cpu_seconds(ingest_pid: int) -> dict[str, float]:
    """CPU time used so far by ingest (with its parse workers), PostgreSQL and the Kafka broker."""
    totals = {"ingest": 0.0, "postgresql": 0.0, "kafka": 0.0}
    family = {ingest_pid}
    with contextlib.suppress(psutil.Error):
        family |= {child.pid for child in psutil.Process(ingest_pid).children(recursive=True)}
    for proc in psutil.process_iter(["pid", "name", "cmdline", "cpu_times"]):
        times = proc.info["cpu_times"]
        if times is None:
            continue
        used = times.user + times.system
        if proc.info["pid"] in family:
            totals["ingest"] += used
        elif proc.info["name"] == "postgres":
            totals["postgresql"] += used
        elif "kafka.Kafka" in " ".join(proc.info["cmdline"] or ()):
            totals["kafka"] += used
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=20240401)
    parser.add_argument("--encoding", default="cp932", choices=["cp932", "utf-8", "utf-8-sig"])
    parser.add_argument("--profile", help="directory for a pyinstrument HTML profile of the ingest process")
    parser.add_argument("--profile-format", default="html", choices=["html", "txt"])
    parser.add_argument("--env", action="append", default=[], help="extra NAME=VALUE for the ingest process")
    parser.add_argument("--keep", action="store_true", help="keep the database, topics and file")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
