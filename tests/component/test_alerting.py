"""Alerting as code: Prometheus rules, Datadog SLOs and monitors, Azure burn-rate alerts."""

import re

import promql_parser
import pytest

from components import datadog_metrics
from components.prometheus_rules import rule_groups
from tests.helpers import container_port, load_settings, program_plan, stack_plan

PROMETHEUS_RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
POD_MONITOR = "kubernetes:monitoring.coreos.com/v1:PodMonitor"
SLO = "datadog:index/serviceLevelObjective:ServiceLevelObjective"
MONITOR = "datadog:index/monitor:Monitor"
LOG_ALERT = "azure-native:monitor:ScheduledQueryRule"


def rules(stack):
    return [rule for group in stack_plan(stack).one(PROMETHEUS_RULE).inputs["spec"]["groups"] for rule in group["rules"]]


def alerts(stack):
    return {rule["alert"]: rule for rule in rules(stack) if "alert" in rule}


def selectors(expr):
    names = []
    promql_parser.walk(promql_parser.parse(expr),
                       lambda node: names.append(node.name) if isinstance(node, promql_parser.VectorSelector) else None)
    return names


# -- Prometheus ----------------------------------------------------------------

@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_prometheus_rule_carries_the_operator_label_and_the_generated_groups(stack):
    plan = stack_plan(stack)
    resource = plan.one(PROMETHEUS_RULE).inputs
    assert resource["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert resource["metadata"]["namespace"] == "ai-inference"
    settings = load_settings(stack)
    assert resource["spec"]["groups"] == rule_groups(settings, settings.services[0])


def test_pod_monitor_scrapes_the_service_metrics_port_as_job_service_name():
    plan = stack_plan("prod")
    monitor = plan.one(POD_MONITOR).inputs
    deployment = plan.one("kubernetes:apps/v1:Deployment", "ai-inference-deployment").inputs["spec"]
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["spec"]["selector"]["matchLabels"] == deployment["selector"]["matchLabels"]
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["ai-inference"]}
    endpoint, = monitor["spec"]["podMetricsEndpoints"]
    container = deployment["template"]["spec"]["containers"][0]
    assert container_port(container, endpoint["port"]) == 8000 and endpoint["path"] == "/metrics"
    # jobLabel names the pod label whose value becomes `job`: the service's name, what the rules select.
    assert deployment["template"]["metadata"]["labels"][monitor["spec"]["jobLabel"]] == "ai-inference"
    assert all('job="ai-inference"' in rule["expr"] for rule in rules("prod")
               if "ai_inference" in rule["expr"] or rule["expr"].startswith("up"))


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_every_alert_has_severity_routing_summary_description_and_runbook(stack):
    expected = {"AIInferenceSLOBurnRatePage", "AIInferenceSLOBurnRateTicket", "AIInferenceErrorRateHigh",
                "AIInferenceLatencyP95High", "AIInferenceLatencyP99High", "AIInferenceMetricsEndpointDown",
                "AIInferenceNoRequests", "AIInferenceCostBudgetExceeded"}
    found = alerts(stack)
    assert set(found) == expected
    routing = load_settings(stack).services[0].slo.routing
    for name, rule in found.items():
        labels, annotations = rule["labels"], rule["annotations"]
        assert labels["severity"] in ("critical", "warning")
        assert labels["routing"] == routing[labels["severity"]]
        assert labels["service"] == "ai-inference" and labels["team"] == "ml-platform"
        assert annotations["summary"] and annotations["description"]
        assert annotations["runbook_url"] == f"https://runbooks.example.com/ai-inference/{name}"
        assert re.fullmatch(r"\d+m", rule["for"])


def test_staging_routes_nothing_to_a_page_and_prod_pages_the_critical_ones():
    assert {rule["labels"]["routing"] for rule in alerts("staging").values()} == {"ticket"}
    prod = alerts("prod")
    assert {name for name, rule in prod.items() if rule["labels"]["routing"] == "page"} == {
        "AIInferenceSLOBurnRatePage", "AIInferenceLatencyP99High", "AIInferenceMetricsEndpointDown"}


def test_burn_rate_alerts_use_the_recorded_ratios_of_their_windows():
    recorded = {rule["record"] for rule in rules("prod") if "record" in rule}
    page, ticket = alerts("prod")["AIInferenceSLOBurnRatePage"], alerts("prod")["AIInferenceSLOBurnRateTicket"]
    assert set(selectors(page["expr"])) == {"slo:sli_error:ratio_rate1h", "slo:sli_error:ratio_rate5m",
                                            "slo:sli_error:ratio_rate6h", "slo:sli_error:ratio_rate30m"}
    assert set(selectors(ticket["expr"])) == {"slo:sli_error:ratio_rate3d", "slo:sli_error:ratio_rate6h"}
    for rule in alerts("prod").values():
        assert {n for n in selectors(rule["expr"]) if n.startswith("slo:")} <= recorded
    assert "> (14.4 * 0.01)" in page["expr"] and "> (6 * 0.01)" in page["expr"] and "> (1 * 0.01)" in ticket["expr"]
    # Recordings come first in the group, so the alerts read this evaluation's ratios.
    kinds = ["record" if "record" in rule else "alert" for rule in rules("prod")]
    assert kinds == sorted(kinds, key=lambda kind: kind == "alert")


def test_signal_alerts_carry_the_configured_thresholds():
    found = alerts("prod")
    assert found["AIInferenceErrorRateHigh"]["expr"].endswith("> 0.05")
    assert found["AIInferenceLatencyP95High"]["expr"].startswith("histogram_quantile(0.95,")
    assert found["AIInferenceLatencyP95High"]["expr"].endswith("> 1")
    assert found["AIInferenceLatencyP99High"]["expr"].endswith("> 5")
    assert found["AIInferenceCostBudgetExceeded"]["expr"].endswith("> 100")
    assert alerts("staging")["AIInferenceCostBudgetExceeded"]["expr"].endswith("> 20")
    assert [found[a]["for"] for a in ("AIInferenceErrorRateHigh", "AIInferenceLatencyP95High",
                                      "AIInferenceLatencyP99High", "AIInferenceNoRequests")] == ["2m", "5m", "3m", "5m"]


# -- the metric contract -----------------------------------------------------------

def used_metrics(plan):
    """Every metric name any rule, monitor or SLO query uses, and the Datadog check collects."""
    prometheus = {n for group in plan.one(PROMETHEUS_RULE).inputs["spec"]["groups"]
                  for rule in group["rules"] for n in selectors(rule["expr"])}
    queries = [r.inputs["query"] for r in plan.of_type(MONITOR)]
    queries += [q for r in plan.of_type(SLO) for q in r.inputs["query"].values()]
    datadog = {m for q in queries for m in re.findall(rf"{datadog_metrics.NAMESPACE}\.[a-z_][a-z0-9_.]*", q)}
    return prometheus, datadog


@pytest.mark.parametrize("renamed", [False, True], ids=["default-contract", "renamed-contract"])
def test_every_metric_any_rule_monitor_or_query_uses_is_in_the_contract(renamed):
    overrides = None
    if renamed:
        overrides = {"services": [{"name": "ai-inference", "image": "registry.example.com/ml/ai-inference:1.4.2",
                                   "model": {"name": "m", "version": "1"}, "slo": {"routing": {"critical": "page"}},
                                   "metrics": {"requests": "llm_requests_total", "latency": "llm_request_seconds",
                                               "tokens": "llm_tokens_total", "cost": "llm_cost_usd_total",
                                               "statusLabel": "outcome", "errorStatus": "failure"}}]}
    plan = program_plan("prod", overrides) if renamed else stack_plan("prod")
    contract = load_settings("prod", overrides).services[0].metrics
    prometheus, datadog = used_metrics(plan)
    recorded = {rule["record"] for group in plan.one(PROMETHEUS_RULE).inputs["spec"]["groups"]
                for rule in group["rules"] if "record" in rule}
    assert prometheus - recorded - {"up"} <= set(contract.series())
    assert {contract.requests, f"{contract.latency}_bucket", contract.cost} <= prometheus
    assert datadog == {datadog_metrics.count(contract.requests), datadog_metrics.count(contract.tokens),
                       datadog_metrics.count(contract.cost), datadog_metrics.distribution(contract.latency)}
    check = plan.one("kubernetes:apps/v1:Deployment", "ai-inference-deployment").inputs
    annotation = check["spec"]["template"]["metadata"]["annotations"]["ad.datadoghq.com/inference.checks"]
    assert all(f'"{family}"' in annotation for family in datadog_metrics.check_metrics(contract))
    if renamed:
        text = str([r.inputs for r in plan.resources])
        assert "ai_inference_requests" not in text and 'outcome="failure"' in text and "!outcome:failure" in text


# -- Datadog -------------------------------------------------------------------

def test_datadog_slo_is_metric_based_30_days_with_a_7_day_view_and_a_warning_above_target():
    objective = stack_plan("prod").one(SLO).inputs
    assert (objective["type"], objective["timeframe"], objective["targetThreshold"], objective["warningThreshold"]) == \
        ("metric", "30d", 99, 99.5)
    assert objective["thresholds"] == [{"timeframe": "30d", "target": 99, "warning": 99.5},
                                       {"timeframe": "7d", "target": 99, "warning": 99.5}]
    assert set(objective["tags"]) == {"env:prod", "service:ai-inference", "team:ml-platform", "managed-by:pulumi"}


def test_burn_rate_monitors_reference_their_slo_with_datadog_recommended_pairs():
    plan = stack_plan("prod")
    slo_id = plan.one(SLO).id
    burn = sorted((m.inputs for m in plan.of_type(MONITOR) if m.inputs["type"] == "slo alert"),
                  key=lambda m: float(m["monitorThresholds"]["critical"]), reverse=True)
    assert [m["query"] for m in burn] == [
        f'burn_rate("{slo_id}").over("30d").long_window("1h").short_window("5m") > 14.4',
        f'burn_rate("{slo_id}").over("30d").long_window("6h").short_window("30m") > 6',
        f'burn_rate("{slo_id}").over("30d").long_window("1d").short_window("2h") > 3']
    assert [m["monitorThresholds"]["critical"] for m in burn] == ["14.4", "6", "3"]
    assert [m["tags"][-1] for m in burn] == ["routing:page", "routing:page", "routing:ticket"]
    assert "{{#is_alert}}@pagerduty-ai-inference{{/is_alert}}" in burn[0]["message"]
    assert "{{#is_alert}}@slack-ai-inference-alerts{{/is_alert}}" in burn[2]["message"]
    assert all(m["notifyNoData"] is False for m in burn)
    assert "https://runbooks.example.com/ai-inference/AIInferenceSLOBurnRatePage" in burn[0]["message"]


def signal_monitors(stack):
    return {m.name.removeprefix("ai-inference-datadog-"): m.inputs for m in stack_plan(stack).of_type(MONITOR)
            if m.inputs["type"] == "query alert"}


def test_signal_monitors_have_thresholds_recovery_and_settings_that_suit_each_signal():
    monitors = signal_monitors("prod")
    assert set(monitors) == {"error-rate", "latency-p95", "latency-p99", "no-traffic", "token-usage", "cost"}
    error = monitors["error-rate"]
    assert error["query"] == ("sum(last_5m):sum:inference.ai_inference_requests.count{env:prod,service:ai-inference,"
                              "status:error}.as_count() / sum:inference.ai_inference_requests.count{env:prod,"
                              "service:ai-inference}.as_count() > 0.05")
    assert error["monitorThresholds"] == {"critical": "0.05", "criticalRecovery": "0.04", "warning": "0.025",
                                          "warningRecovery": "0.02"}
    assert monitors["latency-p95"]["query"] == \
        "percentile(last_5m):p95:inference.ai_inference_latency_seconds.bucket{env:prod,service:ai-inference} > 1"
    assert monitors["latency-p99"]["query"].endswith("> 5")
    assert monitors["cost"]["query"].endswith("> 100")
    assert monitors["token-usage"]["query"].endswith("> 5e+06")
    # No traffic is the one signal whose missing data is the alert.
    traffic = monitors["no-traffic"]
    assert traffic["query"].endswith("< 1") and traffic["notifyNoData"] is True and traffic["noDataTimeframe"] == 20
    assert traffic["monitorThresholds"] == {"critical": "1", "criticalRecovery": "5"}
    assert all(not m["notifyNoData"] for key, m in monitors.items() if key != "no-traffic")
    assert all(m["evaluationDelay"] == 60 and m["requireFullWindow"] is False for m in monitors.values())
    assert {key: m["renotifyInterval"] for key, m in monitors.items()} == {
        "error-rate": 30, "latency-p95": 60, "latency-p99": 30, "no-traffic": 30, "token-usage": 120, "cost": 120}


def test_monitor_messages_page_in_prod_and_chat_for_warnings_and_in_staging():
    prod, staging = signal_monitors("prod")["latency-p95"], signal_monitors("staging")["latency-p95"]
    assert "{{#is_alert}}@pagerduty-ai-inference{{/is_alert}}" in prod["message"]
    assert "{{#is_warning}}@slack-ai-inference-alerts{{/is_warning}}" in prod["message"]
    assert "Runbook: https://runbooks.example.com/ai-inference/AIInferenceLatencyP95High" in prod["message"]
    assert "@pagerduty" not in staging["message"]
    assert "{{#is_alert}}@slack-ai-inference-staging{{/is_alert}}" in staging["message"]


def test_datadog_uses_the_explicit_provider_with_secret_keys():
    plan = stack_plan("prod")
    provider = plan.one("pulumi:providers:datadog")
    assert provider.inputs["apiUrl"] == "https://api.datadoghq.eu/"
    assert provider.inputs["apiKey"] == provider.inputs["appKey"] == "[secret]"
    assert {r.provider for r in plan.resources if r.type.startswith("datadog:")} == {provider.urn}
    assert plan.outputs["datadogSloIds"] == {"ai-inference": plan.one(SLO).id}


def test_turning_datadog_off_removes_it_cleanly():
    plan = program_plan("staging", {"datadog.enabled": False, "collector": {"exporters": ["azuremonitor", "prometheus"]}})
    assert not [r for r in plan.resources if "datadog" in r.type]
    assert "datadogSloIds" not in plan.outputs
    assert plan.of_type(PROMETHEUS_RULE) and plan.of_type(LOG_ALERT)


# -- Azure -----------------------------------------------------------------------

@pytest.mark.parametrize("stack, severities", [("prod", [1, 1, 3]), ("staging", [3, 3, 3])])
def test_azure_kql_burn_rate_alerts_watch_app_insights_for_the_same_windows(stack, severities):
    plan = stack_plan(stack)
    component = plan.one("azure-native:applicationinsights:Component").id
    group = plan.one("azure-native:monitor:ActionGroup").id
    burn = sorted((r.inputs for r in plan.of_type(LOG_ALERT) if "burn-rate" in r.name),
                  key=lambda a: {"PT1H": 0, "PT6H": 1, "P2D": 2}[a["windowSize"]])
    assert [a["windowSize"] for a in burn] == ["PT1H", "PT6H", "P2D"]
    assert [a["evaluationFrequency"] for a in burn] == ["PT5M", "PT5M", "PT1H"]
    assert [a["severity"] for a in burn] == severities
    for alert, threshold in zip(burn, ("0.144", "0.06", "0.01")):
        assert alert["scopes"] == [component]
        assert alert["actions"] == {"actionGroups": [group]}
        condition, = alert["criteria"]["allOf"]
        assert (condition["timeAggregation"], condition["operator"], condition["threshold"]) == ("Count", "GreaterThan", 0)
        assert f"long_window > {threshold} and short_window > {threshold}" in condition["query"]
        assert 'cloud_RoleName == "ai-inference"' in condition["query"]
