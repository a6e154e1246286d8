"""Onboarding benchmark: how long a worker waits for each answer, end to end, and turns per second.

Starts the real system (LINE sandbox, ingest, router, sender, translate: ``tests/support/line_stack.py``)
on the local Kafka and PostgreSQL, in a database and topics of its own (dropped at the end). Then W
simulated workers onboard at once, each a full conversation of 7 turns (follow, language, employer code,
nationality, status, consent, card number), each turn sent only after the previous answer arrived, as a
person does. Measured per turn: from the sandbox posting the signed webhook to the answer being in the
phone's inbox (polled every 10 ms), through ingest, Kafka, the router's transaction and outbox, Kafka
and the sender. Also reported: how many answers used the (free) reply token rather than a push — the
reply token lives about a minute, the dialogue uses it for 50 s.

    .venv/bin/python -m bench.onboarding_latency [--workers 40]

Bounded: W x 7 turns, then it stops everything it started. The figures depend on what else runs on the
machine (other engineers' tests share its 2 cores, and every process of the system runs on them).
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

from services.line_sandbox.phone import Phone
from services.router.dialogue import CONSENT_VERSION
from tests.support.line_stack import LineStack
from tests.support.stack import ensure_stack


async def onboard(phone: Phone, code: str, card: str, latencies: list[float], endpoints: list[str]) -> None:
    steps = [
        ("follow", None),
        ("tap", "cmd=set_language&lang=vi"),
        ("say", code),
        ("tap", "cmd=set_nationality&c=VN"),
        ("tap", "cmd=set_status&s=technical_intern_2b"),
        ("tap", f"cmd=consent&v={CONSENT_VERSION}&a=yes"),
        ("say", card),
    ]
    for kind, value in steps:
        started = time.perf_counter()
        if kind == "follow":
            sent = await phone.sandbox.follow(phone.user_id, language=phone.language)
        elif kind == "tap":
            assert value is not None
            sent = await phone.sandbox.postback(phone.user_id, value)
        else:
            assert value is not None
            sent = await phone.sandbox.message(phone.user_id, value)
        reply = await phone.reply_to(sent["event"]["webhookEventId"], timeout=120)
        latencies.append(time.perf_counter() - started)
        endpoints.append(reply.endpoint)


async def main(workers: int) -> None:
    stack_info = ensure_stack()
    started = time.perf_counter()
    stack = await LineStack.start(stack_info, log_dir=Path(tempfile.mkdtemp(prefix="bench-onboarding-")))
    print(f"system started in {time.perf_counter() - started:.1f} s")
    try:
        code = await stack.issue_code(name="Bench Works", municipality_code="10205")
        phones = [await stack.phone(language="vi") for _ in range(workers)]
        for phone in phones:
            phone.poll = 0.01
        latencies: list[float] = []
        endpoints: list[str] = []
        began = time.perf_counter()
        await asyncio.gather(
            *(
                onboard(phone, code["code"], f"BE{n:08d}CH", latencies, endpoints)
                for n, phone in enumerate(phones)
            )
        )
        elapsed = time.perf_counter() - began
        ordered = sorted(latencies)

        def pct(p: float) -> float:
            return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000

        print(f"{workers} workers x 7 turns = {len(latencies)} turns in {elapsed:.1f} s")
        print(f"turns/s: {len(latencies) / elapsed:.1f}")
        print(
            f"answer latency ms: p50 {pct(0.5):.0f}, p95 {pct(0.95):.0f}, max {ordered[-1] * 1000:.0f}, "
            f"mean {statistics.fmean(latencies) * 1000:.0f}"
        )
        print(f"answers by reply token: {endpoints.count('reply')} of {len(endpoints)}")
        print(f"duplicates in the sandbox: {len(await stack.sandbox_client.duplicates())}")
    finally:
        await stack.close(stack_info)
    print(
        "command:",
        " ".join(
            shlex.quote(a) for a in [".venv/bin/python", "-m", "bench.onboarding_latency", *sys.argv[1:]]
        ),
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--workers", type=int, default=40, help="simulated workers onboarding at once (1..500)"
    )
    args = parser.parse_args()
    if not 1 <= args.workers <= 500:
        parser.error("--workers must be between 1 and 500")
    asyncio.run(main(args.workers))
