"""Every Pulumi.<stack>.yaml of the project, whatever values its users give it, and every fixture stack
(tests/fixtures/stacks/), which a user may copy to the root as an example.

Each stack renders (valid manifests, rules promtool accepts, no secret in the output), keeps the
program's promises (explicit providers, secrets secret, production guarded, every service alerted
in every backend that can, every route reaching someone) and its own numbers hold in promtool: a
total outage pages within its detection time, errors at half its budget never alert. Adding a
stack file adds a stack here; nothing asserts the values a user is expected to edit.
"""

import json
import math
import os
import re
from pathlib import Path

import pytest

from config import generate
from model import catalogue
from model.contract import Matcher, Series
from model.dialects import azure as azure_dialect
from policy import rules
from tests import collector_contract, crds, promtool
from tests.helpers import (
    COLLECTOR_CONFIG_MAP,
    PUBLISHED_BURN_RATES,
    STACK_FILES,
    StackFile,
    counter,
    read_yaml,
    replicated,
    workload,
)
from tests.helpers import load_settings as settings_from
from tests.helpers import stack_plan as plan_from
from tools import policy_check, render, stack_config, verify

CHECKED = "stack file checked"  # a property of the render test's report, for the summary line (tests/conftest.py)
STATEFUL = {"azure-native:resources:ResourceGroup", "azure-native:operationalinsights:Workspace",
            "azure-native:applicationinsights:Component"}

pytestmark = pytest.mark.parametrize("stack", STACK_FILES, ids=str)


def stack_plan(stack: StackFile):
    return plan_from(stack.name, stack.directory)


def load_settings(stack: StackFile):
    return settings_from(stack.name, config_dir=stack.directory)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """Each stack's plan written and checked once, as `make render` does it after planning (tests/tools/test_render
    runs the command itself)."""
    out = tmp_path_factory.mktemp("build")
    done: dict[StackFile, int] = {}

    def render_stack(stack: StackFile):
        where = out / stack.directory.name / stack.name
        if stack not in done:
            done[stack] = render.write(stack_plan(stack), stack_config.load(stack.name, config_dir=stack.directory),
                                       where)
        return done[stack], where
    return render_stack


@pytest.mark.slow  # kubernetes-validate and promtool over everything the render writes
def test_the_stack_renders_valid_manifests_and_rules_without_a_secret(stack, rendered, record_property):
    # The render fails (exit 1) on a manifest kubernetes-validate --strict rejects, a rule file
    # promtool rejects, or a revealed secret in anything it wrote.
    code, directory = rendered(stack)
    assert code == 0
    assert (directory / "plan.json").exists() and (directory / "prometheus-rules.yaml").exists()
    record_property(CHECKED, str(stack))


@pytest.mark.slow  # the CRDs' schemas over every custom resource the render writes
def test_every_custom_resource_passes_its_crd_without_a_field_the_api_server_would_drop(stack, rendered):
    code, directory = rendered(stack)
    custom = [m for m in map(read_yaml, map(Path.read_text, sorted((directory / "manifests").glob("*.yaml"))))
              if render.is_operator_resource(m)]
    assert custom, "every stack has PrometheusRules and PodMonitors"
    for manifest in custom:
        assert crds.problems(manifest) == [], (manifest["kind"], manifest["metadata"]["name"])


def test_each_canary_is_judged_on_the_stack_files_own_numbers(stack):
    """Per service the stack releases as canaries: a Rollout and an AnalysisTemplate whose limits are the numbers
    the stack file writes (or, where it writes none, the generated schema's defaults) and make verify's
    tolerances; for every other service, a Deployment and no analysis."""
    written = read_yaml((stack.directory / f"Pulumi.{stack.name}.yaml").read_text())["config"]
    defaults = json.loads(generate.SCHEMA_FILE.read_text())["$defs"]
    tolerance = verify.arguments([stack.name, "--prometheus", "http://unused"]).tolerance

    def value(section: dict, model: str, key: str):
        return section.get(key, defaults[model]["properties"][key].get("default"))

    plan = stack_plan(stack)
    kinds = {r.inputs["metadata"]["name"]: r.type.rsplit(":", 1)[-1] for r in replicated(plan)}
    templates = {r.inputs["metadata"]["name"]: r.inputs["spec"] for r in plan.of_type(
        "kubernetes:argoproj.io/v1alpha1:AnalysisTemplate")}
    for service in written["ai-observability:services"]:
        rollout, slo = service.get("rollout", {}), service.get("slo", {})
        if not value(rollout, "Rollout", "enabled"):
            assert (kinds[service["name"]], service["name"] in templates) == ("Deployment", False)
            continue
        assert kinds[service["name"]] == "Rollout"
        latency = slo.get("latency", {})
        limits = {"error-ratio": value(slo, "Slo", "errorRate"), "error-ratio-vs-stable": tolerance.error_ratio,
                  "p95-seconds": value(latency, "Latency", "p95Seconds"),
                  "p99-seconds": value(latency, "Latency", "p99Seconds"),
                  "p95-seconds-vs-stable": 0, "p99-seconds-vs-stable": 0}
        for metric in templates[service["name"]]["metrics"]:
            found = re.search(r"<= (-?[\d.]+)$", metric["successCondition"])
            assert found, metric["successCondition"]
            limit = float(found.group(1))
            assert limit == limits[metric["name"]], (service["name"], metric["name"])
            assert metric["failureCondition"] == metric["successCondition"].replace("<=", ">")
            assert (metric["interval"], metric["initialDelay"], metric["failureLimit"]) == (
                value(rollout, "Rollout", "analysisInterval"), value(rollout, "Rollout", "analysisWindow"),
                value(rollout, "Rollout", "failureLimit"))
            provider = metric["provider"]
            if "ai-observability:prometheus.url" in written:
                assert provider["prometheus"]["address"] == written["ai-observability:prometheus.url"]
            else:
                assert provider["datadog"]["interval"] == value(rollout, "Rollout", "analysisWindow")


def test_no_trace_or_log_reaches_an_exporter_or_connector_before_the_redaction(stack):
    """Unless the stack file turns it off (collector.redaction.enabled: false, its one switch), every traces and
    logs pipeline runs the redaction, which deletes the GenAI content keys by name, before any exporter."""
    written = read_yaml((stack.directory / f"Pulumi.{stack.name}.yaml").read_text())["config"]
    enabled = written.get("ai-observability:collector", {}).get("redaction", {}).get("enabled", True)
    config = read_yaml(stack_plan(stack).one(*COLLECTOR_CONFIG_MAP).inputs["data"]["config.yaml"])
    carrying = {name: p for name, p in config["service"]["pipelines"].items() if name.split("/")[0] in
                ("traces", "logs") and "otlp" in p["receivers"]}
    for name, pipeline in carrying.items():
        assert ("transform/redaction" in pipeline["processors"]) is enabled, name
    if not enabled or not carrying:  # off, or nothing to redact: a stack exporting metrics alone
        return
    spans, = [c["statements"] for c in config["processors"]["transform/redaction"]["trace_statements"]
              if c["context"] == "span"]
    content = written.get("ai-observability:collector", {}).get("redaction", {}).get("genaiContent", "drop")
    for key in ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions"):
        if content == "drop":  # each content attribute named
            assert f'delete_key(span.attributes, "{key}")' in spans, key
        elif content == "truncate":
            assert any(line.startswith(f'set(span.attributes["{key}"], Substring(') for line in spans), key


def test_each_collector_tiers_config_is_one_the_pinned_collector_accepts(stack):
    """The keys, pipelines and OTTL of every collector ConfigMap the stack renders (a sampling tier's too), against
    the collector's own code at the pinned version (tests/fixtures/collector/)."""
    configs = [read_yaml(r.inputs["data"]["config.yaml"]) for r in stack_plan(stack).of_type(
        "kubernetes:core/v1:ConfigMap") if r.name.startswith("otel-collector")]
    assert configs
    for config in configs:
        assert collector_contract.key_problems(config) == []
        assert collector_contract.signal_problems(config) == []
        assert collector_contract.ottl_problems(config) == []


def test_resources_run_under_the_project_and_the_stacks_explicit_providers(stack):
    plan, settings = stack_plan(stack), load_settings(stack)
    assert (plan.project, plan.stack) == ("ai-observability", stack.name)
    assert all(r.urn.startswith(f"urn:pulumi:{stack.name}::ai-observability::") for r in plan.resources)
    azure = plan.one("pulumi:providers:azure-native")
    assert (azure.inputs["subscriptionId"], azure.inputs["location"]) == (settings.azure.subscription_id,
                                                                          settings.azure.location)
    kubernetes = plan.one("pulumi:providers:kubernetes")
    assert kubernetes.inputs["namespace"] == settings.kubernetes.namespace
    assert kubernetes.inputs.get("context") == settings.kubernetes.context
    for package, provider in (("azure-native:", azure), ("kubernetes:", kubernetes)):
        assert {r.provider for r in plan.resources if r.type.startswith(package)} == {provider.urn}
    datadog = [r for r in plan.resources if r.type.startswith("datadog:")]
    if settings.datadog.enabled:
        assert {r.provider for r in datadog} == {plan.one("pulumi:providers:datadog").urn}
    else:
        assert datadog == [] and "datadogSloIds" not in plan.outputs


def test_inputs_reach_the_engine_in_camel_case(stack):
    """A dict the SDK could not type (a union) would reach the provider with snake_case keys. Tags, labels and
    annotations are the user's own words (a Prometheus rule's runbook_url), not the API's."""
    def keys(value, path):
        if isinstance(value, dict):
            for key, item in value.items():
                if key not in ("tags", "labels", "annotations"):
                    yield from keys(item, f"{path}.{key}")
                yield f"{path}.{key}", key
        elif isinstance(value, list):
            for index, item in enumerate(value):
                yield from keys(item, f"{path}[{index}]")
    for resource in stack_plan(stack).resources:
        if resource.type.startswith(("azure-native:", "datadog:")):
            assert [path for path, key in keys(resource.inputs, resource.name) if "_" in key] == []


def test_secrets_stay_secret_and_the_connection_string_reaches_the_workloads_secret(stack):
    plan = stack_plan(stack)
    assert plan.outputs["appInsightsConnectionString"] == plan.outputs["appInsightsInstrumentationKey"] == "[secret]"
    secret = plan.one("kubernetes:core/v1:Secret", "workloads-telemetry-credentials")
    assert set(secret.inputs["stringData"].values()) == {"[secret]"}
    assert secret.raw_inputs["stringData"]["appinsights-connection-string"] == \
        plan.raw_outputs["appInsightsConnectionString"]


def test_production_protects_its_state_and_runs_pinned_images_only(stack):
    plan, settings = stack_plan(stack), load_settings(stack)
    protected = {r.type for r in plan.resources if r.protect}
    if settings.identity.production:
        assert protected == STATEFUL - ({"azure-native:resources:ResourceGroup"}
                                        if settings.azure.existing_resource_group else set())
        for deployment in plan.of_type("kubernetes:apps/v1:Deployment"):
            for container in deployment.inputs["spec"]["template"]["spec"]["containers"]:
                assert re.search(r"@sha256:[0-9a-f]{64}$", container["image"]), container["image"]
                assert container["imagePullPolicy"] == "Always", deployment.name
    else:
        assert protected == set()


def test_the_stack_keeps_every_mandatory_policy(stack):
    assert [str(v) for v in policy_check.check(stack_plan(stack).to_json(), stack.directory) if v.mandatory] == []


def test_the_policies_take_production_from_the_stack_file_alone(stack):
    assert (stack.name in rules.production_stacks(stack.directory)) == load_settings(stack).identity.production


def test_every_workload_follows_the_restricted_standard(stack):
    for deployment in stack_plan(stack).of_type("kubernetes:apps/v1:Deployment"):
        assert rules.restricted_problems(deployment.inputs["spec"]["template"]["spec"]) == [], deployment.name


def test_no_container_holds_a_secret_in_its_environment_and_only_the_collector_a_token(stack):
    for deployment in stack_plan(stack).of_type("kubernetes:apps/v1:Deployment"):
        spec = deployment.inputs["spec"]["template"]["spec"]
        for container in spec["containers"]:
            assert not [e for e in container.get("env", []) if "secretKeyRef" in e.get("valueFrom", {})]
            assert "envFrom" not in container
        assert spec["automountServiceAccountToken"] is False
        # A Secret volume without items would project every key.
        assert all(v["secret"]["items"] for v in spec["volumes"] if "secret" in v), deployment.name
        tokens = [v for v in spec["volumes"] if any("serviceAccountToken" in source
                                                    for source in v.get("projected", {}).get("sources", []))]
        assert len(tokens) == (deployment.name == "otel-collector-deployment"), deployment.name


def test_every_service_is_alerted_in_every_backend_that_can_express_each_alert(stack):
    plan, settings = stack_plan(stack), load_settings(stack)
    for service in settings.services:
        entries = catalogue.for_service(service, settings.runbook_base_url).alerts
        rules = next(r for r in plan.of_type("kubernetes:monitoring.coreos.com/v1:PrometheusRule")
                     if r.inputs["metadata"]["name"] == service.name)
        alerts = {rule["alert"] for group in rules.inputs["spec"]["groups"] for rule in group["rules"]
                  if "alert" in rule}
        assert alerts == {e.name for e in entries}
        placed = {e.name: azure_dialect.placement(e, service.metrics, settings.azure.managed_prometheus)
                  for e in entries}
        kql = [r for r in plan.of_type("azure-native:monitor:ScheduledQueryRule")
               if r.name.startswith(f"azure-monitoring-{service.name}-")]
        assert len(kql) == sum(where == azure_dialect.KQL for where in placed.values())
        managed = {rule["alert"] for group in plan.of_type("azure-native:alertsmanagement:PrometheusRuleGroup")
                   if group.name.startswith(f"azure-monitoring-{service.name}-prometheus-")
                   for rule in group.inputs["rules"] if "alert" in rule}
        assert managed == {name for name, where in placed.items() if where == azure_dialect.PROMETHEUS}
        if settings.datadog.enabled:
            tagged = {t.removeprefix("alert:") for m in plan.of_type("datadog:index/monitor:Monitor")
                      if f"service:{service.name}" in m.inputs["tags"] for t in m.inputs["tags"]
                      if t.startswith("alert:")}
            assert tagged == {e.name for e in entries}


def test_every_route_an_alert_takes_reaches_someone(stack):
    settings = load_settings(stack)
    assert settings.azure.email_receivers or settings.azure.webhook_receivers
    for route in {r for s in settings.services for r in s.slo.routing.values()}:
        if settings.datadog.enabled:
            assert settings.datadog.notify[route]
        if settings.alertmanager.receivers:
            assert route in settings.alertmanager.receivers


# -- the stack's own numbers under promtool ---------------------------------------------

def outage_minutes(target, period_days):
    """Minutes of total outage until a page window's long and short error ratios both exceed its
    threshold, evaluated each minute with 600 requests a minute: after k minutes a window of w
    minutes holds min(k, w)/w errors (Datadog's published burn rates)."""
    budget = 1 - target
    def fired(k):
        return any(min(k, long) / long > burn * budget and min(k, short) / short > burn * budget
                   for route, burn, long, short, _ in PUBLISHED_BURN_RATES[period_days] if route == "page")
    return next(k for k in range(1, 24 * 60) if fired(k))


def scrape_labels(plan, service):
    """The job and namespace the operator gives a service's series, from its PodMonitor and pods."""
    pods = workload(plan, service)["spec"]["template"]
    monitor = next(m.inputs["spec"] for m in plan.of_type("kubernetes:monitoring.coreos.com/v1:PodMonitor")
                   if m.inputs["metadata"]["name"] == service)
    return {"job": pods["metadata"]["labels"][monitor["jobLabel"]],
            "namespace": monitor["namespaceSelector"]["matchNames"][0]}


def matching(matchers: tuple[Matcher, ...]) -> dict[str, str]:
    """Labels a series needs to be selected by `matchers` (equality, or a value other than a negated one)."""
    assert not any(m.regex for m in matchers), "a regex matcher needs a hand-picked value"
    return {m.label: (f"not-{m.value}" if m.value else "error") if m.negated else m.value for m in matchers}


def series(role: Series, labels: dict[str, str]) -> str:
    return role.metric + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def request_counters(contract, selector: dict[str, str], good: list[tuple[float, int]],
                     bad: list[tuple[float, int]]) -> list[dict]:
    """promtool series for the contract's requests and errors roles, given good and failed requests per minute
    in (increase, minutes) segments: one metric with an error label, or two counters (TGI's count and failure)."""
    requests, errors = contract.series("requests"), contract.series("errors")
    base = {**selector, **matching(requests.matchers)}
    if errors.metric != requests.metric:
        every = [(g + b, minutes) for (g, minutes), (b, _) in zip(good, bad, strict=True)]
        return [{"series": series(requests, base), "values": counter(*every)},
                {"series": series(errors, {**selector, **matching(errors.matchers)}), "values": counter(*bad)}]
    error, = (m for m in errors.matchers if m not in requests.matchers)
    # A good request carries the error label with another value, or none where errors have any value.
    good_labels = base if error.negated else {**base, error.label: f"not-{error.value}"}
    return [{"series": series(requests, good_labels), "values": counter(*good)},
            {"series": series(requests, {**base, **matching((error,))}), "values": counter(*bad)}]


HEALTHY = 360  # minutes of clean traffic before an outage: the longest page window's (6h) worth


def promtool_cases(stack) -> dict[str, tuple[list[str], dict[str, list[dict]]]]:
    """Per service whose availability its server measures: its rule groups' names, and promtool cases by
    evaluation interval: a total outage each minute (its detection time is in minutes), and a steady
    half-budget burn over a day (a burn that none of the alerts it feeds may raise, judged at every window's
    scale; hourly, as a constant rate allows)."""
    plan, settings = stack_plan(stack), load_settings(stack)
    cases = {}
    for service in settings.services:
        contract = service.metrics
        if contract.missing(("requests", "errors")):
            continue  # its availability alerts are excluded (the render reports why)
        groups = next(r for r in plan.of_type("kubernetes:monitoring.coreos.com/v1:PrometheusRule")
                      if r.inputs["metadata"]["name"] == service.name).inputs["spec"]["groups"]
        rules = [rule for group in groups for rule in group["rules"]]
        page = next(r for r in rules if r.get("alert") == "AIInferenceSLOBurnRatePage")
        recorded = next(r for r in rules if "record" in r and r["labels"]["slo"] == "availability")["labels"]
        selector = scrape_labels(plan, service.name)
        scraped = {"series": "up{" + ",".join(f'{k}="{v}"' for k, v in selector.items()) + "}", "values": "1x2000"}
        if contract.model_label and contract.per_model:
            selector[contract.model_label] = service.model_name
        k = outage_minutes(service.slo.objective.target, service.slo.objective.period_days)
        errors = 2000 * service.slo.objective.error_budget / 2  # half the budget's rate, per minute
        burning = [*request_counters(contract, selector, [(2000 - errors, 1600)], [(errors, 1600)]), scraped]
        cases[service.name] = ([group["name"] for group in groups], {
            "1m": [{"name": f"{service.name}: a total outage pages within {k} minutes", "interval": "1m",
                    "input_series": [*request_counters(contract, selector, [(600, HEALTHY), (0, 120)],
                                                       [(0, HEALTHY), (600, 120)]), scraped],
                    "alert_rule_test": [
                        {"eval_time": f"{HEALTHY + k - 1}m", "alertname": page["alert"], "exp_alerts": []},
                        {"eval_time": f"{HEALTHY + k + 1}m", "alertname": page["alert"], "exp_alerts": [
                            {"exp_labels": {**page["labels"], **recorded}, "exp_annotations": page["annotations"]}]},
                    ]}],
            promtool.CONSTANT_RATE_EVALUATION: [{
                "name": f"{service.name}: errors at half the budget rate never alert", "interval": "1m",
                "input_series": burning,
                "alert_rule_test": [{"eval_time": t, "alertname": name, "exp_alerts": []}
                                    for t in ("1h", "6h", "1d", "26h")
                                    for name in sorted(promtool.reading(groups, burning))]}],
        })
    return cases


@pytest.mark.slow
@pytest.mark.skipif(promtool.PROMTOOL is None and os.environ.get("CI") != "true", reason="PROMTOOL NOT INSTALLED")
def test_the_stacks_own_objectives_hold_under_promtool(stack, rendered, tmp_path):
    code, directory = rendered(stack)
    assert code == 0 and promtool.PROMTOOL, "CI=true and promtool is missing: .ci/run must install it"
    rendered_groups = read_yaml((directory / "prometheus-rules.yaml").read_text())["groups"]
    running = [promtool.start(tmp_path, f"{service}-{interval}", [
        # The service's groups of the rendered rule file, alone: promtool evaluates every group it loads.
        group for group in rendered_groups if group["name"] in group_names], cases, interval)
        for service, (group_names, by_interval) in promtool_cases(stack).items()
        for interval, cases in by_interval.items()]
    for process in running:
        promtool.passes(process)


def test_a_detection_time_is_what_the_published_table_promises(stack):
    """The minutes above, against the table's own figure: long window x burn rate x budget, plus one."""
    for service in load_settings(stack).services:
        objective = service.slo.objective
        promised = min(long * burn * objective.error_budget
                       for route, burn, long, _, _ in PUBLISHED_BURN_RATES[objective.period_days] if route == "page")
        assert outage_minutes(objective.target, objective.period_days) <= math.floor(promised) + 1
