"""LLM serving on the `llm` fixture stack: server presets against each server's real exposition,
latency SLOs in the server's own names in all three backends, DCGM alerts for GPU services only,
and queue-based autoscaling.

Names are read from tests/fixtures/metrics/<server>.prom (built from each server's source, cited in
its header) and from the backends' documented naming rules, never from the presets.
"""

import functools
import json
import re
from dataclasses import replace
from pathlib import Path

import promql_parser
import pytest
from prometheus_client.parser import text_string_to_metric_families

from model import presets
from model.contract import ROLES
from tests.helpers import load_settings, problem_for, problems, stack_plan
from tools import contract_check

FIXTURE = "llm"
EXPOSITIONS = Path(__file__).parent.parent / "fixtures" / "metrics"
PROMETHEUS_RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
AZURE_RULE_GROUP = "azure-native:alertsmanagement:PrometheusRuleGroup"
AZURE_WORKSPACE = "azure-native:monitor:AzureMonitorWorkspace"
ACTION_GROUP = "azure-native:monitor:ActionGroup"
SLO = "datadog:index/serviceLevelObjective:ServiceLevelObjective"
MONITOR = "datadog:index/monitor:Monitor"
GPU_ALERTS = {"AIInferenceGPUSaturated", "AIInferenceGPUMemoryHigh", "AIInferenceGPUXidError"}
QUALITY = {"quality", "drift", "hallucination_rate", "feedback", "negative_feedback"}
# What each server cannot provide, as its source shows (tests/fixtures/metrics/*.prom headers).
LACKING = {
    "vllm": {"cost"} | QUALITY,
    "tgi": {"ttft", "kv_cache", "cost"} | QUALITY,
    "triton": {"requests", "latency", "tpot", "cost"} | QUALITY,
    "otel-genai": {"queue", "kv_cache", "cost"} | QUALITY,
}


@pytest.fixture(scope="module")
def plan():
    return stack_plan(FIXTURE)


@pytest.fixture(scope="module")
def settings():
    return load_settings(FIXTURE)


def families(server):
    return {f.name: f for f in text_string_to_metric_families((EXPOSITIONS / f"{server}.prom").read_text())}


def rules(plan, service):
    rule = next(r for r in plan.of_type(PROMETHEUS_RULE) if r.inputs["metadata"]["name"] == service)
    group, = rule.inputs["spec"]["groups"]
    return group["rules"]


def selectors(expr):
    found = []
    promql_parser.walk(promql_parser.parse(expr), lambda node: found.append(node)
                       if isinstance(node, promql_parser.VectorSelector) else None)
    return found


# -- presets against the servers' expositions -------------------------------------------------

@pytest.mark.parametrize("preset", sorted(LACKING))
def test_each_preset_keeps_to_its_servers_exposition_and_reports_what_it_lacks(settings, preset):
    contract = presets.PRESETS[preset]
    service = replace(settings.services[0], metrics=contract)
    if contract.latency:  # objectives at the preset's own top bucket, as settings require bucket bounds
        top = contract.latency.top_bucket
        service = replace(service, slo=replace(service.slo, p95_seconds=top, p99_seconds=top))
    exposition = (EXPOSITIONS / f"{preset}.prom").read_text()
    findings = contract_check.check(exposition, service, roles={role: [] for role in ROLES})
    assert [str(f) for f in findings if f.status == contract_check.FAIL] == []
    lacking = {f.metric for f in findings if f.status == contract_check.LACKING}
    assert lacking == LACKING[preset]
    assert all(len(f.said) > 60 for f in findings if f.status == contract_check.LACKING), "each says why"


def test_the_reference_service_keeps_the_default_preset_for_every_role(settings):
    from prometheus_client import generate_latest

    from service.telemetry import Metrics
    service = next(s for s in settings.services if s.name == "classifier")
    exposition = generate_latest(Metrics("iris-classifier").registry).decode()
    # Every role but the two a classifier has no measure of.
    roles: dict[str, list[str]] = {role: [] for role in ROLES if role not in ("hallucination_rate", "drift")}
    assert [str(f) for f in contract_check.check(exposition, service, roles=roles) if not f.ok] == []


def test_every_alert_a_server_cannot_measure_is_excluded_and_reported(plan, settings):
    excluded = plan.outputs["excludedAlerts"]
    for service in settings.services:
        present = {r["alert"] for r in rules(plan, service.name) if "alert" in r}
        reported = set(excluded[service.name])
        assert present.isdisjoint(reported)
        for alert, reason in excluded[service.name].items():
            assert reason.startswith(f"{service.metrics.server} does not provide"), (alert, reason)
    assert set(excluded["triton"]) >= {"AIInferenceSLOBurnRatePage", "AIInferenceLatencyP99High"}
    assert set(excluded["tgi"]) == {"AIInferenceKVCacheSaturated", "AIInferenceCostBudgetExceeded"}
    assert excluded["classifier"] == {}


# -- the vLLM service's TTFT SLO in every backend ---------------------------------------------

def test_the_ttft_slo_is_recorded_from_vllms_own_histogram_bucket(plan):
    vllm = families("vllm")
    ttft, = [name for name, f in vllm.items() if "time_to_first_token" in name and f.type == "histogram"]
    # The fixture's bucket for 0.5 s, written as vLLM (the Python client) writes it.
    les = {s.labels["le"] for s in vllm[ttft].samples if s.name.endswith("_bucket")}
    assert "0.5" in les
    recorded = [r for r in rules(plan, "chat") if r.get("labels", {}).get("slo") == "time-to-first-token"
                and "record" in r and r["record"].startswith("slo:sli_error:ratio_rate")]
    assert {r["record"] for r in recorded} == {f"slo:sli_error:ratio_rate{w}"
                                              for w in ("5m", "30m", "1h", "2h", "3h", "6h", "1d", "36h")}
    for rule in recorded:
        found = {(node.name, tuple(sorted((m.name, m.value) for m in node.matchers.matchers)))
                 for node in selectors(rule["expr"])}
        assert found == {(f"{ttft}_bucket", (("job", "chat"), ("le", "0.5"), ("namespace", "llm"))),
                         (f"{ttft}_count", (("job", "chat"), ("namespace", "llm")))}
    objective = next(r for r in rules(plan, "chat") if r.get("record") == "slo:objective:ratio"
                     and r["labels"]["slo"] == "time-to-first-token")
    assert objective["expr"] == "vector(0.99)"


def test_the_ttft_slo_in_datadog_counts_first_tokens_at_or_under_the_threshold(plan):
    slo = plan.one(SLO, "chat-datadog-time-to-first-token-slo")
    # Datadog names: the check's namespace, a colon made an underscore (Datadog metric naming rules);
    # a threshold query on the distribution counts values at or under the threshold (metric SLOs docs).
    distribution = "inference.vllm_time_to_first_token_seconds"
    assert slo.inputs["query"]["numerator"] == (f"count(v: v<=0.5):{distribution}{{env:llm,service:chat}}"
                                                ".as_count()")
    assert slo.inputs["query"]["denominator"] == f"sum:{distribution}.count{{env:llm,service:chat}}.as_count()"
    assert (slo.inputs["targetThreshold"], slo.inputs["timeframe"]) == (99, "30d")
    burns = [m.inputs for m in plan.of_type(MONITOR) if {"alert:AIInferenceTimeToFirstTokenBurnRatePage",
                                                           "service:chat"} <= set(m.inputs["tags"])]
    assert len(burns) == 2 and all(f'burn_rate("{slo.id}")' in m["query"] for m in burns)
    tag_configurations = {c.inputs["metricName"]: c.inputs for c in
                          plan.of_type("datadog:index/metricTagConfiguration:MetricTagConfiguration")}
    assert tag_configurations[distribution]["includePercentiles"] is True  # threshold queries need it
    deployment = plan.one("kubernetes:apps/v1:Deployment", "chat-deployment").inputs
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    instance, = json.loads(annotations["ad.datadoghq.com/inference.checks"])["openmetrics"]["instances"]
    assert {"vllm:time_to_first_token_seconds": "vllm_time_to_first_token_seconds"} in instance["metrics"]


def test_azure_alerts_on_vllms_metrics_through_the_managed_prometheus_workspace(plan, settings):
    workspace, action_group = plan.one(AZURE_WORKSPACE), plan.one(ACTION_GROUP)
    groups = [g.inputs for g in plan.of_type(AZURE_RULE_GROUP) if g.name.startswith("azure-monitoring-chat-")]
    assert groups and all(g["scopes"] == [workspace.id] and len(g["rules"]) <= 20 for g in groups)
    azure_rules = [r for g in groups for r in g["rules"]]
    operator = {r.get("record") or r.get("alert"): r for r in rules(plan, "chat")}
    page = next(r for r in azure_rules if r.get("alert") == "AIInferenceTimeToFirstTokenBurnRatePage")
    assert page["expression"] == operator["AIInferenceTimeToFirstTokenBurnRatePage"]["expr"]
    assert page["actions"] == [{"actionGroupId": action_group.id}] and page["severity"] == 1
    assert any("vllm:time_to_first_token_seconds_bucket" in r["expression"] for r in azure_rules if "record" in r)
    # vLLM sends App Insights no request spans: none of its alerts is KQL over requests.
    role = f'cloud_RoleName == "{settings.identity.application}.chat"'  # App Insights' role name rule
    kql = [r.inputs for r in plan.of_type("azure-native:monitor:ScheduledQueryRule")
           if role in r.inputs["criteria"]["allOf"][0]["query"]]
    classifier = [r for r in plan.of_type("azure-native:monitor:ScheduledQueryRule")
                  if f'cloud_RoleName == "{settings.identity.application}.classifier"'
                  in r.inputs["criteria"]["allOf"][0]["query"]]
    assert kql == [] and classifier, "our own contract's requests are KQL; vLLM's are not"
    # The managed Prometheus addon scrapes what the operator does, under its own API group.
    monitors = [r for r in plan.of_type("kubernetes:azmonitoring.coreos.com/v1:PodMonitor")
                if r.inputs["metadata"]["name"] == "chat"]
    operator_monitor = next(r for r in plan.of_type("kubernetes:monitoring.coreos.com/v1:PodMonitor")
                            if r.inputs["metadata"]["name"] == "chat")
    assert len(monitors) == 1 and monitors[0].inputs["spec"] == operator_monitor.inputs["spec"]


# -- GPUs ---------------------------------------------------------------------------------------

def test_gpu_services_get_dcgm_alerts_and_the_others_none(plan, settings):
    dcgm = set(families("dcgm"))
    for service in settings.services:
        alerts = {r["alert"]: r for r in rules(plan, service.name) if "alert" in r}
        has_gpu = "nvidia.com/gpu" in service.resources.extended
        assert (GPU_ALERTS <= set(alerts)) == has_gpu and (GPU_ALERTS & set(alerts) == set()) != has_gpu
        for name in GPU_ALERTS & set(alerts):
            for node in selectors(alerts[name]["expr"]):
                assert node.name in dcgm
                matchers = {m.name: m.value for m in node.matchers.matchers}
                pod = re.compile(matchers["exported_pod"])
                assert pod.fullmatch(f"{service.name}-6b8d9f7c4d-q2m7x")
                assert not pod.fullmatch(f"{service.name}-canary-6b8d9f7c4d-q2m7x")
        monitors = {t.split(":", 1)[1] for m in plan.of_type(MONITOR) if f"service:{service.name}" in m.inputs["tags"]
                    for t in m.inputs["tags"] if t.startswith("alert:")}
        assert (GPU_ALERTS <= monitors) == has_gpu


# -- autoscaling on the queue ---------------------------------------------------------------------

def test_keda_scales_vllm_on_its_waiting_requests_per_replica(plan, settings):
    scaled = plan.one("kubernetes:keda.sh/v1alpha1:ScaledObject").inputs
    deployment = plan.one("kubernetes:apps/v1:Deployment", "chat-deployment").inputs
    assert scaled["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert (scaled["spec"]["minReplicaCount"], scaled["spec"]["maxReplicaCount"]) == (1, 8)
    trigger, = scaled["spec"]["triggers"]
    assert (trigger["type"], trigger["metricType"]) == ("prometheus", "AverageValue")
    assert trigger["metadata"]["serverAddress"] == settings.prometheus.url
    assert trigger["metadata"]["threshold"] == "8"
    assert trigger["authenticationRef"] == {"name": settings.prometheus.keda_authentication}
    node, = selectors(trigger["metadata"]["query"])
    assert node.name == "vllm:num_requests_waiting" and node.name in families("vllm")
    assert {m.name: m.value for m in node.matchers.matchers} == {"job": "chat", "namespace": "llm"}
    hpas = {h.name: h.inputs for h in plan.of_type("kubernetes:autoscaling/v2:HorizontalPodAutoscaler")}
    assert "chat-hpa" not in hpas, "KEDA makes and owns the HPA"
    external, = hpas["tgi-hpa"]["spec"]["metrics"]
    assert external["external"]["metric"]["name"] in families("tgi")  # tgi_queue_size: no colon to rename
    assert external["external"]["target"] == {"type": "AverageValue", "averageValue": "4"}
    assert hpas["classifier-hpa"]["spec"]["metrics"][0]["resource"]["name"] == "cpu"


# -- settings ----------------------------------------------------------------------------------

def with_chat(**changes):
    service = {"name": "chat", "image": "registry.example.com/llm/vllm-openai:0.11.0",
               "model": {"name": "llama", "version": "1"}, "metrics": {"preset": "vllm"}, **changes}
    return {"services": [service], "prometheus.url": ""}


@pytest.mark.parametrize("changes, key, said", [
    ({"slo": {"latencyObjectives": {"timeToFirstToken": {"thresholdSeconds": 0.3, "target": 0.99}}}},
     "services[0].slo.latencyObjectives.timeToFirstToken.thresholdSeconds",
     "must be a bucket boundary of vllm:time_to_first_token_seconds (0.001, 0.005,"),
    ({"metrics": {"preset": "tgi"},
      "slo": {"latencyObjectives": {"timeToFirstToken": {"thresholdSeconds": 0.5, "target": 0.99}}}},
     "services[0].slo.latencyObjectives.timeToFirstToken", "cannot be measured: TGI does not provide time to first"),
    ({"slo": {"latencyObjectives": {"timePerOutputToken": {"thresholdSeconds": 0.1, "target": 0.5}}}},
     "services[0].slo.latencyObjectives.timePerOutputToken.target", "too large for the 30d policy"),
    ({"slo": {"quality": {"minScore": 0.9}}}, "services[0].slo.quality.minScore",
     "cannot be measured: vLLM does not provide a model quality score"),
    ({"metrics": {"preset": "vllm", "requests": "x_total"}}, "services[0].metrics.requests",
     "the vllm preset uses vLLM's own names"),
    ({"autoscaling": {"metric": "queue", "engine": "keda"}}, "prometheus.url", "is required: chat scale(s) with KEDA"),
    ({"metrics": {"preset": "otel-genai"}, "autoscaling": {"metric": "queue"}}, "services[0].autoscaling.metric",
     "cannot be measured: an OpenTelemetry GenAI server does not provide requests waiting"),
    ({"metrics": {"preset": "sglang"}}, "services[0].metrics.preset", "default, vllm, tgi, triton, otel-genai"),
])
def test_llm_settings_refuse_what_cannot_be_measured(changes, key, said):
    assert said in problem_for(key, problems("minimal", with_chat(**changes)))


# -- dashboards ----------------------------------------------------------------------------------

def test_the_dashboards_show_the_llm_slis_the_server_provides(plan):
    from tests.components.test_dashboards import datadog_dashboard, grafana_dashboard
    vllm = families("vllm")
    _, chat = grafana_dashboard(plan, "chat")
    panels = {p["title"]: p for p in chat["panels"]}
    ttft = next(p for title, p in panels.items() if title.startswith("Time to first token"))
    read = {node.name for t in ttft["targets"] for node in selectors(t["expr"])}
    assert read == {"vllm:time_to_first_token_seconds_bucket"} and "vllm:time_to_first_token_seconds" in vllm
    assert [s["value"] for s in ttft["fieldConfig"]["defaults"]["thresholds"]["steps"]][-1] == 0.5  # the objective
    ratio = next(p for title, p in panels.items() if title.startswith("time-to-first-token: bad-event ratio"))
    assert all('slo="time-to-first-token"' in t["expr"] for t in ratio["targets"])
    queue = next(p for title, p in panels.items() if title.startswith("Waiting requests per replica"))
    assert {node.name for t in queue["targets"] for node in selectors(t["expr"])} == {"vllm:num_requests_waiting"}
    # The GenAI conventions have no queue: no panel rather than an empty one.
    _, genai = grafana_dashboard(plan, "genai")
    assert not any(p["title"].startswith("Waiting requests") for p in genai["panels"])
    slo_ids = {r.name: r.id for r in plan.of_type(SLO) if r.name.startswith("chat-")}
    widgets = [w["definition"] for w in datadog_dashboard(plan, "chat")["widgets"] if w["definition"]["type"] == "slo"]
    assert {w["slo_id"] for w in widgets} == set(slo_ids.values()) and len(widgets) == 3


def test_a_millisecond_histogram_is_charted_in_seconds_beside_its_objective_in_seconds(plan, settings):
    """Triton writes its first-response histogram in milliseconds (the fixture's le 100, 500, 2000, 5000): the
    Datadog widget scales the percentiles to seconds, the unit its objective (2 s) is marked in."""
    from tests.components.test_dashboards import datadog_dashboard
    assert "nv_inference_first_response_histogram_ms" in families("triton")
    objective, = next(s for s in settings.services if s.name == "triton").slo.latency_slos
    widget = next(w["definition"] for w in datadog_dashboard(plan, "triton")["widgets"]
                  if w["definition"].get("title", "").startswith("Time to first token"))
    assert all(r["q"].endswith(" * 0.001") for r in widget["requests"])
    assert widget["markers"] == [{"display_type": "error dashed", "label": "objective",
                                  "value": f"y = {objective.threshold_seconds:g}"}]


def test_a_server_with_metrics_on_its_api_port_is_scraped_there(plan, settings):
    # vLLM serves /metrics on its API port: the fixture sets ports.http = ports.metrics = 8000.
    chat = next(s for s in settings.services if s.name == "chat")
    assert chat.http_port == chat.metrics_port
    pod = plan.one("kubernetes:apps/v1:Deployment", "chat-deployment").inputs["spec"]["template"]
    container, = pod["spec"]["containers"]
    assert container["ports"] == [{"name": "http", "containerPort": chat.http_port, "protocol": "TCP"}]
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(chat.http_port)
    monitor = next(r.inputs for r in plan.of_type("kubernetes:monitoring.coreos.com/v1:PodMonitor")
                   if r.inputs["metadata"]["name"] == "chat")
    assert [e["port"] for e in monitor["spec"]["podMetricsEndpoints"]] == ["http"]
    policy = plan.one("kubernetes:networking.k8s.io/v1:NetworkPolicy", "chat-network-policy").inputs
    scrapers = next(rule for rule in policy["spec"]["ingress"] if {"namespaceSelector": {"matchLabels": {
        "kubernetes.io/metadata.name": "monitoring"}}} in rule["from"])
    assert scrapers["ports"] == [{"port": "http", "protocol": "TCP"}]
    service = plan.one("kubernetes:core/v1:Service", "chat-service").inputs
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]


# -- every selector selects something the server exposes ----------------------------------------

# Labels the scrape adds (the operator's target labels and the pod's version label): no exposition has them.
TARGET_LABELS = {"job", "namespace", "instance", "pod", "container", "version"}
SAMPLE = re.compile(r'^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+\S+')
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


@functools.cache
def exposition(server):
    """(name, labels) of every sample `tests/fixtures/metrics/<server>.prom` exposes, names as written."""
    return tuple((match.group(1), dict(LABEL.findall(match.group(2) or "")))
                 for line in (EXPOSITIONS / f"{server}.prom").read_text().splitlines()
                 if not line.startswith("#") and (match := SAMPLE.match(line)))


def selects(node, name, labels):
    """Whether a PromQL selector picks this sample. Target labels are the scrape's; `exported_<l>` is the
    server's own `<l>`, renamed where the scrape's target label has that name (only its presence is the
    server's: which pod is the deployment's)."""
    if node.name != name:
        return False
    for matcher in node.matchers.matchers:
        if matcher.name in TARGET_LABELS:
            continue
        if matcher.name.startswith("exported_"):
            if matcher.name.removeprefix("exported_") not in labels:
                return False
            continue
        value, op = labels.get(matcher.name, ""), matcher.op
        if op == promql_parser.MatchOp.Equal:
            held = value == matcher.value
        elif op == promql_parser.MatchOp.NotEqual:
            held = value != matcher.value
        else:
            held = (re.fullmatch(matcher.value, value) is not None) == (op == promql_parser.MatchOp.Re)
        if not held:
            return False
    return True


def unmatched(plan, service, server):
    """Every selector of the service's rules, Azure rule groups and Grafana panels that picks no sample of the
    server's exposition (or DCGM's, for the GPU series), with where it is."""
    expressions = [(rule.get("alert") or rule["record"], rule["expr"]) for rule in rules(plan, service)]
    expressions += [(f"azure {rule.get('alert') or rule['record']}", rule["expression"])
                    for group in plan.of_type(AZURE_RULE_GROUP)
                    if group.name.startswith(f"azure-monitoring-{service}-") for rule in group.inputs["rules"]]
    dashboard = plan.one("kubernetes:core/v1:ConfigMap", f"{service}-grafana-config-map")
    panels = json.loads(next(iter(dashboard.inputs["data"].values())))["panels"]
    expressions += [(f"panel {panel['title']}", target["expr"])
                    for panel in panels for target in panel.get("targets", [])]
    found = []
    for where, expr in expressions:
        for node in selectors(expr):
            if node.name.startswith("slo:") or node.name == "up":
                continue  # recorded by the rules themselves; the scrape's own
            exposed = exposition("dcgm" if node.name.startswith("DCGM_") else server)
            if not any(selects(node, name, labels) for name, labels in exposed):
                found.append(f"{where}: {node}")
    return found


SERVERS = {"chat": "vllm", "tgi": "tgi", "triton": "triton", "genai": "otel-genai"}


@pytest.mark.parametrize("service", SERVERS)
def test_every_selector_of_a_service_selects_a_series_its_server_exposes(plan, service):
    assert unmatched(plan, service, SERVERS[service]) == []


def test_a_preset_that_names_the_wrong_model_selects_nothing(settings):
    """The selector test fails on what it must catch: Triton's queue and KV cache read from the served ensemble,
    which reports neither (the engine, tensorrt_llm, does)."""
    from model.dialects import prometheus as dialect
    triton = next(s for s in settings.services if s.name == "triton")
    wrong = presets.serving(replace(presets.TRITON, backend_roles=()), triton.model_name)
    queue, kv_cache = (dialect.role_series(wrong.series(role), {"job": "triton"}) for role in ("queue", "kv_cache"))
    exposed = exposition("triton")
    kv_node, = selectors(kv_cache)
    assert not any(selects(kv_node, name, labels) for name, labels in exposed)
    queue_node, = selectors(queue)
    pending = [labels for name, labels in exposed if selects(queue_node, name, labels)]
    assert [labels["model"] for labels in pending] == ["ensemble"]  # the queue that stays empty
    right = presets.serving(presets.TRITON, triton.model_name)
    node, = selectors(dialect.role_series(right.series("kv_cache"), {"job": "triton"}))
    assert any(selects(node, name, labels) for name, labels in exposed)
