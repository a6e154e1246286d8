"""End-to-end fixtures: the whole system as real processes (tests/support/line_stack.py).

``line_stack`` starts the LINE sandbox, ingest, router, sender and translate once per session, on a
database and a topic prefix of their own, and stops them at the end (their logs are in the pytest
temporary folder, ``line-stack-logs``). Use it from any e2e test or demo:

    async def test_something(line_stack: LineStack) -> None:
        code = await line_stack.issue_code(name="Ota Foods", municipality_code="10205")
        phone = await line_stack.phone(language="vi")
        greeting = await phone.follow()
        await phone.tap("cmd=set_language&lang=vi")
        accepted = await phone.say(code["code"])
        rows = await line_stack.query("SELECT * FROM subscribers WHERE line_user_id = $1", phone.user_id)
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.line_stack import LineStack
from tests.support.stack import Stack


@pytest.fixture(scope="session")
async def line_stack(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LineStack]:
    running = await LineStack.start(stack, log_dir=tmp_path_factory.mktemp("line-stack-logs"))
    try:
        yield running
    finally:
        await running.close(stack)
