"""Reading the deployment files the way Docker and Kubernetes do, for the tests next to this module."""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from services.common.settings import ServiceSettings
from tests.support.stack import REPO

K8S = REPO / "deploy" / "k8s"
COMPOSE = REPO / "docker-compose.yml"
DOCKERFILES = sorted(
    p for p in REPO.glob("**/Dockerfile") if ".venv" not in p.parts and ".local" not in p.parts
)
#: The service each module runs, and its settings class.
SERVICE_MODULES = {
    "services.ingest": "ingest",
    "services.router": "router",
    "services.translate": "translate",
    "services.sender": "sender",
    "services.line_sandbox": "line_sandbox",
}


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    current = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        keyword, _, rest = current.strip().partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
        current = ""
    return instructions


def exec_form(arguments: str) -> list[str] | None:
    """The JSON array of an exec-form instruction, or None for the shell form."""
    try:
        value = json.loads(arguments)
    except json.JSONDecodeError:
        return None
    return [str(v) for v in value] if isinstance(value, list) else None


def python_module(command: list[str]) -> str | None:
    """The module of ``python -m <module> ...``, None when the command runs something else."""
    if not command or Path(command[0]).name not in ("python", "python3", "python3.11"):
        return None
    if len(command) > 1 and command[1] == "-c":
        return None  # inline code of another image (the Apertium health check), not a module of ours
    if len(command) < 3 or command[1] != "-m":
        raise AssertionError(f"{shlex.join(command)}: run our code as python -m <module>")
    return command[2]


def runnable_module(module: str) -> bool:
    """True when ``python -m module`` would run: the module exists and, for a package, has __main__."""
    spec = importlib.util.find_spec(module)
    if spec is None:
        return False
    if spec.submodule_search_locations is not None:
        return importlib.util.find_spec(f"{module}.__main__") is not None
    source = Path(str(spec.origin)).read_text()
    return bool(re.search(r"""if __name__ == ["']__main__["']""", source))


def yaml_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def k8s_documents() -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml_documents(path):
            yield path, doc


def pod_specs() -> Iterator[tuple[str, dict[str, Any]]]:
    for _path, doc in k8s_documents():
        if doc["kind"] in ("Deployment", "Job"):
            yield doc["metadata"]["name"], doc["spec"]["template"]["spec"]


def compose_binary() -> list[str]:
    """``docker compose`` (the CLI plugin ./dev setup installs), or the plugin binary on its own."""
    plugin = Path.home() / ".docker" / "cli-plugins" / "docker-compose"
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    if plugin.exists():
        return [str(plugin)]
    raise AssertionError("Docker Compose is missing: ./dev setup builds and installs it")


def compose(
    *args: str, file: Path = COMPOSE, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    import os

    # A clean environment: the file must stand on its own defaults (no .env, no shell exports).
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME")}
    return subprocess.run(
        [*compose_binary(), "--project-directory", str(file.parent), "-f", str(file), *args],
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        timeout=60,
    )


def settings_class(service: str) -> type[ServiceSettings]:
    module = importlib.import_module(f"services.{service}.settings")
    for value in vars(module).values():
        if isinstance(value, type) and issubclass(value, ServiceSettings) and value is not ServiceSettings:
            return value
    raise LookupError(service)
