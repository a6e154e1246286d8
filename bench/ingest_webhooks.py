"""Benchmark: LINE webhooks at a steady rate through the real ingest process into Kafka.

    .venv/bin/python -m bench.ingest_webhooks                    # 200 webhooks/s for 15 s
    .venv/bin/python -m bench.ingest_webhooks --rate 400 --seconds 10

Starts ``python -m services.ingest`` on a fresh database and topic prefix, sends signed webhooks (one
text message each, from 1,000 users) at a fixed rate from a bounded schedule, and reports percentiles
of (a) the HTTP answer LINE would wait for and (b) the time from sending until the event is in Kafka
(read back by a consumer), which is ingest's share of the webhook-to-reply latency.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import os
import shlex
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer

from bench._support import drop_run_state
from bench.ingest_csv import _cpu_seconds, _start, _wait_ready
from services.common import db
from services.common.topics import Topics
from tests.support.stack import ensure_stack, free_port

SECRET = "bench-only-channel-secret"  # noqa: S105 - a throwaway channel of the benchmark


class _Connections:
    """Keep-alive HTTP/1.1 POSTs on raw asyncio streams: httpx costs more CPU per request than the
    service under test, and on a small machine that would measure the client."""

    def __init__(self, host: str, port: int, size: int) -> None:
        self.host, self.port = host, port
        self._idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
        self._size = size
        self._opened = 0

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        if self._idle.empty() and self._opened < self._size:
            self._opened += 1
            reader, writer = await asyncio.open_connection(self.host, self.port)
        else:
            reader, writer = await self._idle.get()
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Length: {len(body)}\r\n{head}\r\n".encode()
            + body
        )
        status_line = await reader.readline()
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        await reader.readexactly(length)
        self._idle.put_nowait((reader, writer))
        return int(status_line.split()[1])

    async def close(self) -> None:
        while not self._idle.empty():
            _, writer = self._idle.get_nowait()
            writer.close()


def _percentiles(values: list[float]) -> str:
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    worst = ordered[-1] * 1000
    return f"p50 {at(0.50):.1f} ms, p95 {at(0.95):.1f} ms, p99 {at(0.99):.1f} ms, max {worst:.1f} ms"


async def run(args: argparse.Namespace) -> None:
    stack = ensure_stack()
    run_id = f"benchwh{time.strftime('%m%d%H%M%S')}{uuid.uuid4().hex[:4]}"
    database = f"gunma_{run_id}"
    topics = Topics(prefix=f"{run_id}.")
    admin = await db.connect(stack.admin_dsn)
    await admin.execute(f'CREATE DATABASE "{database}"')
    await admin.close()
    port = free_port()
    env = {
        **os.environ,
        "GUNMA_KAFKA_BOOTSTRAP_SERVERS": stack.kafka_bootstrap,
        "GUNMA_KAFKA_TOPIC_PREFIX": topics.prefix,
        "GUNMA_DATABASE_URL": stack.dsn_for(database),
        "GUNMA_INGEST_HTTP_PORT": str(port),
        "GUNMA_INGEST_WORKER_ID_PEPPER": "bench-only-pepper-0123456789abcdef0123456789",
        "GUNMA_INGEST_LINE_CHANNEL_SECRET": SECRET,
        "PYTHONUNBUFFERED": "1",
    }
    log_path = Path(tempfile.mkdtemp(prefix="ingest-webhooks-")) / "ingest.log"
    process = await asyncio.to_thread(_start, [sys.executable, "-m", "services.ingest"], env, log_path)
    sent: dict[str, float] = {}
    seen: dict[str, float] = {}
    answers: list[float] = []
    try:
        url = f"http://127.0.0.1:{port}"
        await asyncio.to_thread(_wait_ready, process, url, log_path)
        consumer = AIOKafkaConsumer(
            topics.line_events,
            bootstrap_servers=stack.kafka_bootstrap,
            auto_offset_reset="earliest",
            group_id=None,
        )
        await consumer.start()
        total = int(args.rate * args.seconds)

        async def read() -> None:
            while len(seen) < total:
                batch = await consumer.getmany(timeout_ms=100)
                now = time.perf_counter()
                for records in batch.values():
                    for record in records:
                        seen.setdefault(orjson.loads(record.value)["webhook_event_id"], now)

        reader = asyncio.create_task(read())
        users = ["U" + hashlib.md5(str(n).encode()).hexdigest() for n in range(1000)]  # noqa: S324 - ids only
        connections = _Connections("127.0.0.1", port, 64)
        try:

            async def send(n: int) -> None:
                webhook_event_id = f"01BENCH{run_id[-8:].upper()}{n:010d}"
                body = orjson.dumps(
                    {
                        "destination": "U" + "0" * 32,
                        "events": [
                            {
                                "type": "message",
                                "timestamp": int(time.time() * 1000),
                                "mode": "active",
                                "webhookEventId": webhook_event_id,
                                "deliveryContext": {"isRedelivery": False},
                                "source": {"type": "user", "userId": users[n % len(users)]},
                                "replyToken": uuid.uuid4().hex,
                                "message": {
                                    "type": "text",
                                    "id": str(n),
                                    "text": "こんにちは",
                                    "quoteToken": "q",
                                },
                            }
                        ],
                    }
                )
                signature = base64.b64encode(
                    hmac.new(SECRET.encode(), body, hashlib.sha256).digest()
                ).decode()
                started = time.perf_counter()
                sent[webhook_event_id] = started
                status = await connections.post(
                    "/line/webhook", body, {"Content-Type": "application/json", "X-Line-Signature": signature}
                )
                answers.append(time.perf_counter() - started)
                if status != 200:
                    raise RuntimeError(f"webhook answered {status}")

            cpu_before = _cpu_seconds(process.pid)
            mine_before = time.process_time()
            begin = time.perf_counter()
            tasks = []
            for n in range(total):  # a fixed schedule: n / rate seconds after the start
                delay = begin + n / args.rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(send(n)))
            await asyncio.gather(*tasks)
        finally:
            await connections.close()
        await asyncio.wait_for(reader, 60)
        elapsed = time.perf_counter() - begin
        cpu = {k: v - cpu_before.get(k, 0.0) for k, v in _cpu_seconds(process.pid).items()}
        cpu["this client"] = time.process_time() - mine_before
        await consumer.stop()
        to_kafka = [seen[k] - sent[k] for k in sent]
        print()
        print("ingest webhook benchmark")
        print(f"  command:   {shlex.join([sys.executable, '-m', 'bench.ingest_webhooks', *sys.argv[1:]])}")
        print(f"  load:      {total} webhooks at {args.rate:g}/s (machine load {os.getloadavg()[0]:.2f})")
        print(f"  answer:    {_percentiles(answers)}")
        print(f"  in Kafka:  {_percentiles(to_kafka)}")
        print(
            f"  CPU:       over {elapsed:.1f} s: "
            + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in cpu.items())
        )
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(60)
        await drop_run_state(stack.admin_dsn, database, stack.kafka_bootstrap, topics)
        await asyncio.to_thread(shutil.rmtree, log_path.parent, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=200.0, help="webhooks per second")
    parser.add_argument("--seconds", type=float, default=15.0)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
