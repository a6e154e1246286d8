"""Fault-test fixtures: a Kafka broker of the test's own, which the test may restart.

The shared broker (127.0.0.1:39092) serves other tests and other engineers at the same time, so it is
never restarted: a test that restarts a broker starts its own with the project's script
(``KAFKA_PORT=<free> GUNMA_STATE_DIR=<tmp> deploy/local/kafka/kafka.sh up``), in CI too, and stops it
and removes its data at the end.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.stack import REPO, free_port

KAFKA_SH = REPO / "deploy/local/kafka/kafka.sh"


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _free_pair() -> int:
    """A port whose successor is free too (the broker's controller listens on port + 1)."""
    for _ in range(50):
        port = free_port()
        if port < 65535 and _free(port + 1):
            return port
    raise RuntimeError("no two adjacent free ports")


@dataclass
class PrivateKafka:
    port: int
    state_dir: Path
    restarts: int = 0

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _run(self, command: str, timeout: float = 180) -> None:
        env = {
            **os.environ,
            "KAFKA_PORT": str(self.port),
            "GUNMA_STATE_DIR": str(self.state_dir),
            "KAFKA_HEAP": "-Xms128m -Xmx512m",
        }
        subprocess.run([str(KAFKA_SH), command], check=True, env=env, timeout=timeout, capture_output=True)

    def up(self) -> None:
        self._run("up")

    def down(self) -> None:
        self._run("down")

    def restart(self) -> float:
        """``kafka.sh down`` then ``up`` (data kept); returns the seconds the broker was away."""
        started = time.monotonic()
        self.down()
        self.up()
        self.restarts += 1
        return time.monotonic() - started


@pytest.fixture
def private_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateKafka]:
    state = tmp_path_factory.mktemp("kafka-private")
    broker = PrivateKafka(_free_pair(), state)
    broker.up()
    try:
        yield broker
    finally:
        try:
            broker.down()
        finally:
            shutil.rmtree(state, ignore_errors=True)
