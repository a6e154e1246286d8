"""A real Apertium APY server for tests, on loopback.

``GUNMA_TEST_APERTIUM_URL`` points the tests at an APY that is already running; else the local one
(``deploy/local/apertium/apy.sh up``, port ``APY_PORT`` or 2737) is used when it answers, and left
running; otherwise apy.sh starts one on a free port and stops it afterwards.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.stack import REPO, free_port

APY_SH = REPO / "deploy/local/apertium/apy.sh"


def answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/listPairs", timeout=2, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


@contextlib.contextmanager
def apertium_server(state_dir: Path) -> Iterator[str]:
    """The base URL of an APY that answers, for as long as the block runs."""
    given = os.environ.get("GUNMA_TEST_APERTIUM_URL")
    if given:
        if not answers(given):
            pytest.fail(f"GUNMA_TEST_APERTIUM_URL={given} does not answer /listPairs")
        yield given.rstrip("/")
        return
    local = f"http://127.0.0.1:{os.environ.get('APY_PORT', '2737')}"
    if answers(local):
        yield local
        return
    env = {
        **os.environ,
        "APY_PORT": str(free_port()),
        "APY_HOST": "127.0.0.1",
        "GUNMA_STATE_DIR": str(state_dir),
    }
    subprocess.run([str(APY_SH), "up"], check=True, env=env, timeout=120)
    url = subprocess.run(
        [str(APY_SH), "url"], check=True, env=env, capture_output=True, text=True
    ).stdout.strip()
    try:
        yield url
    finally:
        subprocess.run([str(APY_SH), "down"], check=False, env=env, timeout=60)
