"""The alert catalogue in Prometheus, Datadog and Azure, on the `alerting` fixture stack.

Every entry is in every backend that can express it; the three backends alert at the same
burn rates over the same windows (Datadog's published table); and every query names the
telemetry exactly as the emitter config of the same render makes the backend store it.
Names are derived here from each component's documented rule, never from the program's
naming modules.
"""

import json
import re

import promql_parser
import pytest

from model import catalogue
from model.dialects import datadog as dialect_datadog
from model.durations import iso_minutes
from model.slo import Objective
from tests.helpers import COLLECTOR_CONFIG_MAP, POLICY_ROWS, config, load_settings, read_yaml, stack_plan, workload
from tools import mocks, render, verify

FIXTURE = "alerting"
PROMETHEUS_RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
POD_MONITOR = "kubernetes:monitoring.coreos.com/v1:PodMonitor"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SLO = "datadog:index/serviceLevelObjective:ServiceLevelObjective"
MONITOR = "datadog:index/monitor:Monitor"
TAG_CONFIGURATION = "datadog:index/metricTagConfiguration:MetricTagConfiguration"
LOG_ALERT = "azure-native:monitor:ScheduledQueryRule"
COMPONENT = "azure-native:applicationinsights:Component"
ACTION_GROUP = "azure-native:monitor:ActionGroup"

MINUTES = {"m": 1, "h": 60, "d": 1440}
# What each backend cannot measure, as the issue settles it: App Insights holds requests only (this
# fixture has no managed Prometheus workspace, which would take the rest).
EXPECTED_EXCLUSIONS = {"prometheus": set(), "datadog": set(),
                       "azure": {"AIInferenceMetricsEndpointDown", "AIInferenceTokenUsageHigh",
                                 "AIInferenceCostBudgetExceeded", "AIInferenceQueueBacklog",
                                 "AIInferenceKVCacheSaturated"}}


@pytest.fixture(scope="module")
def plan():
    return stack_plan(FIXTURE)


@pytest.fixture(scope="module")
def settings():
    return load_settings(FIXTURE)


def found(pattern, text):
    """The match, which must be there."""
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not in {text!r}"
    return match


def minutes(duration):
    return int(duration[:-1]) * MINUTES[duration[-1]]


def rule_group(plan, service):
    rule = next(r for r in plan.of_type(PROMETHEUS_RULE) if r.inputs["metadata"]["name"] == service)
    group, = rule.inputs["spec"]["groups"]
    return group


def prometheus_alerts(plan, service):
    return {rule["alert"]: rule for rule in rule_group(plan, service)["rules"] if "alert" in rule}


def datadog_monitors(plan, service):
    return [m.inputs for m in plan.of_type(MONITOR) if f"service:{service}" in m.inputs["tags"]]


def alert_tag(monitor):
    return next(t.split(":", 1)[1] for t in monitor["tags"] if t.startswith("alert:"))


def azure_rules(plan, service):
    """Each service's log alerts, by the alert in their description's runbook link."""
    rules = {}
    for rule in plan.of_type(LOG_ALERT):
        condition, = rule.inputs["criteria"]["allOf"]
        role = re.search(r'cloud_RoleName == "([^"]+)"', condition["query"])
        if role and role.group(1).endswith(f".{service}"):
            rules[found(r"Runbook: \S+/(\w+)$", rule.inputs["description"]).group(1)] = rule.inputs
    return rules


def deployment(plan, service):
    return workload(plan, service)


def env(deployment_inputs):
    container, = deployment_inputs["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e.get("value") for e in container["env"]}


# -- the catalogue in every backend ---------------------------------------------------

@pytest.mark.parametrize("service", ["chat", "scorer"])
def test_every_catalogue_entry_is_in_every_backend_or_excluded_there_with_its_reason(plan, settings, service):
    spec = next(s for s in settings.services if s.name == service)
    decided = catalogue.for_service(spec, settings.runbook_base_url)
    assert decided.excluded == ()  # the default contract measures every entry
    entries = {a.name for a in decided.alerts}
    present = {"prometheus": set(prometheus_alerts(plan, service)),
               "datadog": {alert_tag(m) for m in datadog_monitors(plan, service)},
               "azure": set(azure_rules(plan, service))}
    from model.dialects import azure, datadog, prometheus
    unsupported = {"prometheus": prometheus.UNSUPPORTED, "datadog": datadog.UNSUPPORTED, "azure": azure.UNSUPPORTED}
    for backend, names in present.items():
        assert names <= entries, f"{backend} has alerts the catalogue does not declare"
        assert entries - names == EXPECTED_EXCLUSIONS[backend], backend
        for entry in decided.alerts:
            reason = catalogue.exclusion(entry, unsupported[backend])
            assert (reason is not None) == (entry.name in EXPECTED_EXCLUSIONS[backend]), (backend, entry.name)
            assert reason is None or len(reason) > 40, "an exclusion says why"


@pytest.mark.parametrize("service", ["chat", "scorer"])
def test_every_notifying_alert_names_its_runbook_route_and_severity(plan, settings, service):
    runbooks = f"{settings.runbook_base_url}/"
    for name, rule in prometheus_alerts(plan, service).items():
        assert rule["annotations"]["runbook_url"] == runbooks + name
        assert rule["labels"]["routing"] == {"critical": "page", "warning": "ticket"}[rule["labels"]["severity"]]
    handles = {"page": "@pagerduty-fixture", "ticket": "@slack-fixture"}
    for monitor in datadog_monitors(plan, service):
        routing = next(t.split(":")[1] for t in monitor["tags"] if t.startswith("routing:"))
        if monitor["message"].startswith("Part of the composite"):
            assert "@" not in monitor["message"], "a composite's parts notify nobody"
        else:
            assert f"{{{{#is_alert}}}}{handles[routing]}{{{{/is_alert}}}}" in monitor["message"]
            assert f"Runbook: {runbooks}{alert_tag(monitor)}" in monitor["message"]
    action_group = plan.one(ACTION_GROUP).id
    for name, rule in azure_rules(plan, service).items():
        assert rule["description"].endswith(f"Runbook: {runbooks}{name}")
        assert rule["actions"] == {"actionGroups": [action_group]}
        assert rule["scopes"] == [plan.one(COMPONENT).id]


# -- one burn-rate policy ------------------------------------------------------------------

def prometheus_burn_rates(plan, service):
    group = rule_group(plan, service)
    budget = float(next(r["expr"] for r in group["rules"] if r.get("record") == "slo:error_budget:ratio")
                   .removeprefix("vector(").removesuffix(")"))
    rows = set()
    for name, route in (("AIInferenceSLOBurnRatePage", "page"), ("AIInferenceSLOBurnRateTicket", "ticket")):
        expr = prometheus_alerts(plan, service)[name]["expr"]
        clauses = re.findall(r"slo:sli_error:ratio_rate(\w+)\{[^}]*\} > ([\d.]+)", expr)
        for (long, threshold), (short, same) in zip(clauses[::2], clauses[1::2], strict=True):
            assert threshold == same, "both windows of a row share its threshold"
            rows.add((route, round(float(threshold) / budget, 6), minutes(long), minutes(short)))
    return rows


def datadog_burn_rates(plan, service):
    slo = next(s for s in plan.of_type(SLO) if f"service:{service}" in s.inputs["tags"])
    rows = set()
    for monitor in datadog_monitors(plan, service):
        if monitor["type"] == "slo alert":
            slo_id, period, long, short, burn = found(
                r'burn_rate\("([^"]+)"\)\.over\("(\d+d)"\)'
                r'\.long_window\("(\d+)h"\)\.short_window\("(\d+)m"\) > ([\d.]+)',
                monitor["query"]).groups()
            assert (slo_id, period) == (slo.id, slo.inputs["timeframe"]), "the monitor burns its own service's SLO"
            route = "page" if alert_tag(monitor).endswith("Page") else "ticket"
            rows.add((route, float(burn), int(long) * 60, int(short)))
    return rows


def azure_burn_rates(plan, settings, service):
    budget = next(s for s in settings.services if s.name == service).slo.objective.error_budget
    rows = set()
    for name, route in (("AIInferenceSLOBurnRatePage", "page"), ("AIInferenceSLOBurnRateTicket", "ticket")):
        condition, = azure_rules(plan, service)[name]["criteria"]["allOf"]
        where = condition["query"].rsplit("| where ", 1)[1]
        for long, threshold, short, same in re.findall(
                r"error_ratio_(\w+) > ([\d.]+) and error_ratio_(\w+) > ([\d.]+)", where):
            assert threshold == same
            rows.add((route, round(float(threshold) / budget, 6), minutes(long), minutes(short)))
    return rows


@pytest.mark.parametrize("service, period", [("chat", 7), ("scorer", 90)])
def test_the_three_backends_alert_at_the_published_burn_rates_over_the_same_windows(plan, settings, service, period):
    published = {row[:4] for row in POLICY_ROWS[period]}
    assert prometheus_burn_rates(plan, service) == published
    assert datadog_burn_rates(plan, service) == published
    assert azure_burn_rates(plan, settings, service) == published


@pytest.mark.parametrize("service", ["chat", "scorer"])
def test_errors_at_half_the_budget_rate_cross_no_error_threshold_in_any_backend(plan, settings, service):
    budget = next(s for s in settings.services if s.name == service).slo.objective.error_budget
    half = budget / 2
    prometheus = [float(t) for rule in prometheus_alerts(plan, service).values()
                  for t in re.findall(r"slo:sli_error:ratio_rate\w+\{[^}]*\} > ([\d.]+)", rule["expr"])]
    datadog = [float(burn) * budget for m in datadog_monitors(plan, service) if m["type"] == "slo alert"
               for burn in re.findall(r"> ([\d.]+)$", m["query"])]
    datadog += [float(m["monitorThresholds"]["critical"]) for m in datadog_monitors(plan, service)
                if "status:error" in m["query"] or "outcome:failure" in m["query"]]
    azure = [float(t) for rule in azure_rules(plan, service).values()
             for t in re.findall(r"error_ratio_\w+ > ([\d.]+)", rule["criteria"]["allOf"][0]["query"])]
    for backend, thresholds in (("prometheus", prometheus), ("datadog", datadog), ("azure", azure)):
        assert thresholds and min(thresholds) > half, backend
        assert min(thresholds) == pytest.approx(budget), f"{backend}: the error-rate alert's hour is the budget"


def test_every_window_fits_every_backend(plan):
    for monitor in plan.of_type(MONITOR):
        if monitor.inputs["type"] == "slo alert":
            long, short = found(r'long_window\("(\d+)h"\)\.short_window\("(\d+)m"\)',
                                monitor.inputs["query"]).groups()
            assert 1 <= int(long) <= 48 and int(short) < int(long) * 60  # Datadog's documented limits
    for rule in plan.of_type(LOG_ALERT):
        window = rule.inputs["windowSize"]
        # Azure's supported query windows; a rule sees at most two days.
        assert window in ("PT5M", "PT10M", "PT15M", "PT30M", "PT45M", "PT1H", "PT2H", "PT3H", "PT4H", "PT5H", "PT6H",
                          "P1D", "P2D")
        condition, = rule.inputs["criteria"]["allOf"]
        # A query without a time column is judged one evaluation at a time.
        assert condition["failingPeriods"] == {"numberOfEvaluationPeriods": 1, "minFailingPeriodsToAlert": 1}
        for lookback in re.findall(r"ago\((\w+)\)", condition["query"]):
            assert minutes(lookback) <= iso_minutes(window) <= 2880


def test_no_query_or_threshold_is_written_in_exponent_notation(plan):
    exponent = re.compile(r"\d[eE][+-]?\d")
    texts = [json.dumps(m.inputs) for m in plan.of_type(MONITOR) + plan.of_type(SLO)]
    texts += [json.dumps(r.inputs["criteria"]) for r in plan.of_type(LOG_ALERT)]
    texts += [json.dumps(r.inputs["spec"]) for r in plan.of_type(PROMETHEUS_RULE)]
    assert not [t for t in texts if exponent.search(t)]
    token_usage = next(m.inputs for m in plan.of_type(MONITOR) if "alert:AIInferenceTokenUsageHigh" in m.inputs["tags"]
                       and "service:chat" in m.inputs["tags"])
    assert token_usage["query"].endswith("> 2000000") and token_usage["monitorThresholds"]["critical"] == "2000000"


# -- names as the emitter config makes each backend store them ------------------------------

def role_name_per_exporter(resource_attributes):
    """exporter/azuremonitorexporter/contracts_utils.go: cloud role = service.namespace + "." + service.name."""
    name = resource_attributes["service.name"]
    return f"{resource_attributes['service.namespace']}.{name}" if "service.namespace" in resource_attributes else name


@pytest.mark.parametrize("service", ["chat", "scorer"])
def test_azure_queries_select_the_role_name_and_operations_the_service_emits(plan, service):
    variables = env(deployment(plan, service))
    attributes = dict(pair.split("=", 1) for pair in variables["OTEL_RESOURCE_ATTRIBUTES"].split(","))
    attributes["service.name"] = variables["OTEL_SERVICE_NAME"]
    role = role_name_per_exporter(attributes)
    container, = deployment(plan, service)["spec"]["template"]["spec"]["containers"]
    # An HTTP request's name is "{method} {route}" (trace_to_envelope.go): the kubelet's GET probes.
    probes = {f'"GET {container[p]["httpGet"]["path"]}"' for p in ("livenessProbe", "readinessProbe", "startupProbe")}
    # The exporter reads the status code of the stable HTTP conventions only (>= 0.139).
    assert variables["OTEL_SEMCONV_STABILITY_OPT_IN"] == "http"
    rules = azure_rules(plan, service)
    assert rules
    for rule in rules.values():
        query = rule["criteria"]["allOf"][0]["query"]
        assert f'cloud_RoleName == "{role}"' in query
        assert set(found(r"name !in \(([^)]*)\)", query).group(1).split(", ")) == probes
        assert query.startswith("requests\n")


def check_instance(deployment_inputs):
    annotations = deployment_inputs["spec"]["template"]["metadata"]["annotations"]
    checks = json.loads(next(v for k, v in annotations.items() if k.startswith("ad.datadoghq.com/")))
    instance, = checks["openmetrics"]["instances"]
    return instance


def openmetrics_names(instance, histograms, gauges=frozenset()):
    """integrations-core openmetrics v2: <namespace>.<family>.count for counters (the family drops
    _total); a gauge as <namespace>.<family>; a histogram with histogram_buckets_as_distributions is one
    distribution <namespace>.<name>, with <name>.count and .sum beside it (collect_counters_with_distributions)."""
    names = {}
    for family in instance["metrics"]:
        if family in histograms:
            assert instance["histogram_buckets_as_distributions"] is True
            assert instance["collect_counters_with_distributions"] is True
            names[family] = f"{instance['namespace']}.{family}"
            names[f"{family}_count"] = f"{instance['namespace']}.{family}.count"
        elif family in gauges:
            names[family] = f"{instance['namespace']}.{family}"
        else:
            names[family] = f"{instance['namespace']}.{family}.count"
    return names


def histograms_and_gauges(contract):
    histograms = {h.metric for h in (contract.latency, contract.ttft, contract.tpot) if h}
    gauges = {g.metric for g in (contract.queue, contract.kv_cache, contract.quality, contract.drift,
                                 contract.hallucination_rate) if g}
    return histograms, gauges


@pytest.mark.parametrize("service", ["chat", "scorer"])
def test_datadog_queries_use_the_names_and_tags_the_agent_submits(plan, settings, service):
    contract = next(s for s in settings.services if s.name == service).metrics
    inputs = deployment(plan, service)
    instance = check_instance(inputs)
    names = openmetrics_names(instance, *histograms_and_gauges(contract))
    labels = inputs["spec"]["template"]["metadata"]["labels"]
    scope = f"env:{labels['tags.datadoghq.com/env']},service:{labels['tags.datadoghq.com/service']}"
    queries = [m["query"] for m in datadog_monitors(plan, service) if m["type"] != "composite"]
    slo = next(s.inputs for s in plan.of_type(SLO) if f"service:{service}" in s.inputs["tags"])
    queries += list(slo["query"].values())
    used = {n for q in queries for n in re.findall(rf"{instance['namespace']}\.[a-z_][a-z0-9_.]*", q)}
    health = f"{instance['namespace']}.openmetrics.health"
    # Everything the monitors and the SLO read is collected (the check collects the dashboards' histograms too).
    assert used <= set(names.values()) | {health}
    assert {names[contract.latency.metric], health} <= used
    for query in queries:
        if health in query:
            assert query.startswith(f'"{health}".over("{scope.replace(",", chr(34) + "," + chr(34))}")')
        else:
            assert all(set(scope.split(",")) <= set(s.split(",")) for s in re.findall(r"\{([^}]*)\}", query)), query


def test_percentiles_are_switched_on_for_each_latency_distribution_the_monitors_query(plan, settings):
    configured = {c.inputs["metricName"]: c.inputs for c in plan.of_type(TAG_CONFIGURATION)}
    for service in settings.services:
        distribution = openmetrics_names(check_instance(deployment(plan, service.name)),
                                         *histograms_and_gauges(service.metrics))[service.metrics.latency.metric]
        # Threshold queries (count(v: v>x)) read the distribution's percentile sketches: they need them on too.
        threshold_queries = [m["query"] for m in datadog_monitors(plan, service.name) if "count(v: " in m["query"]]
        assert threshold_queries and all(f":{distribution}{{" in q for q in threshold_queries)
        tag_configuration = configured[distribution]
        assert (tag_configuration["metricType"], tag_configuration["includePercentiles"]) == ("distribution", True)
        assert {"env", "service"} <= set(tag_configuration["tags"])  # the monitors' scope stays queryable


@pytest.mark.parametrize("service", ["chat", "scorer"])
def test_prometheus_rules_select_the_job_and_namespace_the_pod_monitor_gives_the_series(plan, settings, service):
    contract = next(s for s in settings.services if s.name == service).metrics
    inputs = deployment(plan, service)
    monitor = next(m.inputs for m in plan.of_type(POD_MONITOR) if m.inputs["metadata"]["name"] == service)
    # prometheus-operator promcfg.go: job is the value of the pod label named by jobLabel; namespace is the pod's.
    job = inputs["spec"]["template"]["metadata"]["labels"][monitor["spec"]["jobLabel"]]
    namespace, = monitor["spec"]["namespaceSelector"]["matchNames"]
    pod_labels = inputs["spec"]["template"]["metadata"]["labels"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    endpoint, = monitor["spec"]["podMetricsEndpoints"]
    container, = inputs["spec"]["template"]["spec"]["containers"]
    assert endpoint["port"] in {p["name"] for p in container["ports"]}
    selected = []
    for rule in rule_group(plan, service)["rules"]:
        promql_parser.walk(promql_parser.parse(rule["expr"]), lambda node: selected.append(node) if isinstance(
            node, promql_parser.VectorSelector) and not (node.name or "").startswith("slo:") else None)
    # The counters, the histogram's buckets (a Prometheus histogram's series is <name>_bucket), and up.
    assert {n.name for n in selected} == {contract.requests.metric, f"{contract.latency.metric}_bucket",
                                          f"{contract.latency.metric}_count",
                                          contract.input_tokens.metric, contract.cost.metric, "up",
                                          contract.queue.metric, contract.kv_cache.metric}
    for node in selected:
        matchers = {m.name: m.value for m in node.matchers.matchers if m.op == promql_parser.MatchOp.Equal}
        assert (matchers["job"], matchers["namespace"]) == (job, namespace), node.name


@pytest.mark.parametrize("service", ["chat", "scorer"])
def test_series_carry_the_version_label_make_verify_tells_a_canary_by(plan, settings, service):
    pod_labels = deployment(plan, service)["spec"]["template"]["metadata"]["labels"]
    monitor = next(m.inputs for m in plan.of_type(POD_MONITOR) if m.inputs["metadata"]["name"] == service)
    # podTargetLabels: each named pod label becomes a label of every scraped series (promcfg.go).
    assert verify.VERSION_LABEL in monitor["spec"]["podTargetLabels"]
    assert pod_labels[verify.VERSION_LABEL] == next(s for s in settings.services if s.name == service).version


def test_the_collector_is_scraped_on_its_own_metrics_and_prometheus_exporter_ports(plan):
    monitor = next(m.inputs for m in plan.of_type(POD_MONITOR) if m.inputs["metadata"]["name"] == "otel-collector")
    collector = plan.one(DEPLOYMENT, "otel-collector-deployment").inputs["spec"]["template"]
    ports = {p["name"]: p["containerPort"] for p in collector["spec"]["containers"][0]["ports"]}
    endpoints = {e["port"]: e for e in monitor["spec"]["podMetricsEndpoints"]}
    assert {name: ports[name] for name in endpoints} == {"metrics": 8888, "prometheus": 8889}
    # The exporter's series carry the job and instance of the service that sent them (prometheusexporter).
    assert endpoints["prometheus"]["honorLabels"] is True and "honorLabels" not in endpoints["metrics"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= collector["metadata"]["labels"].items()
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_the_datadog_connector_output_reaches_datadog_only(plan):
    config = read_yaml(plan.one(*COLLECTOR_CONFIG_MAP).inputs["data"]["config.yaml"])
    fed = [p for p in config["service"]["pipelines"].values() if "datadog/connector" in p["receivers"]]
    assert [p["exporters"] for p in fed] == [["datadog/exporter"]]


# -- Datadog's composites ---------------------------------------------------------------------

def test_a_composite_joins_its_parts_which_notify_nobody(plan):
    by_id = {m.id: m.inputs for m in plan.of_type(MONITOR)}
    composites = [m for m in by_id.values() if m["type"] == "composite"]
    assert {alert_tag(c) for c in composites} == {"AIInferenceErrorRateHigh", "AIInferenceLatencyP95High",
                                                  "AIInferenceLatencyP99High", "AIInferenceNoRequests"}
    for composite in composites:
        parts = [by_id[i] for i in found(r"^\d+( && \d+)+$", composite["query"]).group(0).split(" && ")]
        assert len(parts) == 2 and {alert_tag(p) for p in parts} == {alert_tag(composite)}
        assert all(p["type"] == "query alert" and "@" not in p["message"] for p in parts)
        assert "@" in composite["message"]


def test_the_metrics_endpoint_monitor_is_one_group_per_service_that_no_gone_pod_can_hold_ok(plan):
    """Datadog keeps a group's last status 24 to 48 hours after it stops reporting (monitors/configuration, "Group
    retention time"), and the OpenMetrics check tags its health check with `endpoint:<url>` unless
    `tag_by_endpoint` is false (integrations-core openmetrics/v2/scraper.py): per pod, as %%host%% is its IP."""
    instance = check_instance(deployment(plan, "chat"))
    assert instance["tag_by_endpoint"] is False
    monitor = next(m.inputs for m in plan.of_type(MONITOR)
                   if "alert:AIInferenceMetricsEndpointDown" in m.inputs["tags"] and "service:chat" in m.inputs["tags"])
    assert monitor["type"] == "service check"
    groups = re.fullmatch(r'"inference\.openmetrics\.health"\.over\((.*)\)\.by\((.*)\)\.last\((\d+)\)'
                          r"\.count_by_status\(\)", monitor["query"])
    assert groups, monitor["query"]
    over, by, runs = groups.groups()
    # The service's scope, grouped by nothing finer: env and service are the same for every pod of it.
    assert over == '"env:alerting","service:chat"' and by == '"env","service"'
    assert monitor["monitorThresholds"] == {"critical": runs, "ok": "1"} and int(runs) >= 2
    assert (monitor["notifyNoData"], monitor["noDataTimeframe"]) == (True, 5)  # every endpoint gone
    # No Data is a state of its own: its notification must reach the page route's handle too.
    for state in ("is_alert", "is_no_data", "is_recovery"):
        assert f"{{{{#{state}}}}}@pagerduty-fixture{{{{/{state}}}}}" in monitor["message"]


def test_a_new_xid_alerts_per_gpu():
    """The DCGM integration tags each GPU's series with `gpu` (integrations-core dcgm tests, test_label_remap:
    gpu:0, UUID, device) and the Agent with its host: a monitor by {gpu,host} judges each GPU alone, so a lower
    XID on another GPU alerts too."""
    plan = stack_plan("llm")  # Datadog on, GPU services
    xid = next(m.inputs for m in plan.of_type(MONITOR) if "alert:AIInferenceGPUXidError" in m.inputs["tags"])
    assert re.search(r"^change\(max\(last_5m\),last_5m\):max:dcgm\.xid_errors\{[^}]*\} by \{gpu,host\} > 0$",
                     xid["query"]), xid["query"]


def test_what_reads_a_distribution_is_created_after_its_percentiles_are_on(plan):
    """Percentile and threshold queries need a percentile-enabled distribution (metrics/distributions,
    service_level_objectives/metric): every SLO and monitor reading one depends on its tag configuration."""
    configurations = {c.inputs["metricName"]: c.urn for c in plan.of_type(TAG_CONFIGURATION)}
    readers = [r for r in plan.resources if r.type in (MONITOR, "datadog:index/serviceLevelObjective:"
                                                                  "ServiceLevelObjective")]
    checked = 0
    for reader in readers:
        text = json.dumps(reader.inputs.get("query"))
        for metric in re.findall(r"(?:count\(v: v[<>]=?[\d.]+\)|p\d+):([a-z_.]+)\{", text):
            assert configurations[metric] in reader.depends_on, (reader.name, metric)
            checked += 1
    assert checked


def test_a_stack_relying_on_another_stacks_percentiles_says_so_when_it_renders():
    plan = stack_plan("alerting")
    assert "another stack's" not in render.summary(plan)
    relying = mocks.run_program(config("alerting", {"datadog.manageLatencyPercentiles": False}))
    assert relying.of_type(TAG_CONFIGURATION) == []
    assert "deploy that stack first" in render.summary(relying)


@pytest.mark.parametrize("target, expected", [
    (0.999, (99.9, 99.95)),
    (0.99975, (99.975, 99.987)),  # halfway is 99.9875: four decimals, rounded down, still above the target
    (0.99999, (99.999, None)),  # halfway rounds down to the target itself: no warning
])
def test_slo_thresholds_keep_to_datadogs_three_decimals_and_the_warning_above_the_target(target, expected):
    """service_level_objectives: "up to three decimal places are allowed" for metric-based SLOs; the warning must
    be greater than the target (the provider's schema)."""
    assert dialect_datadog.slo_percent(Objective(target, 30)) == expected


def test_the_percentile_allowlist_keeps_only_tags_the_agent_attaches_by_default(plan):
    """containers/kubernetes/tag: pod_name is an orchestrator-cardinality tag, and checks are tagged at low
    cardinality by default (getting_started/tagging/assigning_tags: DD_CHECKS_TAG_CARDINALITY=low)."""
    low = {"kube_namespace", "kube_deployment", "kube_container_name", "kube_replica_set", "kube_service"}
    unified = {"env", "service", "version"}
    for configuration in plan.of_type(TAG_CONFIGURATION):
        labels = set(configuration.inputs["tags"]) - low - unified
        assert labels <= {"model", "outcome"}, labels  # the contracts' model labels, queryable as sent
        assert "pod_name" not in configuration.inputs["tags"]


# -- each service's own thresholds ---------------------------------------------------------

@pytest.mark.parametrize("service", ["chat", "scorer"])
def test_latency_alerts_use_each_services_objectives_and_traffic_guard_in_every_backend(plan, service):
    """The fixture's latency objectives, as the share of requests slower than each (5% for P95, 1% for P99),
    judged once 20 (P95) or 100 (P99) requests make that share mean something."""
    spec = next(s for s in json.loads(config("alerting").values["ai-observability:services"]) if s["name"] == service)
    for quantile, key in ((0.95, "p95Seconds"), (0.99, "p99Seconds")):
        seconds, share = spec["slo"]["latency"][key], round(1 - quantile, 2)
        name, guard = f"AIInferenceLatencyP{round(quantile * 100)}High", {0.95: 20, 0.99: 100}[quantile]
        prometheus = prometheus_alerts(plan, service)[name]["expr"]
        bucket = re.search(r'_bucket\{[^}]*le=~?"([^"]+)"\}', prometheus)  # le="2.5", or le=~"1\\.0|1"
        assert bucket and {float(le.replace("\\\\", "")) for le in bucket.group(1).split("|")} == {seconds}
        assert f") > {share}\n" in prometheus and prometheus.rstrip().endswith(f">= {guard}")
        datadog = [m["query"] for m in datadog_monitors(plan, service)
                   if alert_tag(m) == name and m["type"] != "composite"]
        assert sorted(q.rsplit(" ", 2)[1:] for q in datadog) == sorted([[">", str(share)], [">=", str(guard)]])
        assert any(f"count(v: v>{seconds:g})" in q for q in datadog)
        azure = azure_rules(plan, service)[name]["criteria"]["allOf"][0]["query"]
        assert f"duration > {seconds * 1000:g})" in azure  # App Insights' durations are milliseconds
        assert azure.endswith(f"| where over_p{round(quantile * 100)}_5m > {share} and requests_5m >= {guard}")



# -- the telemetry pipeline ----------------------------------------------------------------------

def test_the_pipeline_alerts_read_the_series_the_collectors_pod_monitor_scrapes(plan, settings):
    rule = next(r.inputs for r in plan.of_type(PROMETHEUS_RULE) if r.inputs["metadata"]["name"] == "otel-collector")
    monitor = next(m.inputs for m in plan.of_type(POD_MONITOR) if m.inputs["metadata"]["name"] == "otel-collector")
    pods = deployment(plan, "otel-collector")["spec"]["template"]["metadata"]["labels"]
    # The operator picks up rules by the stack's rule labels; job is the pod label jobLabel names (promcfg.go).
    assert rule["metadata"]["labels"].items() >= settings.prometheus.rule_labels.items()
    job, namespace = pods[monitor["spec"]["jobLabel"]], monitor["spec"]["namespaceSelector"]["matchNames"][0]
    group, = rule["spec"]["groups"]
    for alerting in group["rules"]:
        for node in selectors_of(alerting["expr"]):
            matchers = {m.name: m.value for m in node.matchers.matchers}
            assert (matchers["job"], matchers["namespace"]) == (job, namespace), alerting["alert"]
        # Every service here pages on critical alerts, so the pipeline's critical ones page too.
        severity = alerting["labels"]["severity"]
        assert alerting["labels"]["routing"] == {"critical": "page", "warning": "ticket"}[severity]


def test_the_pipeline_is_alerted_in_prometheus_and_excluded_elsewhere_with_the_reason(settings):
    from model.dialects import azure, datadog
    for alert in catalogue.pipeline_alerts(settings.services, settings.runbook_base_url):
        for unsupported in (datadog.UNSUPPORTED, azure.UNSUPPORTED):
            reason = catalogue.exclusion(alert, unsupported)
            assert reason and len(reason) > 40, alert.name


def selectors_of(expr):
    found = []
    promql_parser.walk(promql_parser.parse(expr), lambda node: found.append(node)
                       if isinstance(node, promql_parser.VectorSelector) else None)
    return found
