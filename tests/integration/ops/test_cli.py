"""The ops CLI against the real PostgreSQL and Kafka: keys, dead-letter replay, topics, migrations."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from typing import Any

import orjson
import pytest

from services.common import auth, db
from services.common.kafka import (
    Consumed,
    DeadLetters,
    PermanentError,
    create_broker,
    durable_subscriber,
)
from services.common.settings import ServiceSettings
from services.ops.cli import main
from tests.support.kafka import create_topics, produce, read_all
from tests.support.stack import REPO, Stack


class Run:
    """One ``gunma`` invocation: exit code, stdout, stderr."""

    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def __repr__(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


@pytest.fixture
def gunma(
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    kafka_bootstrap: str,
    database_url: str,
) -> Any:
    monkeypatch.setenv("GUNMA_DATABASE_URL", database_url)
    monkeypatch.setenv("GUNMA_KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("COLUMNS", "200")  # Rich tables wide enough to read in assertions

    async def invoke(*args: str) -> Run:
        capfd.readouterr()

        def call() -> int:
            try:
                main(list(args))
            except SystemExit as exit_:
                return int(exit_.code or 0)
            return 0

        code = await asyncio.to_thread(call)  # the CLI runs its own event loop
        captured = capfd.readouterr()
        return Run(code, captured.out, captured.err)

    return invoke


async def test_keys_create_list_rotate_revoke(gunma: Any, pool: db.Pool) -> None:
    store = auth.KeyStore(pool, cache_seconds=0)
    created = await gunma("keys", "create", "--name", "MHLW feed", "--role", "feed")
    assert created.code == 0, created
    key = created.out.strip()
    assert key.startswith("gmk_") and "\n" not in key, "stdout is the key alone"
    principal = await store.authenticate(key)
    assert principal is not None and principal.role is auth.Role.FEED and principal.name == "MHLW feed"

    listed = await gunma("keys", "list", "--json")
    rows = [orjson.loads(line) for line in listed.out.splitlines()]
    mine = [r for r in rows if r["key_id"] == principal.key_id]
    assert mine and mine[0]["role"] == "feed"
    assert key.split("_", 2)[2] not in listed.out, "never the secret"

    rotated = await gunma("keys", "rotate", principal.key_id)
    assert rotated.code == 0, rotated
    new_key = rotated.out.strip()
    assert await store.authenticate(key) is None, "the old key is revoked"
    successor = await store.authenticate(new_key)
    assert successor is not None and (successor.name, successor.role) == ("MHLW feed", auth.Role.FEED)

    kept = await gunma("keys", "rotate", new_key, "--keep-old")  # a whole key works as the argument
    assert kept.code == 0, kept
    assert await store.authenticate(new_key) is not None
    assert await store.authenticate(kept.out.strip()) is not None

    revoked = await gunma("keys", "revoke", successor.key_id)
    assert revoked.code == 0, revoked
    assert await store.authenticate(new_key) is None
    again = await gunma("keys", "revoke", successor.key_id)
    assert again.code == 1 and "no active key" in again.err and "Traceback" not in again.err


async def test_staff_keys_take_municipalities_and_bad_input_is_named(gunma: Any, pool: db.Pool) -> None:
    staff = await gunma("keys", "create", "-n", "Maebashi staff", "-r", "staff", "--city", "10201")
    assert staff.code == 0, staff
    principal = await auth.KeyStore(pool).authenticate(staff.out.strip())
    assert principal is not None and principal.cities == ("102016",)  # the check digit is added

    for args, says in (
        (("-n", "x", "-r", "feed", "--city", "10201"), "--city limits staff keys only"),
        (("-n", "x", "-r", "staff", "--city", "99999"), "--city: municipality code"),
        (("-n", " ", "-r", "ops"), "--name must not be empty"),
    ):
        result = await gunma("keys", "create", *args)
        assert result.code == 1, result
        assert says in result.err and "Traceback" not in result.err
    usage = await gunma("keys", "create", "-n", "x", "-r", "admin")
    assert usage.code == 2 and "admin" in usage.err


async def test_an_unreachable_database_is_one_clear_line_without_the_password(
    gunma: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GUNMA_DATABASE_URL", "postgresql://gunma:hunter2-secret@127.0.0.1:1/gunma")
    result = await gunma("keys", "list")
    assert result.code == 1, result
    assert "cannot connect to PostgreSQL at 127.0.0.1:1/gunma" in result.err
    assert "hunter2" not in result.err + result.out
    assert "Traceback" not in result.err


async def _dead_letter_three(kafka_bootstrap: str, source: str) -> None:
    """Six records through a real durable consumer; the three 'bad' ones are dead-lettered by it."""
    broker = create_broker(ServiceSettings(kafka_bootstrap_servers=kafka_bootstrap), client_id="dlq-test")
    group = f"ops-test-{source}"
    seen: list[int] = []

    async def handler(items: list[Consumed[dict[str, Any]]]) -> None:
        for item in items:
            seen.append(item.value["n"])
            if item.value["bad"]:
                raise PermanentError(f"no translation for language {item.value['lang']!r}")

    durable_subscriber(
        broker,
        topic=source,
        group_id=group,
        payload=dict[str, Any],
        handler=handler,
        dead_letters=DeadLetters(broker, consumer=group),
    )
    await broker.start()
    try:
        await produce(
            kafka_bootstrap,
            source,
            [(f"n-{n}".encode(), orjson.dumps({"n": n, "bad": n % 2 == 1, "lang": "xx"})) for n in range(6)],
        )
        dead = await read_all(kafka_bootstrap, f"{source}.dlq", expect=3)
        assert len(dead) == 3
    finally:
        await broker.stop()


async def test_dlq_show_replay_once_with_dry_run(gunma: Any, kafka_bootstrap: str, run_id: str) -> None:
    source = f"{run_id}.opsdlq-{uuid.uuid4().hex[:6]}"
    await create_topics(kafka_bootstrap, {source: 2})
    await _dead_letter_three(kafka_bootstrap, source)
    dlq_topic = f"{source}.dlq"

    # This run's topics only: a developer's broker may hold thousands of other runs' DLQ topics.
    listed = await gunma("--topic-prefix", f"{run_id}.", "dlq", "list")
    assert listed.code == 0, listed
    assert dlq_topic in listed.out

    shown = await gunma("dlq", "show", source)  # '.dlq' is added
    assert shown.code == 0, shown
    assert "no translation for language 'xx'" in shown.out
    assert "permanent" in shown.out and "3" in shown.out

    dry = await gunma("dlq", "replay", dlq_topic, "--dry-run")
    assert dry.code == 0, dry
    assert "would replay 3" in dry.err
    assert len(await read_all(kafka_bootstrap, source, expect=7, timeout=3)) == 6, (
        "a dry run publishes nothing"
    )

    replayed = await gunma("dlq", "replay", dlq_topic, "--by", "test-operator")
    assert replayed.code == 0, replayed
    assert f"replayed 3 (3 to {source})" in replayed.err
    records = await read_all(kafka_bootstrap, source, expect=9)
    assert len(records) == 9
    back = [r for r in records if any(k == "x-replayed-from" for k, _ in r.headers)]
    assert len(back) == 3
    for record in back:
        names = [k for k, _ in record.headers]
        assert not [n for n in names if n.startswith("x-dlq-")], names
        assert orjson.loads(record.value)["bad"] is True
        assert record.key is not None and record.key.startswith(b"n-")
        origin = dict(record.headers)["x-replayed-from"].decode()
        assert origin.startswith(f"{dlq_topic}/0/")

    second = await gunma("dlq", "replay", dlq_topic)
    assert second.code == 0, second
    assert "replayed 0" in second.err and "3 replayed before" in second.err
    assert len(await read_all(kafka_bootstrap, source, expect=10, timeout=3)) == 9, "no duplicate"


async def test_dlq_replay_selects_and_names_unknown_topics(
    gunma: Any, kafka_bootstrap: str, run_id: str
) -> None:
    source = f"{run_id}.opssel-{uuid.uuid4().hex[:6]}"
    await create_topics(kafka_bootstrap, {source: 1})
    await _dead_letter_three(kafka_bootstrap, source)
    none = await gunma("dlq", "replay", f"{source}.dlq", "--error-type", "invalid")
    assert none.code == 0, none
    assert "replayed 0" in none.err and "3 not selected" in none.err
    one = await gunma("dlq", "replay", f"{source}.dlq", "--from-offset", "1", "--to-offset", "1")
    assert "replayed 1" in one.err, one
    missing = await gunma("dlq", "show", f"{run_id}.no-such-topic")
    assert missing.code == 1 and "does not exist" in missing.err and "Traceback" not in missing.err


async def test_topics_ensure_then_describe(gunma: Any, run_id: str, kafka_bootstrap: str) -> None:
    prefix = f"{run_id}.ops{uuid.uuid4().hex[:6]}."
    described = await gunma("--topic-prefix", prefix, "topics", "describe", "--no-groups")
    assert described.code == 0, described
    assert "missing" in described.out
    first = await gunma("--topic-prefix", prefix, "topics", "ensure")
    assert first.code == 0, first
    assert "12 created" in first.err
    second = await gunma("--topic-prefix", prefix, "topics", "ensure")
    assert "0 created, 12 existed already" in second.err
    described = await gunma("--topic-prefix", prefix, "topics", "describe")
    assert described.code == 0, described
    assert f"{prefix}employment.v1" in described.out and "missing" not in described.out
    assert "consumer groups" in described.out


async def test_migrate_status_then_apply_on_an_empty_database(gunma: Any, stack: Stack, run_id: str) -> None:
    name = f"gunma_{run_id}_ops"
    admin = await db.connect(stack.admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    dsn = stack.dsn_for(name)
    try:
        pending = await gunma("--database-url", dsn, "migrate", "--status")
        assert pending.code == 1 and "pending" in pending.err, pending
        applied = await gunma("--database-url", dsn, "migrate")
        assert applied.code == 0, applied
        assert "applied ops/0001_dlq_replays" in applied.err
        current = await gunma("--database-url", dsn, "migrate", "--status")
        assert current.code == 0, current
        unknown = await gunma("--database-url", dsn, "migrate", "nosuch")
        assert unknown.code == 1 and "unknown component" in unknown.err
    finally:
        admin = await db.connect(stack.admin_dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def test_the_installed_command_and_python_m_agree() -> None:
    """``python -m services.ops`` is what the image's migration job runs; ``gunma`` is the script."""
    env = {**os.environ, "COLUMNS": "120"}
    for command in (
        [sys.executable, "-m", "services.ops", "--help"],
        [str(REPO / ".venv/bin/gunma"), "--help"],
    ):
        result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO, timeout=60)
        assert result.returncode == 0, result.stderr
        assert "keys" in result.stdout and "dlq" in result.stdout and "migrate" in result.stdout
