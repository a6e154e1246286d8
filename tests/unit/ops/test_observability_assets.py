"""Alert rules and the Grafana dashboard: PromQL that parses and names metrics the services export.

The metric catalog is what the code registers: every service's composition root and metrics module are
imported, FastStream's Prometheus middleware is instantiated, and the Prometheus scrape adds
``up``. A few names the services have not defined yet are listed in PENDING with the service expected to
define them; the dashboard shows "No data" for those until then.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import pkgutil
import re
from collections.abc import Iterator
from typing import Any

import promql_parser
import pytest
import yaml
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import REGISTRY, CollectorRegistry

from tests.support.stack import REPO

ALERTS = REPO / "deploy" / "prometheus" / "alerts.yml"
DASHBOARD = REPO / "deploy" / "grafana" / "dashboards" / "gunma.json"
OPERATIONS = REPO / "docs" / "operations.md"
#: Labels the scrape adds (deploy/prometheus/prometheus.yml; Kubernetes service discovery adds more).
SCRAPE_LABELS = {"job", "instance", "service", "namespace", "pod"}
#: Documented in docs/operations.md, to be defined by the service named: name -> labels.
PENDING: dict[str, set[str]] = {}
SERVICES = ("ingest", "router", "translate", "sender", "line_sandbox")


def _exposed(collector: Any) -> Iterator[tuple[str, set[str]]]:
    name, kind, labels = collector._name, collector._type, set(collector._labelnames)
    if kind == "counter":
        yield f"{name}_total", labels
    elif kind == "histogram":
        yield f"{name}_bucket", labels | {"le"}
        yield f"{name}_sum", labels
        yield f"{name}_count", labels
    elif kind == "summary":
        yield f"{name}_sum", labels
        yield f"{name}_count", labels
        yield name, labels | {"quantile"}
    else:
        yield name, labels


def _catalog(registry: CollectorRegistry) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for collector in set(registry._names_to_collectors.values()):
        if hasattr(collector, "_labelnames") and hasattr(collector, "_type"):
            found.update(_exposed(collector))
    return found


@pytest.fixture(scope="module")
def catalog() -> dict[str, set[str]]:
    # Every module of the services (metrics live in many), so the catalog does not depend on what other
    # tests happened to import first.
    for service in ("common", *SERVICES):
        package = importlib.import_module(f"services.{service}")
        for module in pkgutil.walk_packages(package.__path__, f"services.{service}."):
            if not module.name.endswith("__main__"):
                importlib.import_module(module.name)
    importlib.import_module("services.common.kafka.lag")
    faststream = CollectorRegistry()
    KafkaPrometheusMiddleware(registry=faststream)
    metrics = {**_catalog(REGISTRY), **_catalog(faststream), "up": set(), **PENDING}
    assert "gunma_dead_lettered_total" in metrics and "faststream_received_messages_total" in metrics
    return metrics


def _alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(ALERTS.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def _dashboard_targets() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [
        (panel["title"], target["expr"])
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    ]


def _selectors(expr: Any) -> list[Any]:
    found: list[Any] = []

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            found.append(node)

    promql_parser.walk(expr, visit)
    return found


def _aggregations(expr: Any) -> list[Any]:
    found: list[Any] = []

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.AggregateExpr):
            found.append(node)

    promql_parser.walk(expr, visit)
    return found


def problems(query: str, catalog: dict[str, set[str]]) -> list[str]:
    """What is wrong with a query: syntax, unknown metrics, labels no metric in it has."""
    try:
        expr = promql_parser.parse(query.replace("$__rate_interval", "5m"))
    except ValueError as error:
        return [f"does not parse: {error}"]
    out: list[str] = []
    for selector in _selectors(expr):
        if selector.name not in catalog:
            out.append(f"unknown metric {selector.name}")
            continue
        known = catalog[selector.name] | SCRAPE_LABELS | {"__name__"}
        out.extend(
            f"{selector.name} has no label {m.name!r}"
            for m in selector.matchers.matchers
            if m.name not in known
        )
    for aggregation in _aggregations(expr):
        if aggregation.modifier is None:
            continue
        inside = set().union(*[catalog.get(s.name, set()) for s in _selectors(aggregation.expr)])
        missing = set(aggregation.modifier.labels) - inside - SCRAPE_LABELS
        if missing:
            out.append(f"grouping by {sorted(missing)}: no metric in {aggregation} has them")
    return out


def test_the_checker_finds_real_mistakes(catalog: dict[str, set[str]]) -> None:
    assert problems("sum by (group) (gunma_consumer_lag)", catalog) == []
    assert problems("sum by (group (gunma_consumer_lag)", catalog)[0].startswith("does not parse")
    assert problems("gunma_consumer_lags > 1", catalog) == ["unknown metric gunma_consumer_lags"]
    assert problems('gunma_dead_lettered_total{queue="x"}', catalog) == [
        "gunma_dead_lettered_total has no label 'queue'"
    ]
    assert problems("sum by (verdict) (rate(gunma_dead_lettered_total[5m]))", catalog)


@pytest.mark.parametrize("rule", _alert_rules(), ids=lambda r: r["alert"])
def test_alert_rule(rule: dict[str, Any], catalog: dict[str, set[str]]) -> None:
    assert problems(rule["expr"], catalog) == []
    assert rule["labels"]["severity"] in ("page", "ticket")
    assert rule["annotations"]["summary"]
    anchor = rule["annotations"]["runbook"].split("#", 1)[1]
    assert anchor == rule["alert"].lower()
    headings = {
        re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-")
        for h in re.findall(r"^#+ (.+)$", OPERATIONS.read_text(), re.M)
    }
    assert anchor in headings, f"docs/operations.md explains {rule['alert']} under its own heading"
    expr = promql_parser.parse(rule["expr"])
    grouped = (
        set().union(*[set(a.modifier.labels) for a in _aggregations(expr) if a.modifier]) | SCRAPE_LABELS
    )
    if not _aggregations(expr):
        grouped |= set().union(*[catalog[s.name] for s in _selectors(expr)])
    for label in re.findall(r"\$labels\.(\w+)", json.dumps(rule["annotations"])):
        assert label in grouped, f"{rule['alert']}: $labels.{label} is not a label of the result"


def test_alert_names_are_unique() -> None:
    names = [rule["alert"] for rule in _alert_rules()]
    assert len(names) == len(set(names))
    assert len(names) >= 10


@pytest.mark.parametrize(("title", "expr"), _dashboard_targets(), ids=lambda v: str(v)[:60])
def test_dashboard_query(title: str, expr: str, catalog: dict[str, set[str]]) -> None:
    assert problems(expr, catalog) == [], title


def test_dashboard_covers_what_operators_watch() -> None:
    queries = " ".join(expr for _, expr in _dashboard_targets())
    for metric in (
        "gunma_ingest_inputs_total",  # events accepted and rejected
        "gunma_router_notices_released_total",  # notices planned
        "gunma_router_batches_published_total",
        "gunma_translate_characters_total",  # engine characters used
        "gunma_sender_line_requests_total",  # LINE requests by status
        "gunma_sender_quota_remaining",  # quota left
        "gunma_consumer_lag",
        "gunma_dead_lettered_total",
        "gunma_consumer_retries_total",
        "gunma_consumer_blocked",
    ):
        assert metric in queries, metric
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["templating"]["list"][0]["type"] == "datasource"
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))


def test_every_gunma_metric_is_on_the_dashboard_or_in_an_alert(catalog: dict[str, set[str]]) -> None:
    """A metric nobody looks at is a metric nobody notices: a new one gets a panel (or an alert)."""
    watched = " ".join(expr for _, expr in _dashboard_targets()) + " ".join(r["expr"] for r in _alert_rules())
    exported = {re.sub(r"_(bucket|sum|count)$", "", name) for name in catalog if name.startswith("gunma_")}
    missing = sorted(
        name for name in exported if not re.search(rf"(?<!\w){name}(_bucket|_sum|_count)?(?!\w)", watched)
    )
    assert not missing, f"no panel or alert uses {missing}: add them to {DASHBOARD.relative_to(REPO)}"
