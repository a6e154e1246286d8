"""What the end-to-end benchmarks share: the machine they ran on, quiet-machine waiting, CPU and memory of
processes, Apertium, and a seeded audience. The system itself is the e2e tests' harness
(``tests.e2e.pipeline.system.System``: every service as a real process on a database and topic prefix of
its own), so a benchmark measures exactly what the tests check.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import random
import re
import shlex
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil  # type: ignore[import-untyped]
from aiokafka.admin import AIOKafkaAdminClient

from services.common import db, languages
from services.common.topics import Topics
from tests.e2e.pipeline.system import System, seed_subscribers_with_copy
from tests.support.stack import REPO, free_port

APY_SH = REPO / "deploy/local/apertium/apy.sh"
#: Test-only secrets for the benchmark's own loopback system.
BENCH_ENV = {
    "GUNMA_WORKER_ID_PEPPER": "bench-only-worker-id-pepper-0123456789abcdef",
    "GUNMA_LINE_CHANNEL_SECRET": "bench-only-line-channel-secret",
    "GUNMA_LOG_LEVEL": "WARNING",
}
#: The 24 languages besides Japanese, weighted roughly like Gunma's foreign residents.
LANGUAGES = tuple(lang.code for lang in languages.DEFAULT_LANGUAGES if lang.code != "ja")
LANGUAGE_WEIGHTS = (30, 25, 12, 10, 3, 2, 9, 8, 2, 14, 3, 6, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2)


# --------------------------------------------------------------------------------------------------
# The machine


@dataclass(frozen=True)
class Machine:
    cpu_model: str
    cores: int
    ram_gib: float
    load: tuple[float, float, float]

    @classmethod
    def now(cls) -> Machine:
        model = platform.processor() or "unknown"
        with contextlib.suppress(OSError):
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
        return cls(model, os.cpu_count() or 1, psutil.virtual_memory().total / 2**30, os.getloadavg())

    def describe(self) -> str:
        one, five, fifteen = self.load
        return (
            f"{self.cpu_model}, {self.cores} cores, {self.ram_gib:.0f} GiB RAM, "
            f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min)"
        )


def wait_for_quiet(max_load: float, hold_seconds: float, give_up_seconds: float) -> Machine:
    """Wait until the 1-minute load average stays below ``max_load`` for ``hold_seconds`` (other engineers
    share the machine); give up after ``give_up_seconds`` and run anyway. Returns the machine then."""
    if give_up_seconds <= 0:
        return Machine.now()
    deadline = time.monotonic() + give_up_seconds
    quiet_since: float | None = None
    while time.monotonic() < deadline:
        load = os.getloadavg()[0]
        now = time.monotonic()
        if load < max_load:
            quiet_since = quiet_since or now
            if now - quiet_since >= hold_seconds:
                return Machine.now()
        else:
            quiet_since = None
        time.sleep(5)
    print(f"  (the machine did not get quiet within {give_up_seconds:.0f} s; running on a shared machine)")
    return Machine.now()


def command_line(module: str) -> str:
    return shlex.join([".venv/bin/python", "-m", module, *sys.argv[1:]])


# --------------------------------------------------------------------------------------------------
# Processes


def peak_rss_mib(pid: int) -> float:
    """VmHWM: the largest resident set the process has had."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def cpu_seconds(pids: Mapping[str, int]) -> dict[str, float]:
    """CPU seconds (user + system) used so far by each named process (with its children), and by all
    PostgreSQL and Kafka broker processes of the machine."""
    totals: dict[str, float] = dict.fromkeys([*pids, "postgresql", "kafka"], 0.0)
    owner: dict[int, str] = {}
    for name, pid in pids.items():
        owner[pid] = name
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(pid).children(recursive=True):
                owner[child.pid] = name
    for proc in psutil.process_iter(["pid", "name", "cmdline", "cpu_times"]):
        times = proc.info["cpu_times"]
        if times is None:
            continue
        used = float(times.user + times.system)
        if proc.info["pid"] in owner:
            totals[owner[proc.info["pid"]]] += used
        elif proc.info["name"] == "postgres":
            totals["postgresql"] += used
        elif "kafka.Kafka" in " ".join(proc.info["cmdline"] or ()):
            totals["kafka"] += used
    return totals


def cpu_since(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
    return {name: after[name] - before.get(name, 0.0) for name in after}


def system_pids(system: System) -> dict[str, int]:
    return {
        name: p.process.pid
        for name, p in system.processes.items()
        if p.process is not None and p.process.poll() is None
    }


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --------------------------------------------------------------------------------------------------
# Apertium and the audience


@contextlib.asynccontextmanager
async def apertium(url: str | None) -> AsyncIterator[str]:
    """The given APY, or one started with deploy/local/apertium/apy.sh on a free loopback port."""
    if url:
        yield url.rstrip("/")
        return
    env = {**os.environ, "APY_PORT": str(free_port()), "GUNMA_STATE_DIR": str(REPO / ".local" / "bench")}
    await asyncio.to_thread(subprocess.run, [str(APY_SH), "up"], check=True, env=env, timeout=120)
    found = await asyncio.to_thread(
        subprocess.run, [str(APY_SH), "url"], check=True, env=env, capture_output=True, text=True
    )
    try:
        yield found.stdout.strip()
    finally:
        await asyncio.to_thread(subprocess.run, [str(APY_SH), "down"], check=False, env=env, timeout=60)


def audience_rows(count: int, seed: int, unreachable_share: float = 0.02) -> Iterator[tuple[str, str, bool]]:
    """``count`` reachable subscribers over the 24 languages, then ``unreachable_share`` more who unfollowed
    (they must receive nothing): (LINE user id, language, followed)."""
    rnd = random.Random(seed)
    extra = int(count * unreachable_share)
    for n in range(count + extra):
        yield f"U{rnd.getrandbits(128):032x}", rnd.choices(LANGUAGES, LANGUAGE_WEIGHTS)[0], n < count


async def seed_audience(system: System, count: int, seed: int) -> Counter[str]:
    """COPY the audience into the registry; returns reachable subscribers per language."""
    per_language: Counter[str] = Counter()

    def counted() -> Iterator[tuple[str, str, bool]]:
        for row in audience_rows(count, seed):
            if row[2]:
                per_language[row[1]] += 1
            yield row

    await seed_subscribers_with_copy(system, counted())
    return per_language


def _start_spies(pids: Mapping[str, int], out_dir: Path) -> list[subprocess.Popen[bytes]]:
    out_dir.mkdir(parents=True, exist_ok=True)
    spy = str(Path(sys.executable).with_name("py-spy"))
    return [
        subprocess.Popen(
            [spy, "record", "--pid", str(pid), "--subprocesses", "--rate", "200", "--format", "raw",
             "--output", str(out_dir / f"{name}.txt"), "--nonblocking"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name, pid in pids.items()
    ]  # fmt: skip


def _stop_spies(recorders: list[subprocess.Popen[bytes]]) -> None:
    for recorder in recorders:
        recorder.send_signal(signal.SIGINT)
    for recorder in recorders:
        try:
            recorder.wait(60)
        except subprocess.TimeoutExpired:
            recorder.kill()


@contextlib.asynccontextmanager
async def py_spy(pids: Mapping[str, int], out_dir: Path | None) -> AsyncIterator[None]:
    """Sample the named processes (and their children) with py-spy while the block runs; writes
    collapsed stacks to ``out_dir/<name>.txt`` (flamegraph.pl and speedscope read them). No-op without a
    directory."""
    if out_dir is None:
        yield
        return
    recorders = await asyncio.to_thread(_start_spies, pids, out_dir)
    try:
        yield
    finally:
        await asyncio.to_thread(_stop_spies, recorders)


def top_frames(collapsed: Path, limit: int = 25) -> list[tuple[str, float, float]]:
    """(function, self share, total share) of the most expensive frames of a py-spy raw profile."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        samples += n
        # "function (path/file.py:123)" -> "function (file.py)": a function's lines add up
        frames = [re.sub(r" \((?:.*/)?([^/]*?):\d+\)$", r" (\1)", f) for f in stack.split(";")]
        own[frames[-1]] += n
        for frame in set(frames):
            total[frame] += n
    if not samples:
        return []
    return [(frame, own[frame] / samples, total[frame] / samples) for frame, _ in own.most_common(limit)]


def print_profiles(directory: Path, label: str, limit: int = 12) -> None:
    """The top frames of every py-spy profile in ``directory``: self / total share."""
    for path in sorted(directory.glob("*.txt")):
        print(f"  profile [{label}] {path.stem} (py-spy {path}): self / total share")
        for frame, own, total_share in top_frames(path, limit):
            print(f"    {own:6.1%} {total_share:6.1%}  {frame[:140]}")


async def drop_run_state(admin_dsn: str, database: str, bootstrap: str, topics: Topics) -> None:
    """Drop a benchmark's own database and topics (the topics are prefixed: leaving them is harmless,
    so a failure to delete them is only reported)."""
    admin = await db.connect(admin_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await admin.close()
    client = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await client.start()
    try:
        await client.delete_topics([name for name, _ in topics.specs_with_dlq()])
    except Exception as error:
        print(f"  (topics not deleted: {error})", file=sys.stderr)
    finally:
        await client.close()
