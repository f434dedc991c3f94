"""The dashboards a stack ships (model/dashboards, components/grafana_dashboards.py), on the
`alerting` fixture stack: every query reads what the platform records under the names it is
stored by, every line drawn is the stack's own objective, and the markers are overlaid.

Expected names come from elsewhere in the plan: the contract the stack declares, the rules
the service's PrometheusRule records, the PodMonitor's labels, the metrics the Datadog
monitors query; the sidecar label from kube-prometheus-stack's values.yaml.
"""

import json
import re

import promql_parser
import pytest

from model.naming import datadog as datadog_naming
from tests.helpers import load_settings, metric_of, stack_plan
from tools import render

STACK = "alerting"
CONFIG_MAP, PROMETHEUS_RULE = "kubernetes:core/v1:ConfigMap", "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
POD_MONITOR = "kubernetes:monitoring.coreos.com/v1:PodMonitor"
# kube-prometheus-stack values.yaml: grafana.sidecar.dashboards label grafana_dashboard, labelValue "1".
SIDECAR = ("grafana_dashboard", "1")


@pytest.fixture(scope="module")
def plan():
    return stack_plan(STACK)


SETTINGS = load_settings(STACK)
SERVICES = [s.name for s in SETTINGS.services]


def grafana_dashboard(plan, service):
    maps = [r.inputs for r in plan.of_type(CONFIG_MAP)
            if r.inputs["metadata"]["labels"].get(SIDECAR[0]) == SIDECAR[1]
            and r.inputs["metadata"]["labels"]["app.kubernetes.io/name"] == service]
    assert len(maps) == 1, service
    (key, text), = maps[0]["data"].items()
    assert key.endswith(".json")
    return maps[0], json.loads(text)


def selectors(expr):
    found: list = []
    promql_parser.walk(promql_parser.parse(expr), lambda node: found.append(node) if isinstance(
        node, promql_parser.VectorSelector) else None)
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_every_grafana_query_parses_and_reads_only_contract_metrics_and_recorded_rules(plan, service):
    settings = next(s for s in SETTINGS.services if s.name == service)
    contract = settings.metrics
    group, = [g for r in plan.of_type(PROMETHEUS_RULE) for g in r.inputs["spec"]["groups"]
              if g["name"].startswith(f"{service}-")]
    recorded = {rule["record"] for rule in group["rules"] if "record" in rule}
    recorded_labels = {json.dumps(rule["labels"], sort_keys=True) for rule in group["rules"] if "record" in rule}
    monitor = next(m.inputs for m in plan.of_type(POD_MONITOR) if m.inputs["metadata"]["name"] == service)
    namespace, = monitor["spec"]["namespaceSelector"]["matchNames"]
    # A Prometheus histogram is stored as <name>_bucket, _sum and _count; the quantiles read the buckets.
    metrics = {metric_of(contract, role) for role in ("requests", "input_tokens", "cost", "queue", "kv_cache")} | {
        f"{metric_of(contract, role)}_bucket" for role in ("latency", "ttft", "tpot")}
    _, dashboard = grafana_dashboard(plan, service)
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    assert len(exprs) >= 10
    read = set()
    for expr in exprs:
        for node in selectors(expr):
            read.add(node.name)
            labels = {m.name: m.value for m in node.matchers.matchers}
            if node.name in recorded:
                assert json.dumps(labels, sort_keys=True) in recorded_labels, expr
            else:
                assert node.name in metrics, expr
                assert (labels["job"], labels["namespace"]) == (service, namespace), expr
    assert metrics <= read and {r for r in recorded if r.startswith("slo:sli_error")} <= read


@pytest.mark.parametrize("service", SERVICES)
def test_grafana_draws_the_stacks_own_objectives_and_overlays_the_markers(plan, service):
    slo = next(s for s in SETTINGS.services if s.name == service).slo
    config_map, dashboard = grafana_dashboard(plan, service)
    lines = {panel["title"]: [s["value"] for s in panel["fieldConfig"]["defaults"].get("thresholds", {}).get(
        "steps", []) if s["value"] is not None] for panel in dashboard["panels"]}
    drawn = {value for values in lines.values() for value in values}
    assert {slo.error_rate, slo.p95_seconds, slo.tokens_per_hour, slo.cost_per_hour, 1} <= drawn
    annotation, = dashboard["annotations"]["list"]
    # Grafana's built-in source answers for annotations posted to its HTTP API, matched on every tag.
    assert annotation["datasource"]["type"] == "grafana" and annotation["target"]["type"] == "tags"
    assert annotation["target"]["matchAny"] is False
    assert set(annotation["target"]["tags"]) == {"deployment", f"env:{STACK}", f"service:{service}"}
    assert config_map["metadata"]["namespace"] == SETTINGS.kubernetes.namespace
    # Panels name their datasource through the dashboard's variable: no uid is assumed.
    variable, = dashboard["templating"]["list"]
    assert variable["type"] == "datasource" and variable["query"] == "prometheus"
    assert {p["datasource"]["uid"] for p in dashboard["panels"]} == {f"${{{variable['name']}}}"}


def datadog_dashboard(plan, service):
    found = [r for r in plan.of_type(render.DATADOG_DASHBOARD) if r.name.startswith(f"{service}-")]
    assert len(found) == 1
    return json.loads(found[0].inputs["dashboard"])


@pytest.mark.parametrize("service", SERVICES)
def test_the_datadog_dashboard_shows_the_services_slo_and_what_its_monitors_read(plan, service):
    dashboard = datadog_dashboard(plan, service)
    slo = plan.one("datadog:index/serviceLevelObjective:ServiceLevelObjective", f"{service}-datadog-slo")
    widgets = [w["definition"] for w in dashboard["widgets"]]
    slo_widget, = [w for w in widgets if w["type"] == "slo"]  # the fixture declares no latency SLO
    assert slo_widget["slo_id"] == slo.id
    monitors = [r.inputs["query"] for r in plan.of_type("datadog:index/monitor:Monitor")
                if f"service:{service}" in r.inputs["query"]]
    metric = re.compile(r"(?:sum|avg|max|p\d+|\)):([a-z_.]+)\{")  # `sum:m{`, `p95:m{`, `count(v: v>x):m{`
    # A latency alert reads the distribution's threshold count over its `.count`: both are the distribution.
    contract = next(s.metrics for s in SETTINGS.services if s.name == service)
    distribution = f"{datadog_naming.NAMESPACE}.{metric_of(contract, 'latency')}"
    monitored = {m.removesuffix(".count") if m == f"{distribution}.count" else m
                 for query in monitors for m in metric.findall(query)}
    charted = {m for w in widgets if w["type"] == "timeseries" for r in w["requests"] for m in metric.findall(r["q"])}
    # What the monitors read is charted; the TTFT and TPOT distributions are charted beside it.
    extra = {f"{datadog_naming.NAMESPACE}.{metric_of(contract, role)}" for role in ("ttft", "tpot")}
    assert charted - extra == monitored
    for widget in widgets:
        if widget["type"] == "timeseries":
            assert all(re.search(rf"\{{env:{STACK},service:{service}[,}}]", r["q"]) for r in widget["requests"])
            assert widget["events"] == [{"q": f"tags:deployment env:{STACK} service:{service}"}]


def test_the_render_writes_each_dashboard_as_a_file(plan):
    files = render.dashboards(plan)
    assert sorted(files) == sorted([f"grafana-aio-{STACK}-{s}.json" for s in SERVICES]
                                   + [f"datadog-{s}.json" for s in SERVICES])
