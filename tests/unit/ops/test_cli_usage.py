"""The CLI's help and its answers to wrong input, without a database or Kafka."""

from __future__ import annotations

import pytest

from services.ops.cli import main

COMMANDS = [
    [],
    ["keys"],
    ["keys", "create"],
    ["keys", "list"],
    ["keys", "revoke"],
    ["keys", "rotate"],
    ["dlq"],
    ["dlq", "list"],
    ["dlq", "show"],
    ["dlq", "replay"],
    ["topics"],
    ["topics", "ensure"],
    ["topics", "describe"],
    ["migrate"],
    ["csv"],
    ["csv", "push"],
    ["notices"],
    ["notices", "create"],
    ["notices", "status"],
    ["notices", "cancel"],
    ["audience"],
    ["audience", "count"],
    ["stats"],
]


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(args)
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a) or "gunma")
def test_every_command_has_help(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run([*args, "--help"], capsys)
    assert code == 0
    assert "Usage: gunma" in out
    assert len(out.splitlines()) > 5


def test_usage_errors_name_the_problem(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["keys", "create", "--role", "feed"], capsys)
    assert code == 2 and "--name" in err
    code, _, err = _run(["dlq", "frobnicate"], capsys)
    assert code == 2 and "frobnicate" in err
    code, _, err = _run(["dlq", "replay", "x.dlq", "--from-offset", "-1"], capsys)
    assert code == 2 and "--from-offset" in err


def test_a_bad_setting_is_one_line_naming_the_variable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GUNMA_KAFKA_TOPIC_PREFIX", "has spaces")
    code, _, err = _run(["topics", "describe"], capsys)
    assert code == 2
    assert "GUNMA_OPS_KAFKA_TOPIC_PREFIX (or GUNMA_KAFKA_TOPIC_PREFIX)" in err
    assert "Traceback" not in err


def test_a_bad_key_argument_is_refused_before_connecting(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(
        ["--database-url", "postgresql://u:p@127.0.0.1:1/x", "keys", "revoke", "not-a-key!"], capsys
    )
    assert code == 1
    assert "neither a key id" in err and "Traceback" not in err
