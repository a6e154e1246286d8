"""Every command the image, compose and Kubernetes run names a module that exists and can run."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from typing import Any

import pytest

from .deploy_files import (
    COMPOSE,
    DOCKERFILES,
    dockerfile_instructions,
    exec_form,
    k8s_documents,
    python_module,
    runnable_module,
    yaml_documents,
)


def _dockerfile_commands() -> Iterator[tuple[str, list[str]]]:
    for path in DOCKERFILES:
        for keyword, arguments in dockerfile_instructions(path):
            if keyword in ("CMD", "ENTRYPOINT"):
                command = exec_form(arguments)
                assert command is not None, f"{path}: {keyword} {arguments}: use the exec form (JSON)"
                yield f"{path.name} {keyword}", command
            if keyword == "HEALTHCHECK" and arguments.strip() != "NONE":
                command = exec_form(re.split(r"\bCMD\s+", arguments, maxsplit=1)[-1])
                assert command is not None, f"{path}: HEALTHCHECK: use the exec form"
                yield f"{path.name} HEALTHCHECK", command


def _compose_commands() -> Iterator[tuple[str, list[str]]]:
    (config,) = yaml_documents(COMPOSE)
    for name, service in config["services"].items():
        command = service.get("command")
        if command is not None:
            assert isinstance(command, list), f"compose {name}: command must be a list (exec form)"
            yield f"compose {name}", [str(c) for c in command]
        test = (service.get("healthcheck") or {}).get("test")
        if isinstance(test, list) and test and test[0] == "CMD":
            yield f"compose {name} healthcheck", [str(c) for c in test[1:]]


def _containers(spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from spec.get("initContainers", [])
    yield from spec.get("containers", [])


def _k8s_commands() -> Iterator[tuple[str, list[str]]]:
    for path, doc in k8s_documents():
        if doc["kind"] not in ("Deployment", "Job"):
            continue
        for container in _containers(doc["spec"]["template"]["spec"]):
            where = f"{path.name} {doc['kind']}/{doc['metadata']['name']}/{container['name']}"
            assert "command" in container, f"{where}: name the module it runs (command)"
            yield where, [*container["command"], *container.get("args", [])]
            for hook in (container.get("lifecycle") or {}).values():
                if "exec" in hook:
                    yield f"{where} lifecycle", hook["exec"]["command"]
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                if "exec" in container.get(probe, {}):
                    yield f"{where} {probe}", container[probe]["exec"]["command"]


ALL = [*_dockerfile_commands(), *_compose_commands(), *_k8s_commands()]


def test_every_deployment_file_was_read() -> None:
    sources = {where.split()[0] for where, _ in ALL}
    assert "Dockerfile" in sources
    assert "compose" in sources
    assert any(s.endswith(".yaml") for s in sources)
    assert len([1 for _, command in ALL if python_module(command)]) >= 15


@pytest.mark.parametrize(("where", "command"), ALL, ids=[where for where, _ in ALL])
def test_command_names_a_runnable_module(where: str, command: list[str]) -> None:
    module = python_module(command)
    if module is None:
        return  # not our code (pg_isready, apertium-apy, /bin/sleep, ...)
    assert module.startswith("services."), f"{where}: {shlex.join(command)} runs code outside services/"
    assert runnable_module(module), f"{where}: {shlex.join(command)}: {module} cannot run with python -m"


def test_each_service_is_started_somewhere() -> None:
    modules = {python_module(command) for _, command in ALL}
    for service in ("ingest", "router", "translate", "sender", "line_sandbox"):
        assert f"services.{service}" in modules, f"no deployment runs services.{service}"


def test_runnable_module_is_not_fooled() -> None:
    assert runnable_module("services.router")
    assert runnable_module("services.ops")
    assert runnable_module("services.ops.healthcheck")
    assert not runnable_module("services.nonexistent")
    assert not runnable_module("services.common")  # a package without __main__
    assert not runnable_module("services.common.topics")  # a module without a main guard
