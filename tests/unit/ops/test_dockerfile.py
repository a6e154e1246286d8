"""The image: built from uv.lock with uv, slim, multi-stage, non-root, signals reach Python, no secrets."""

from __future__ import annotations

import re

from tests.support.stack import REPO

from .deploy_files import dockerfile_instructions, exec_form

DOCKERFILE = REPO / "Dockerfile"
INSTRUCTIONS = dockerfile_instructions(DOCKERFILE)


def _final_stage() -> list[tuple[str, str]]:
    starts = [i for i, (keyword, _) in enumerate(INSTRUCTIONS) if keyword == "FROM"]
    return INSTRUCTIONS[starts[-1] :]


def test_multi_stage_on_python_311_slim() -> None:
    args = dict(a.split("=", 1) for k, a in INSTRUCTIONS if k == "ARG" and "=" in a)
    bases = [a.split()[0] for k, a in INSTRUCTIONS if k == "FROM"]
    assert len(bases) >= 2, "build and runtime stages"
    resolved = {re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), b) for b in bases}
    assert resolved == {"python:3.11-slim-bookworm"}, resolved


def test_dependencies_come_from_the_lock_with_uv_and_without_dev_tools() -> None:
    runs = " ".join(a for k, a in INSTRUCTIONS if k == "RUN")
    assert "uv sync --frozen --no-dev" in runs
    assert "pip install" in runs and "uv==" in runs
    dev = (REPO / "dev").read_text()
    uv_version = re.search(r'^UV_VERSION="([^"]+)"', dev, re.M)
    assert uv_version is not None
    assert f"ARG UV_VERSION={uv_version.group(1)}" in DOCKERFILE.read_text(), "the same uv as ./dev"
    copies = [a for k, a in INSTRUCTIONS if k == "COPY" and "--from" not in a]
    assert any("uv.lock" in c for c in copies)


def test_runtime_runs_as_an_unprivileged_numeric_user() -> None:
    users = [a for k, a in _final_stage() if k == "USER"]
    assert users, "the runtime stage sets USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) >= 1000, "numeric and not root, so runAsNonRoot can verify it"


def test_the_process_gets_sigterm_itself() -> None:
    stage = _final_stage()
    entrypoints = [a for k, a in stage if k == "ENTRYPOINT"]
    for arguments in entrypoints:
        command = exec_form(arguments)
        assert command is not None and command[0] not in ("sh", "/bin/sh", "bash"), "no shell wrapper"
    (cmd,) = [a for k, a in stage if k == "CMD"]
    command = exec_form(cmd)
    assert command is not None, "CMD in exec form: Python is PID 1 and receives SIGTERM"
    assert command[:2] == ["python", "-m"]


def test_health_check_asks_healthz() -> None:
    (check,) = [a for k, a in _final_stage() if k == "HEALTHCHECK"]
    assert "services.ops.healthcheck" in check
    assert "/healthz" in (REPO / "services" / "ops" / "healthcheck.py").read_text()


def test_no_secrets_baked_in() -> None:
    secretish = re.compile(r"(PASSWORD|SECRET|TOKEN|PEPPER|DATABASE_URL|API_KEY)", re.I)
    for keyword, arguments in INSTRUCTIONS:
        if keyword in ("ENV", "ARG"):
            assert not secretish.search(arguments), f"{keyword} {arguments}: secrets come at run time"
    ignored = (REPO / ".dockerignore").read_text().splitlines()
    assert "*" in ignored, "the build context is an allow-list: .env, .local, .git never reach the daemon"


def test_copied_sources_exist() -> None:
    for keyword, arguments in INSTRUCTIONS:
        if keyword != "COPY" or "--from" in arguments:
            continue
        *sources, _destination = [a for a in arguments.split() if not a.startswith("--")]
        for source in sources:
            assert (REPO / source).exists(), f"COPY {source}: not in the repository"
