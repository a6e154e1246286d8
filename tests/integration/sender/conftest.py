"""Fixtures shared by the sender's integration modules: a LINE sandbox process per module, and a client
that resets it around each test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from services.line_sandbox.client import SandboxClient
from tests.support.services import ServiceProcess

from .harness import ADMIN, sandbox_process


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    process = sandbox_process(tmp_path_factory.mktemp("sandbox-logs"))
    process.start()
    yield process
    process.stop()


@pytest.fixture
async def line(sandbox: ServiceProcess) -> AsyncIterator[SandboxClient]:
    async with SandboxClient(sandbox.url, ADMIN) as client:
        await client.reset()
        yield client
        await client.reset()
