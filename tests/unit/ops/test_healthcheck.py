"""The container health check finds its service and port the way the service itself does."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.ops import healthcheck


def test_service_from_pid1_command_line(tmp_path: Path) -> None:
    cmdline = tmp_path / "cmdline"
    cmdline.write_bytes(b"python\0-m\0services.translate\0")
    assert healthcheck.service_of_pid1(cmdline) == "translate"
    cmdline.write_bytes(b"python\0-m\0services.ops\0migrate\0")
    assert healthcheck.service_of_pid1(cmdline) is None
    assert healthcheck.service_of_pid1(tmp_path / "missing") is None


def test_port_follows_the_service_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("GUNMA_SENDER_HTTP_PORT", "GUNMA_HTTP_PORT"):
        monkeypatch.delenv(variable, raising=False)
    assert healthcheck.port_of("sender") == 8004
    assert healthcheck.port_of("line_sandbox") == 8090
    monkeypatch.setenv("GUNMA_HTTP_PORT", "9000")
    assert healthcheck.port_of("sender") == 9000
    monkeypatch.setenv("GUNMA_SENDER_HTTP_PORT", "9004")
    assert healthcheck.port_of("sender") == 9004


def test_unhealthy_when_nothing_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support.stack import free_port

    monkeypatch.setenv("GUNMA_ROUTER_HTTP_PORT", str(free_port()))
    assert healthcheck.main(["router"]) == 1
    assert healthcheck.main(["nosuch"]) == 2
