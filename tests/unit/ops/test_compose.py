"""docker-compose.yml: valid for Docker Compose itself, and it would really start this system.

``docker compose config`` needs no Docker engine: it parses, interpolates and validates the file against
the Compose specification. ./dev setup installs the Compose CLI plugin (built from the Go module proxy).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from services.common.topics import ALL as TOPICS

from .deploy_files import COMPOSE, SERVICE_MODULES, compose, python_module, settings_class

PROFILES = ("--profile", "dev", "--profile", "monitoring")
PORTS = {"ingest": 8001, "router": 8002, "translate": 8003, "sender": 8004, "line_sandbox": 8090}


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    result = compose(*PROFILES, "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    loaded: dict[str, Any] = json.loads(result.stdout)
    return loaded


def _ours(config: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Compose service name -> (our service, its definition) for the services our image runs."""
    found = {}
    for name, service in config["services"].items():
        module = python_module(service.get("command") or [])
        if module in SERVICE_MODULES:
            found[name] = (SERVICE_MODULES[module], service)
    return found


def test_docker_compose_config_accepts_the_file() -> None:
    for profiles in ((), PROFILES):
        result = compose(*profiles, "config", "-q")
        assert result.returncode == 0, f"docker compose {' '.join(profiles)} config -q: {result.stderr}"


def test_docker_compose_config_rejects_a_broken_file(tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(
        COMPOSE.read_text().replace("    stop_grace_period: 60s", "    stop_grace_perod: 60s", 1)
    )
    result = compose("config", "-q", file=broken)
    assert result.returncode != 0
    assert "stop_grace_perod" in result.stderr


def test_every_service_is_there_with_its_port(config: dict[str, Any]) -> None:
    ours = _ours(config)
    assert sorted(service for service, _ in ours.values()) == sorted(PORTS)
    for name, (service, definition) in ours.items():
        published = {int(p["target"]) for p in definition.get("ports", [])}
        assert published == {PORTS[service]}, f"{name}: ports {published}"
        assert all(p.get("host_ip") == "127.0.0.1" for p in definition["ports"]), f"{name}: loopback only"


def test_sandbox_and_apertium_only_in_the_dev_profile(config: dict[str, Any]) -> None:
    assert config["services"]["line-sandbox"]["profiles"] == ["dev"]
    assert config["services"]["apertium"]["profiles"] == ["dev"]
    plain = compose("config", "--services")
    assert plain.returncode == 0, plain.stderr
    default = set(plain.stdout.split())
    assert {"kafka", "postgres", "ingest", "router", "translate", "sender"} <= default
    assert not default & {"line-sandbox", "apertium", "prometheus", "grafana", "jaeger"}


def test_infrastructure_has_health_checks_and_kafka_runs_kraft(config: dict[str, Any]) -> None:
    kafka = config["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    assert kafka["healthcheck"]["test"]
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert kafka["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    pom = (COMPOSE.parent / "deploy" / "local" / "kafka" / "pom.xml").read_text()
    local = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom)
    assert local is not None and kafka["image"] == f"apache/kafka:{local.group(1)}", (
        "the version tested locally"
    )
    postgres = config["services"]["postgres"]
    assert postgres["image"].startswith("postgres:")
    assert postgres["healthcheck"]["test"]


def test_services_wait_for_healthy_dependencies_and_drain_on_stop(config: dict[str, Any]) -> None:
    for name, (service, definition) in _ours(config).items():
        assert definition["healthcheck"]["test"][-2:] == ["services.ops.healthcheck", service], name
        grace = float(definition["environment"].get("GUNMA_SHUTDOWN_GRACE_SECONDS", 20))
        assert _seconds(definition["stop_grace_period"]) > grace, f"{name}: Docker must not kill mid-drain"
        assert definition.get("read_only") is True, name
        if service == "line_sandbox":
            continue  # needs neither Kafka nor PostgreSQL
        depends = definition["depends_on"]
        assert depends["kafka"]["condition"] == "service_healthy", name
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert depends["migrate"]["condition"] == "service_completed_successfully", name


def _seconds(duration: str) -> float:
    match = re.fullmatch(r"(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?", duration)
    assert match, duration
    return int(match.group(1) or 0) * 60 + float(match.group(2) or 0)


def test_every_gunma_variable_is_a_real_setting_and_the_settings_load(config: dict[str, Any]) -> None:
    """A typo in a variable name would be silently ignored by the service: catch it here."""
    for name, (service, definition) in _ours(config).items():
        cls = settings_class(service)
        prefix = str(cls.model_config["env_prefix"])
        env = {k: str(v) for k, v in definition["environment"].items() if v is not None}
        for variable in env:
            if not variable.startswith("GUNMA_"):
                continue
            field = (
                variable.removeprefix(prefix) if variable.startswith(prefix) else variable[len("GUNMA_") :]
            )
            assert field.lower() in cls.model_fields, f"{name}: {variable} is no setting of {cls.__name__}"
        # Every required setting is given, and each value passes the service's own validation.
        with pytest.MonkeyPatch.context() as patch:
            for variable in [v for v in __import__("os").environ if v.startswith("GUNMA_")]:
                patch.delenv(variable)
            for variable, value in env.items():
                patch.setenv(variable, value)
            settings = cls()
        assert settings.http_port == PORTS[service]


def test_secrets_are_never_literals(config: dict[str, Any]) -> None:
    """Secret values are ${VARIABLES}; a default is allowed only when it says it is for development."""
    raw = COMPOSE.read_text()
    secretish = re.compile(
        r"^\s*([A-Z_]*(?:PASSWORD|SECRET|TOKEN|PEPPER|DATABASE_URL)[A-Z_]*):\s*(.+)$", re.M
    )
    found = secretish.findall(raw)
    assert len(found) >= 6
    for variable, value in found:
        interpolations = re.findall(r"\$\{([A-Z_]+)(?::?-([^}]*))?\}", value)
        assert interpolations, f"{variable}: {value} is a literal; use ${{VARIABLE}}"
        for _name, default in interpolations:
            assert not default or default.startswith("dev-only"), f"{variable}: default {default!r}"


def test_topics_are_created_by_the_services_not_by_the_broker(config: dict[str, Any]) -> None:
    # Auto-created topics would get one partition: the partition counts in topics.py would be lost.
    assert config["services"]["kafka"]["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert max(spec.partitions for spec in TOPICS) > 1
