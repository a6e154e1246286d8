"""Run every service locally, each in its own process, until Ctrl-C; then stop them all cleanly.

Kafka and PostgreSQL are started by ``./dev up`` before this runs. Each service gets the local defaults
(loopback addresses, the development database) and its own port; logs go to ``.local/logs``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Service:
    name: str
    port: int


SERVICES = (
    Service("line_sandbox", 8090),
    Service("ingest", 8001),
    Service("router", 8002),
    Service("translate", 8003),
    Service("sender", 8004),
)


def local_environment() -> dict[str, str]:
    kafka_port = os.environ.get("KAFKA_PORT", "39092")
    pg_port = os.environ.get("PG_PORT", "55432")
    env = {
        "GUNMA_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{kafka_port}",
        "GUNMA_DATABASE_URL": f"postgresql://gunma:gunma-local@127.0.0.1:{pg_port}/gunma",
    }
    env.update(_line_sandbox_environment())
    env.update(_ingest_environment())
    # translate: Spanish and Brazilian Portuguese through the local Apertium APY
    # (deploy/local/apertium/apy.sh up); the other languages fall back until an engine is configured.
    env["GUNMA_TRANSLATE_APERTIUM_URL"] = f"http://127.0.0.1:{os.environ.get('APY_PORT', '2737')}"
    env["GUNMA_TRANSLATE_BACKENDS"] = '{"es": "apertium", "pt-BR": "apertium"}'
    return env


#: DEVELOPMENT ONLY: credentials of the local LINE sandbox channel. They are public (in this file) and
#: must never be used for a real LINE channel; production takes its token and secret from its own secrets.
DEV_LINE_CHANNEL_TOKEN = "dev-only-sandbox-channel-token"  # noqa: S105 - development-only, public
DEV_LINE_CHANNEL_SECRET = "dev-only-sandbox-channel-secret"  # noqa: S105 - development-only, public
DEV_SANDBOX_ADMIN_TOKEN = "dev-only-sandbox-admin-token"  # noqa: S105 - development-only, public


#: DEVELOPMENT ONLY: the local stack's worker-id pepper (public, in this file): never for real data.
DEV_WORKER_ID_PEPPER = "dev-only-worker-id-pepper-never-for-real-data"


def _ingest_environment() -> dict[str, str]:
    """ingest checks the sandbox's webhook signatures with the sandbox channel's secret."""
    return {
        "GUNMA_INGEST_LINE_CHANNEL_SECRET": DEV_LINE_CHANNEL_SECRET,
        "GUNMA_INGEST_WORKER_ID_PEPPER": DEV_WORKER_ID_PEPPER,
    }


def _line_sandbox_environment() -> dict[str, str]:
    """The sender talks to the local LINE sandbox, which signs webhooks to ingest (all loopback)."""
    specs = REPO.parent / "shared" / "line-openapi"
    env = {
        "GUNMA_SANDBOX_CHANNEL_ACCESS_TOKENS": DEV_LINE_CHANNEL_TOKEN,
        "GUNMA_SANDBOX_CHANNEL_SECRET": DEV_LINE_CHANNEL_SECRET,
        "GUNMA_SANDBOX_ADMIN_TOKEN": DEV_SANDBOX_ADMIN_TOKEN,
        "GUNMA_SANDBOX_WEBHOOK_URL": "http://127.0.0.1:8001/line/webhook",
        "GUNMA_SANDBOX_STATE_FILE": str(
            Path(os.environ.get("GUNMA_STATE_DIR", REPO / ".local")) / "line-sandbox.journal"
        ),
        "GUNMA_SENDER_LINE_API_BASE_URL": "http://127.0.0.1:8090",
        # the router reads LINE profiles (the language a follower's phone uses) from the sandbox too
        "GUNMA_ROUTER_LINE_API_BASE_URL": "http://127.0.0.1:8090",
        "GUNMA_ROUTER_LINE_CHANNEL_ACCESS_TOKEN": DEV_LINE_CHANNEL_TOKEN,
        "GUNMA_ROUTER_LINE_BASIC_ID": "@gunma-dev",
        "GUNMA_SENDER_LINE_CHANNEL_ACCESS_TOKEN": DEV_LINE_CHANNEL_TOKEN,
    }
    if (specs / "messaging-api.yml").is_file():
        env["GUNMA_SANDBOX_OPENAPI_SPEC"] = str(specs / "messaging-api.yml")
    if (specs / "webhook.yml").is_file():
        env["GUNMA_SANDBOX_WEBHOOK_OPENAPI_SPEC"] = str(specs / "webhook.yml")
    return env


def _wait_ready(service: Service, process: subprocess.Popen[bytes], log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
            raise SystemExit(f"{service.name} exited with {process.returncode}; last log lines:\n{tail}")
        try:
            if httpx.get(f"http://127.0.0.1:{service.port}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{service.name} was not ready within {timeout:.0f} s (log: {log})")


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt  # SIGTERM stops the services like Ctrl-C does


DEMO_DATABASE = "gunma_demo"
DEMO_TOPIC_PREFIX = "demo."


async def _fresh_demo_state(env: dict[str, str], state_dir: Path) -> str:
    """A clean slate for the demo: its own database, topics and sandbox journal; returns the DSN."""
    from aiokafka.admin import AIOKafkaAdminClient

    from services.common import db

    project_dsn = env["GUNMA_DATABASE_URL"]
    admin = await db.connect(project_dsn, application_name="gunma-demo")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{DEMO_DATABASE}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{DEMO_DATABASE}"')
    finally:
        await admin.close()
    kafka = AIOKafkaAdminClient(bootstrap_servers=env["GUNMA_KAFKA_BOOTSTRAP_SERVERS"])
    await kafka.start()
    try:
        old = [t for t in await kafka.list_topics() if t.startswith(DEMO_TOPIC_PREFIX)]
        if old:
            await kafka.delete_topics(old)
            await asyncio.sleep(1.0)  # deletion is asynchronous in the broker
    finally:
        await kafka.close()
    (state_dir / "line-sandbox.journal").unlink(missing_ok=True)
    return project_dsn.rsplit("/", 1)[0] + "/" + DEMO_DATABASE


def _demo_environment(dsn: str, state_dir: Path) -> dict[str, str]:
    return {
        "GUNMA_DATABASE_URL": dsn,
        "GUNMA_KAFKA_TOPIC_PREFIX": DEMO_TOPIC_PREFIX,
        "GUNMA_SANDBOX_STATE_FILE": str(state_dir / "line-sandbox.journal"),
        # The demo shows deliveries whatever the hour: no quiet hours (equal start and end).
        "GUNMA_ROUTER_QUIET_HOURS_START": "00:00",
        "GUNMA_ROUTER_QUIET_HOURS_END": "00:00",
        "GUNMA_ROUTER_SCHEDULER_POLL_SECONDS": "1",
    }


def _play_demo(env: dict[str, str], state_dir: Path, followers: int, workers: int) -> None:
    from rich.console import Console

    from services.demo.scenario import Demo, DemoPlan, Endpoints

    endpoints = Endpoints(
        ingest="http://127.0.0.1:8001",
        router="http://127.0.0.1:8002",
        translate="http://127.0.0.1:8003",
        sandbox="http://127.0.0.1:8090",
        sandbox_admin_token=env["GUNMA_SANDBOX_ADMIN_TOKEN"],
        database_url=env["GUNMA_DATABASE_URL"],
    )
    console = Console()
    console.rule("Gunma Model demo")
    result = asyncio.run(
        Demo(endpoints, DemoPlan(workers=workers, followers=followers), state_dir, console).run()
    )
    console.rule()
    console.print("Demo API keys (valid until the next ./dev up):")
    for role, key in result.keys.items():
        console.print(f"  {role:<6} {key}")
    console.print(
        "Try: GUNMA_OPS_ROUTER_URL=http://127.0.0.1:8002 GUNMA_OPS_API_KEY=<staff key> "
        ".venv/bin/gunma stats    (or audience count, notices status)"
    )


def main(argv: list[str] | None = None) -> int:
    state_root = Path(os.environ.get("GUNMA_STATE_DIR", REPO / ".local"))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--log-dir", type=Path, default=state_root / "logs")
    parser.add_argument(
        "--no-demo",
        action="store_true",
        help="run the services on the project database without the demo (which starts from a clean slate)",
    )
    parser.add_argument("--demo-workers", type=int, default=10_000, help="workers in the demo feed")
    parser.add_argument("--demo-followers", type=int, default=300, help="demo workers who follow in LINE")
    args = parser.parse_args(argv)
    args.log_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **local_environment(), "PYTHONUNBUFFERED": "1"}
    demo_dir = state_root / "demo"
    if not args.no_demo:
        demo_dir.mkdir(parents=True, exist_ok=True)
        env.update(_demo_environment(asyncio.run(_fresh_demo_state(env, demo_dir)), demo_dir))
    running: list[tuple[Service, subprocess.Popen[bytes]]] = []

    def stop_all(*_: object) -> None:
        for _service, process in reversed(running):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for service, process in reversed(running):
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                print(f"{service.name} did not stop in 40 s; killing it", file=sys.stderr)
                process.kill()

    signal.signal(signal.SIGTERM, _interrupt)
    try:
        for service in SERVICES:
            log = args.log_dir / f"{service.name}.log"
            process = subprocess.Popen(  # noqa: S603 - our own interpreter and module names
                [sys.executable, "-m", f"services.{service.name}"],
                cwd=REPO,
                env={
                    **env,
                    f"GUNMA_{service.name.upper().replace('LINE_', '')}_HTTP_PORT": str(service.port),
                },
                stdout=log.open("ab"),
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches us only; we stop the services in order
            )
            running.append((service, process))
            _wait_ready(service, process, log)
            print(f"  {service.name:<13} http://127.0.0.1:{service.port}   log: {log}")
        if not args.no_demo:
            _play_demo(env, demo_dir, args.demo_followers, args.demo_workers)
        print("All services are up. Press Ctrl-C to stop them.")
        while all(process.poll() is None for _, process in running):
            time.sleep(0.5)
        for service, process in running:
            if process.poll() is not None:
                print(
                    f"{service.name} exited with {process.returncode}; stopping the others", file=sys.stderr
                )
        return 1
    except KeyboardInterrupt:
        print("\nstopping...")
        return 0
    finally:
        stop_all()


if __name__ == "__main__":
    raise SystemExit(main())
