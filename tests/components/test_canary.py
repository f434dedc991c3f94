"""Canary releases on the fixture stacks: the Rollout that replaces a service's Deployment, the wiring
between it, its AnalysisTemplate, autoscaler, disruption budget and Services, and the analysis as Argo
judges it (tests/crds.py checks both against Argo Rollouts' CRDs for every stack).

`e2e`: `steady` with the default steps and `canary` with its own, Prometheus at prometheus.url.
`alerting`: `scorer` behind an NGINX Ingress, judged by Datadog (the stack has no Prometheus URL).
"""

from __future__ import annotations

import json
import math
import re

import promql_parser
import pytest

from config import generate
from tests.helpers import FIXTURES, load_settings, problem_for, problems, read_yaml, replicated, stack_plan, workload

ROLLOUT, TEMPLATE = "kubernetes:argoproj.io/v1alpha1:Rollout", "kubernetes:argoproj.io/v1alpha1:AnalysisTemplate"
SERVICE = "kubernetes:core/v1:Service"
# slo.errorRate's default, as the generated editor schema and docs/configuration.md publish it.
DEFAULT_ERROR_RATE = json.loads(generate.SCHEMA_FILE.read_text())["$defs"]["Slo"]["properties"]["errorRate"]["default"]
CONDITION = re.compile(r"(?:result\[0\]|!isNil\(result\) && default\(result, 0\)) (<=|>) (-?[\d.]+)")


def stack_config(stack: str) -> dict:
    """The fixture stack file's config, as written."""
    return read_yaml((FIXTURES / f"Pulumi.{stack}.yaml").read_text())["config"]


def argo_verdict(metric: dict, value: float | None) -> str:
    """One measurement as Argo judges it (utils/evaluate): failure wins, success, else Inconclusive."""
    def holds(condition: str) -> bool:
        found = CONDITION.fullmatch(condition)
        assert found, condition
        operator, limit = found.groups()
        if value is None or math.isnan(value):
            return False  # NaN compares false; Datadog's nil is guarded by !isNil
        return value <= float(limit) if operator == "<=" else value > float(limit)
    if holds(metric["failureCondition"]):
        return "Failed"
    return "Successful" if holds(metric["successCondition"]) else "Inconclusive"


def vector_selectors(query: str) -> list:
    found: list = []
    promql_parser.walk(promql_parser.parse(query), lambda node: found.append(node) if isinstance(
        node, promql_parser.VectorSelector) else None)
    return found


def template(plan, service: str) -> dict:
    found, = [r.inputs for r in plan.of_type(TEMPLATE) if r.inputs["metadata"]["name"] == service]
    return found


def test_a_service_released_as_canaries_runs_as_a_rollout_its_autoscaler_and_budget_follow():
    plan = stack_plan("e2e")
    for service in load_settings("e2e").services:
        rollout = [r for r in plan.of_type(ROLLOUT) if r.inputs["metadata"]["name"] == service.name]
        deployment = [r for r in replicated(plan) if r.type.endswith(":Deployment")
                      and r.inputs["metadata"]["name"] == service.name]
        assert (len(rollout), len(deployment)) == ((1, 0) if service.rollout.enabled else (0, 1)), service.name
        if not service.rollout.enabled:
            continue
        spec = rollout[0].inputs["spec"]
        pods = spec["template"]["metadata"]["labels"]
        assert "replicas" not in spec  # the HPA owns the count, as for a Deployment
        hpa, = [r.inputs["spec"] for r in plan.of_type("kubernetes:autoscaling/v2:HorizontalPodAutoscaler")
                if r.inputs["metadata"]["name"] == service.name]
        assert hpa["scaleTargetRef"] == {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
                                         "name": rollout[0].inputs["metadata"]["name"]}
        budget, = [r.inputs["spec"] for r in plan.of_type("kubernetes:policy/v1:PodDisruptionBudget")
                   if r.inputs["metadata"]["name"] == service.name]
        assert budget["selector"]["matchLabels"].items() <= pods.items()
        assert spec["selector"]["matchLabels"].items() <= pods.items()
        # Each version's pods spread on their own: Argo's hash label, not a Deployment's.
        assert {tuple(c["matchLabelKeys"]) for c in spec["template"]["spec"]["topologySpreadConstraints"]} == \
            {("rollouts-pod-template-hash",)}


def test_the_rollout_runs_the_stacks_steps_and_hands_its_version_to_the_analysis():
    plan = stack_plan("e2e")
    for service in (s for s in load_settings("e2e").services if s.rollout.enabled):
        strategy = workload(plan, service.name)["spec"]["strategy"]["canary"]
        raw, = [s for s in stack_config("e2e")["ai-observability:services"] if s["name"] == service.name]
        steps = raw["rollout"].get("steps", [{"weight": 10, "pause": "5m"}, {"weight": 25, "pause": "5m"},
                                             {"weight": 50, "pause": "10m"}])  # the documented default
        assert strategy["steps"] == [step for s in steps for step in ({"setWeight": s["weight"]},
                                                                      {"pause": {"duration": s["pause"]}})]
        analysis = strategy["analysis"]
        # In the background from the first pause: setWeight waits for the first canary pods to be ready.
        assert analysis["startingStep"] == 1 and strategy["steps"][1] == {"pause": {"duration": steps[0]["pause"]}}
        assert analysis["templates"] == [{"templateName": template(plan, service.name)["metadata"]["name"]}]
        # The canary is the version its pods are labelled with, the label make verify --canary selects.
        version = workload(plan, service.name)["spec"]["template"]["metadata"]["labels"]["version"]
        assert analysis["args"] == [{"name": "canary-version", "value": version}]
        assert template(plan, service.name)["spec"]["args"] == [{"name": "canary-version"}]
        assert "trafficRouting" not in strategy  # no Ingress named: the replica ratio splits the traffic


def test_every_metric_measures_until_the_rollout_ends_each_over_a_whole_window():
    plan = stack_plan("e2e")
    for service in (s for s in load_settings("e2e").services if s.rollout.enabled):
        for metric in template(plan, service.name)["spec"]["metrics"]:
            # No count: Argo stops a background analysis when the rollout ends, so every step is judged.
            assert "count" not in metric
            assert metric["interval"] == service.rollout.analysis_interval
            assert metric["initialDelay"] == service.rollout.analysis_window  # a whole window of the canary first
            assert metric["failureLimit"] == metric["inconclusiveLimit"] == service.rollout.failure_limit


def test_the_prometheus_queries_parse_once_argo_fills_in_the_version_and_select_it():
    plan = stack_plan("e2e")
    for service in (s for s in load_settings("e2e").services if s.rollout.enabled):
        for metric in template(plan, service.name)["spec"]["metrics"]:
            prometheus = metric["provider"]["prometheus"]
            assert prometheus["address"] == stack_config("e2e")["ai-observability:prometheus.url"]
            query = prometheus["query"].replace("{{args.canary-version}}", "0.2.0")
            versions = {str(m) for s in vector_selectors(query) for m in s.matchers.matchers if m.name == "version"}
            compared = metric["name"].endswith("-vs-stable")
            assert versions == ({'version="0.2.0"', 'version!="0.2.0"'} if compared else {'version="0.2.0"'})


@pytest.mark.parametrize("value, verdict", [(0.0, "Successful"), (0.05, "Successful"), (0.051, "Failed"),
                                            (float("nan"), "Inconclusive")])
def test_too_little_traffic_is_inconclusive_not_a_pass_or_a_failure(value, verdict):
    """The queries answer NaN below the gate's minimum requests: neither condition holds."""
    metric, = [m for m in template(stack_plan("e2e"), "steady")["spec"]["metrics"] if m["name"] == "error-ratio"]
    assert metric["successCondition"] == f"result[0] <= {DEFAULT_ERROR_RATE}"  # steady sets no slo.errorRate
    assert argo_verdict(metric, value) == verdict
    assert "or on() vector(NaN)" in metric["provider"]["prometheus"]["query"]


def test_a_datadog_stack_judges_its_canary_by_the_version_tag_behind_its_ingress():
    plan = stack_plan("alerting")
    spec = template(plan, "scorer")["spec"]
    assert [m["name"] for m in spec["metrics"]] == ["error-ratio", "error-ratio-vs-stable"]
    for metric in spec["metrics"]:
        datadog = metric["provider"]["datadog"]
        assert (datadog["apiVersion"], datadog["aggregator"], datadog["interval"]) == ("v2", "sum", "5m")
        for name, query in datadog["queries"].items():
            scope = "version:{{args.canary-version}}" if name.startswith("canary") else \
                "!version:{{args.canary-version}}"
            assert scope in query and "env:alerting" in query and "service:scorer" in query, query
            assert set(re.findall(r"\b[a-z_]+\b", datadog["formula"])) <= set(datadog["queries"])
        assert argo_verdict(metric, None) == "Inconclusive"  # no data: nil, as NaN from Prometheus
    assert spec["metrics"][0]["successCondition"] == f"!isNil(result) && default(result, 0) <= {DEFAULT_ERROR_RATE}"
    # A failure counter exists only after the first failure: no errors yet is 0, not no data.
    assert spec["metrics"][0]["provider"]["datadog"]["queries"]["canary_errors"].startswith("default_zero(sum:")

    strategy = workload(plan, "scorer")["spec"]["strategy"]["canary"]
    services = {r.inputs["metadata"]["name"]: r.inputs["spec"] for r in plan.of_type(SERVICE)}
    assert strategy["trafficRouting"] == {"nginx": {"stableIngress": "scorer-public"}}
    assert strategy["stableService"] == "scorer" and strategy["canaryService"] == "scorer-canary"
    # Argo narrows each Service to its version's pods: both start as the service's own, and are left to it.
    assert services["scorer-canary"] == services["scorer"]
    routed = {r.inputs["metadata"]["name"]: r for r in plan.of_type(SERVICE) if r.name.startswith("scorer")}
    for service in routed.values():
        assert "version" not in service.inputs["metadata"]["labels"]  # a release does not apply it again
    assert spec["metrics"][0]["failureLimit"] == 0


def test_rollout_settings_that_cannot_work_are_refused_with_their_key():
    service = stack_config("minimal")["ai-observability:services"][0]
    found = problems("minimal", {"services": [{**service, "rollout": {
        "enabled": True, "steps": [{"weight": 50, "pause": "5m"}, {"weight": 20, "pause": "5m"}],
        "analysisInterval": "5m", "analysisWindow": "1m"}}]})
    assert "must be above the step before it (50)" in problem_for("services[0].rollout.steps[1].weight", found)
    assert "must cover at least the interval (5m)" in problem_for("services[0].rollout.analysisWindow", found)
    assert "roll(s) out as canaries" in problem_for("prometheus.url", found)
    found = problems("minimal", {"services": [{**service, "rollout": {"enabled": True, "steps": [
        {"weight": 10, "pause": "five minutes"}]}}]})
    assert "like 30s, 5m or 1h" in problem_for("services[0].rollout.steps[0].pause", found)
