"""Benchmark (issue 8, 4b): a 1,000,000-row employment CSV into the registry, end to end, next to a plain
PostgreSQL COPY of the same file.

    .venv/bin/python -m bench.e2e_csv                       # 1,000,000 rows (CP932, Japanese headers)
    .venv/bin/python -m bench.e2e_csv --rows 100000         # a quicker look
    .venv/bin/python -m bench.e2e_csv --wait-quiet 900 --router-env GUNMA_ROUTER_EMPLOYMENT_CONSUMERS=1

The file is the demo generator's (``services.demo.generate``: one hire per worker, four pilot cities,
100 employers), written as a Japanese Excel export would be (CP932). ingest and the router run as real
processes on the local Kafka and PostgreSQL, in a database and topic prefix of their own. The clock runs
from the first byte of the upload (``POST /v1/employment-events/csv`` with a feed key) until the router
has applied every accepted row to its tables (its tracked offsets on employment.v1 reach the rows; then
``employments`` is counted). In the same run the same file is loaded with ``COPY ... FROM STDIN (FORMAT
csv)`` into a plain table of text columns: the floor of "bytes into PostgreSQL" on this machine.

Target: at least 50,000 rows/s. Printed: rows/s, the upload alone, CPU per row of each process
(ingest with its parse workers, router, PostgreSQL, Kafka) and the peak RSS of ingest and router.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from pathlib import Path

import asyncpg

from bench._support import (
    BENCH_ENV,
    Machine,
    command_line,
    cpu_seconds,
    cpu_since,
    peak_rss_mib,
    py_spy,
    system_pids,
    top_frames,
    wait_for_quiet,
)
from bench.ingest_csv import _upload
from services.demo import generate
from tests.e2e.pipeline.system import System
from tests.support.stack import ensure_stack

PLAIN_TABLE = "bench_plain_employment"


async def applied(system: System) -> int:
    async with system.connection() as conn:
        value = await conn.fetchval(
            "SELECT COALESCE(sum(next_offset), 0) FROM consumer_offsets WHERE consumer = $1 AND topic = $2",
            system.topics.prefix + "router.employment",
            system.topics.employment,
        )
    return int(value)


async def plain_copy(dsn: str, path: Path, encoding: str) -> float:
    """COPY the same file into a table of text columns; returns the seconds it took."""
    conn = await asyncpg.connect(dsn)
    try:
        columns = ", ".join(f"c{i} text" for i in range(len(generate.HEADER)))
        await conn.execute(f"CREATE TABLE {PLAIN_TABLE} ({columns})")
        started = time.perf_counter()
        await conn.copy_to_table(
            PLAIN_TABLE,
            source=path,
            format="csv",
            header=True,
            encoding={"cp932": "SJIS"}.get(encoding, "UTF8"),
        )
        return time.perf_counter() - started
    finally:
        await conn.close()


async def main(args: argparse.Namespace) -> int:
    machine = await asyncio.to_thread(wait_for_quiet, 0.5, 60, args.wait_quiet)
    stack = ensure_stack()
    workdir = Path(tempfile.mkdtemp(prefix="e2e-csv-"))
    path = workdir / f"employment-{args.rows}.csv"
    t = time.perf_counter()
    people = generate.workers(args.rows, seed=args.seed, separated_share=0)
    rows = await asyncio.to_thread(generate.write_csv, path, people, encoding=args.encoding)
    size = path.stat().st_size
    print(
        f"generated {rows:,} rows, {size / 1e6:.0f} MB ({args.encoding}) in {time.perf_counter() - t:.0f} s"
    )
    system = System(
        name="bcsv",
        kafka_bootstrap=stack.kafka_bootstrap,
        admin_dsn=stack.admin_dsn,
        base_env=BENCH_ENV,
        log_dir=workdir / "logs",
        services=("ingest", "router"),
        overrides={
            "ingest": dict(item.split("=", 1) for item in args.ingest_env),
            "router": dict(item.split("=", 1) for item in args.router_env),
        },
    )
    try:
        await system.start()
        pids = system_pids(system)
        before = cpu_seconds(pids)
        load_before = Machine.now()
        async with py_spy(pids, args.profile):
            started = time.perf_counter()
            summary, upload_seconds = await asyncio.to_thread(
                _upload, system.url("ingest"), system.feed_key, path, args.encoding
            )
            accepted = int(summary["accepted"])  # type: ignore[call-overload]
            while (done := await applied(system)) < accepted:
                system.assert_running()
                if time.perf_counter() - started > args.timeout:
                    raise SystemExit(f"only {done:,} of {accepted:,} rows applied in {args.timeout:.0f} s")
                await asyncio.sleep(0.05)
            seconds = time.perf_counter() - started
        cpu = cpu_since(before, cpu_seconds(pids))
        rss = {name: peak_rss_mib(pid) for name, pid in pids.items()}
        load_after = Machine.now()
        registry_rows = await system.registry_rows()
        copy_seconds = await plain_copy(system.dsn, path, args.encoding)
    finally:
        await system.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    rate = rows / seconds
    print()
    print("bench.e2e_csv: employment CSV -> ingest (HTTP) -> employment.v1 -> router -> registry tables")
    print(f"  command:    {command_line('bench.e2e_csv')}")
    print(f"  machine:    {machine.describe()} at the start")
    print(
        f"  file:       {rows:,} rows, {size / 1e6:.0f} MB, {summary['encoding']}; accepted {accepted:,}, "
        f"rejected {summary['rejected']}; in the registry: {registry_rows:,} employments"
    )
    verdict = "met" if rate >= 50_000 else "MISSED"
    print(
        f"  end to end: {seconds:.1f} s from the first byte to the last row applied -> {rate:,.0f} rows/s "
        f"(target >= 50,000: {verdict})"
    )
    print(
        f"  upload:     {upload_seconds:.1f} s until ingest's 200 "
        f"({rows / upload_seconds:,.0f} rows/s recorded in ingest's outbox)"
    )
    print(
        f"  COPY:       {copy_seconds:.1f} s for the same file into a plain table -> "
        f"{rows / copy_seconds:,.0f} rows/s (the pipeline is {copy_seconds / seconds:.0%} of COPY's speed)"
    )
    per = ", ".join(f"{k} {v:.1f} s ({v / rows * 1e6:.0f} us/row)" for k, v in cpu.items())
    total = sum(cpu.values())
    print(f"  CPU:        {per}; total {total:.1f} s = {total / rows * 1e6:.0f} us/row")
    print("  peak RSS:   " + ", ".join(f"{k} {v:.0f} MiB" for k, v in rss.items()))
    print(
        f"  load:       {load_before.load[0]:.2f} before, {load_after.load[0]:.2f} after (1-minute average)"
    )
    if args.profile:
        for name in pids:
            print(f"  profile of {name} (py-spy, {args.profile / (name + '.txt')}): self / total share")
            for frame, own, total_share in top_frames(args.profile / f"{name}.txt", 15):
                print(f"    {own:6.1%} {total_share:6.1%}  {frame[:140]}")
    return 0 if registry_rows == rows == accepted else 1


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.e2e_csv", description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=20260401)
    parser.add_argument("--encoding", choices=["cp932", "utf-8"], default="cp932")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument(
        "--wait-quiet", type=float, default=0, help="wait up to this many seconds for load < 0.5"
    )
    parser.add_argument(
        "--profile", type=Path, default=None, help="py-spy profiles of ingest and router here"
    )
    parser.add_argument("--ingest-env", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--router-env", action="append", default=[], metavar="NAME=VALUE")
    return parser.parse_args(argv)


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(parse())))
