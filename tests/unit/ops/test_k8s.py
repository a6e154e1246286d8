"""deploy/k8s: valid against the Kubernetes JSON schemas, and what it promises holds together.

The schemas come from the ``kubernetes-validate`` package (strict: unknown fields are errors, as with
``kubectl apply --validate=strict``). KEDA's ScaledObject is a custom resource: it is checked against
``cloudcoil-models-keda``, models generated from KEDA's CRD, with a round trip that rejects unknown fields.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
from cloudcoil.models.keda.v1alpha1 import ScaledObject

from services.common import runtime, topics

from .deploy_files import K8S, k8s_documents, pod_specs, python_module, settings_class, yaml_documents

#: The oldest Kubernetes these manifests are for, and the newest the validator knows.
VERSIONS = ("1.30", kubernetes_validate.latest_version())
DOCS = list(k8s_documents())
NATIVE = [(p, d) for p, d in DOCS if d["kind"] not in ("ScaledObject", "Kustomization")]
KEDA = [d for _, d in DOCS if d["kind"] == "ScaledObject"]
#: Parameters of KEDA's Kafka scaler (keda.sh/docs, scalers/apache-kafka), with the *FromEnv forms.
KAFKA_SCALER_PARAMETERS = {
    "bootstrapServers",
    "bootstrapServersFromEnv",
    "consumerGroup",
    "consumerGroupFromEnv",
    "topic",
    "topicFromEnv",
    "lagThreshold",
    "activationLagThreshold",
    "offsetResetPolicy",
    "allowIdleConsumers",
    "scaleToZeroOnInvalidOffset",
    "excludePersistentLag",
    "limitToPartitionsWithLag",
    "partitionLimitation",
    "version",
    "sasl",
    "tls",
    "unsafeSsl",
}


def _ids(docs: list[tuple[Path, dict[str, Any]]]) -> list[str]:
    return [f"{p.name}:{d['kind']}/{d['metadata']['name']}" for p, d in docs]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("path", "doc"), NATIVE, ids=_ids(NATIVE))
def test_manifest_is_valid_for_kubernetes(path: Path, doc: dict[str, Any], version: str) -> None:
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as error:
        where = ".".join(str(p) for p in error.path)
        pytest.fail(f"{path.name} {doc['kind']}/{doc['metadata']['name']}: {where}: {error.message}")


def test_the_validator_rejects_what_kubectl_would() -> None:
    deployment = next(d for _, d in NATIVE if d["kind"] == "Deployment")
    typo = copy.deepcopy(deployment)
    typo["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = typo["spec"]["template"]["spec"][
        "containers"
    ][0].pop("readinessProbe")
    wrong_type = copy.deepcopy(deployment)
    wrong_type["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = "45s"
    for bad in (typo, wrong_type):
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(bad, VERSIONS[0], strict=True)


def _unknown_fields(given: Any, kept: Any, path: str = "") -> Iterator[str]:
    if isinstance(given, dict):
        for key, value in given.items():
            if not isinstance(kept, dict) or key not in kept:
                yield f"{path}.{key}"
            else:
                yield from _unknown_fields(value, kept[key], f"{path}.{key}")
    elif isinstance(given, list):
        for i, (a, b) in enumerate(zip(given, kept or [], strict=False)):
            yield from _unknown_fields(a, b, f"{path}[{i}]")
    elif given != kept:
        yield f"{path} ({given!r} is not a {type(kept).__name__})"


def keda_problems(doc: dict[str, Any]) -> list[str]:
    """Problems of a ScaledObject against KEDA's CRD models: type errors and unknown fields."""
    try:
        model = ScaledObject.model_validate(doc)
    except ValueError as error:
        return [str(error)]
    kept = model.model_dump(by_alias=True, exclude_unset=True, mode="json")
    return list(_unknown_fields(doc, kept))


@pytest.mark.parametrize("doc", KEDA, ids=[d["metadata"]["name"] for d in KEDA])
def test_scaled_object_matches_the_keda_crd(doc: dict[str, Any]) -> None:
    assert keda_problems(doc) == []


def test_the_keda_check_rejects_unknown_and_mistyped_fields() -> None:
    typo = copy.deepcopy(KEDA[0])
    typo["spec"]["maxReplicas"] = typo["spec"].pop("maxReplicaCount")
    assert any("maxReplicas" in p for p in keda_problems(typo))
    mistyped = copy.deepcopy(KEDA[0])
    mistyped["spec"]["pollingInterval"] = "15s"
    assert keda_problems(mistyped)


def _deployments() -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for _, d in DOCS if d["kind"] == "Deployment"}


def test_scaled_objects_follow_partitions_and_consumer_groups() -> None:
    deployments = _deployments()
    partitions = {spec.name: spec.partitions for spec in topics.ALL}
    scaled = {d["spec"]["scaleTargetRef"]["name"]: d for d in KEDA}
    assert set(scaled) == {"router", "translate", "sender"}
    for target, doc in scaled.items():
        assert target in deployments, f"ScaledObject {target}: no such Deployment"
        spec = doc["spec"]
        for trigger in spec["triggers"]:
            assert trigger["type"] == "kafka"
            meta = trigger["metadata"]
            assert set(meta) <= KAFKA_SCALER_PARAMETERS, set(meta) - KAFKA_SCALER_PARAMETERS
            assert meta["topic"] in partitions, f"{target}: {meta['topic']} is not in topics.py"
            # A partition is read by one member of a group: replicas beyond partitions sit idle.
            assert spec["maxReplicaCount"] <= partitions[meta["topic"]], target
            assert meta["offsetResetPolicy"] == "earliest", "as the durable subscribers"
            env = _env(deployments[target])
            if "bootstrapServersFromEnv" in meta:
                assert meta["bootstrapServersFromEnv"] in env, f"{target}: KEDA reads it from the pod's env"
        assert spec["minReplicaCount"] >= 1, "schedulers and reminders run in these services too"
    # The groups the services' code really uses (KEDA watching another group would never scale).
    from services.router import handlers as router_handlers

    expected = {
        "router": {
            (router_handlers.EMPLOYMENT_GROUP, topics.EMPLOYMENT.name),
            (router_handlers.LINE_EVENTS_GROUP, topics.LINE_EVENTS.name),
        },
        "translate": {
            (
                settings_class("translate").model_fields["consumer_group"].default,
                topics.DELIVERIES_PLANNED.name,
            )
        },
        "sender": {
            (settings_class("sender").model_fields["consumer_group"].default, topics.DELIVERIES_READY.name)
        },
    }
    for target, pairs in expected.items():
        triggers = scaled[target]["spec"]["triggers"]
        assert {(t["metadata"]["consumerGroup"], t["metadata"]["topic"]) for t in triggers} == pairs, target


def test_sender_replicas_setting_matches_its_autoscaling_ceiling() -> None:
    """Each sender replica takes 1/GUNMA_SENDER_REPLICAS of the channel's rate limit."""
    sender = next(d for d in KEDA if d["metadata"]["name"] == "sender")
    env = _env(_deployments()["sender"])
    assert int(env["GUNMA_SENDER_REPLICAS"]) == sender["spec"]["maxReplicaCount"]
    assert "replicas" in settings_class("sender").model_fields


def _env(deployment: dict[str, Any]) -> dict[str, Any]:
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    config = _config_map()
    env: dict[str, Any] = {}
    for source in container.get("envFrom", []):
        assert source["configMapRef"]["name"] == "gunma-config"
        env.update(config)
    for item in container.get("env", []):
        env[item["name"]] = item.get("value", item.get("valueFrom"))
    return env


def _config_map() -> dict[str, str]:
    (config,) = [d for _, d in DOCS if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "gunma-config"]
    data: dict[str, str] = config["data"]
    return data


@pytest.mark.parametrize("name", sorted(_deployments()))
def test_deployment_is_hardened_probed_sized_and_drains(name: str) -> None:
    deployment = _deployments()[name]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 60, "start-up may wait 60 s for Kafka"
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][kind]), f"{name}: {kind}"
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] >= 1000
    assert any(m["mountPath"] == "/tmp" for m in container["volumeMounts"]), "a writable /tmp"
    grace = float(_config_map()["GUNMA_SHUTDOWN_GRACE_SECONDS"])
    pause = 0.0
    pre_stop = container.get("lifecycle", {}).get("preStop", {})
    if "exec" in pre_stop:
        pause = float(pre_stop["exec"]["command"][-1])
    # the drain, then the bounded last steps (producer flush, then closing the pool)
    stop = grace + 2 * runtime.STOP_MARGIN_SECONDS
    assert pod["terminationGracePeriodSeconds"] > stop + pause, f"{name}: killed before it drained"
    assert python_module(container["command"]) == f"services.{name}"
    port = container["ports"][0]
    env = _env(deployment)
    assert int(env[f"GUNMA_{name.upper()}_HTTP_PORT"]) == port["containerPort"]


def test_services_and_disruption_budgets_select_their_pods() -> None:
    deployments = _deployments()
    for kind in ("Service", "PodDisruptionBudget"):
        for _, doc in DOCS:
            if doc["kind"] != kind:
                continue
            name = doc["metadata"]["name"]
            selector = doc["spec"]["selector"]
            selector = selector.get("matchLabels", selector)
            labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
            assert selector.items() <= labels.items(), f"{kind}/{name} selects no pod"
    assert {d["metadata"]["name"] for _, d in DOCS if d["kind"] == "PodDisruptionBudget"} == set(deployments)


def test_secrets_are_referenced_never_included() -> None:
    assert not [d for _, d in DOCS if d["kind"] == "Secret"], "the Secret is created out of band"
    secretish = re.compile(r"(PASSWORD|SECRET|TOKEN|PEPPER|DATABASE_URL|API_KEY)")
    for key in _config_map():
        assert not secretish.search(key), f"ConfigMap carries {key}"
    for name, pod in pod_specs():
        for container in pod["containers"]:
            for item in container.get("env", []):
                if secretish.search(item["name"]):
                    assert "value" not in item, f"{name}: {item['name']} has a literal value"
                    assert item["valueFrom"]["secretKeyRef"]["name"] == "gunma-secrets"


def test_one_image_everywhere_and_the_settings_load() -> None:
    images = {c["image"] for _, pod in pod_specs() for c in pod["containers"]}
    assert len(images) == 1, images
    for name, deployment in _deployments().items():
        env = {k: "x" * 40 if isinstance(v, dict) else v for k, v in _env(deployment).items()}
        env = {k: v for k, v in env.items() if not k.startswith("OTEL_")}
        env["GUNMA_DATABASE_URL"] = "postgresql://gunma:secret@postgres:5432/gunma"
        with pytest.MonkeyPatch.context() as patch:
            for variable in [v for v in __import__("os").environ if v.startswith("GUNMA_")]:
                patch.delenv(variable)
            for variable, value in env.items():
                patch.setenv(variable, str(value))
            settings = settings_class(name)()
        assert (
            settings.http_port
            == deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"]
        )


def test_kustomization_lists_every_manifest() -> None:
    (kustomization,) = yaml_documents(K8S / "kustomization.yaml")
    listed = set(kustomization["resources"])
    present = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    # The migration Job is applied on its own per release (its pod template is immutable).
    assert listed == present - {"migrate-job.yaml"}
