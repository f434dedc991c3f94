"""Every Pulumi.<stack>.yaml of the project, whatever values its users give it.

Each stack renders (valid manifests, rules promtool accepts, no secret in the output), keeps the
program's promises (explicit providers, secrets secret, production guarded, every service alerted
in every backend that can, every route reaching someone) and its own numbers hold in promtool: a
total outage pages within its detection time, errors at half its budget never alert. Adding a
stack file adds a stack here; nothing asserts the values a user is expected to edit.
"""

import math
import os
import re
import shutil
import subprocess

import pytest
import yaml

from model import catalogue
from model.dialects import azure as azure_dialect
from policy import rules
from tests.helpers import PUBLISHED_BURN_RATES, STACKS, load_settings, metric_of, restricted_violations, stack_plan
from tools import policy_check, render

CHECKED: list[str] = []  # the stacks this run checked, for the summary line (tests/conftest.py)
PROMTOOL = shutil.which("promtool")
STATEFUL = {"azure-native:resources:ResourceGroup", "azure-native:operationalinsights:Workspace",
            "azure-native:applicationinsights:Component"}

pytestmark = pytest.mark.parametrize("stack", STACKS)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """Each stack rendered once, as `make render` does it."""
    out = tmp_path_factory.mktemp("build")
    done: dict[str, int] = {}

    def render_stack(stack):
        if stack not in done:
            done[stack] = render.main([stack, "--out", str(out)])
        return done[stack], out / stack
    return render_stack


def test_the_stack_renders_valid_manifests_and_rules_without_a_secret(stack, rendered):
    # The render fails (exit 1) on a manifest kubernetes-validate --strict rejects, a rule file
    # promtool rejects, or a revealed secret in anything it wrote; exit 2 on a bad stack file.
    code, directory = rendered(stack)
    assert code == 0
    assert (directory / "plan.json").exists() and (directory / "prometheus-rules.yaml").exists()
    CHECKED.append(stack)


def test_resources_run_under_the_project_and_the_stacks_explicit_providers(stack):
    plan, settings = stack_plan(stack), load_settings(stack)
    assert (plan.project, plan.stack) == ("ai-observability", stack)
    assert all(r.urn.startswith(f"urn:pulumi:{stack}::ai-observability::") for r in plan.resources)
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
    """A dict the SDK could not type (a union) would reach the provider with snake_case keys."""
    def keys(value, path):
        if isinstance(value, dict):
            for key, item in value.items():
                if key != "tags":
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
    assert [str(v) for v in policy_check.check(stack_plan(stack).to_json()) if v.mandatory] == []


def test_a_production_stack_is_production_to_the_policies_too(stack):
    if load_settings(stack).identity.production:
        assert stack in rules.PRODUCTION_STACKS, (
            f"{stack} is a production stack: add it to PRODUCTION_STACKS in policy/rules.py (or the pack's "
            "productionStacks config), so the production policies apply to it")


def test_every_workload_follows_the_restricted_standard(stack):
    for deployment in stack_plan(stack).of_type("kubernetes:apps/v1:Deployment"):
        assert restricted_violations(deployment.inputs["spec"]["template"]["spec"]) == [], deployment.name


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
        entries = catalogue.service_alerts(service.name, service.slo, settings.runbook_base_url)
        rules = next(r for r in plan.of_type("kubernetes:monitoring.coreos.com/v1:PrometheusRule")
                     if r.inputs["metadata"]["name"] == service.name)
        alerts = {rule["alert"] for group in rules.inputs["spec"]["groups"] for rule in group["rules"]
                  if "alert" in rule}
        assert alerts == {e.name for e in entries}
        azure = [r for r in plan.of_type("azure-native:monitor:ScheduledQueryRule")
                 if r.name.startswith(f"azure-monitoring-{service.name}-")]
        assert len(azure) == sum(catalogue.exclusion(e, azure_dialect.UNSUPPORTED) is None for e in entries)
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
    pods = plan.one("kubernetes:apps/v1:Deployment", f"{service}-deployment").inputs["spec"]["template"]
    monitor = next(m.inputs["spec"] for m in plan.of_type("kubernetes:monitoring.coreos.com/v1:PodMonitor")
                   if m.inputs["metadata"]["name"] == service)
    return {"job": pods["metadata"]["labels"][monitor["jobLabel"]],
            "namespace": monitor["namespaceSelector"]["matchNames"][0]}


def promtool_cases(stack):
    """A total outage and a steady half-budget burn for each service, as the render names its series.
    Every service of the stack is scraped throughout, so only the service under test misbehaves."""
    plan, settings = stack_plan(stack), load_settings(stack)
    scraped = [{"series": "up{" + ",".join(f'{k}="{v}"' for k, v in scrape_labels(plan, s.name).items()) + "}",
                "values": "1x2000"} for s in settings.services]
    cases = []
    for service in settings.services:
        labels = scrape_labels(plan, service.name)
        group, = next(r for r in plan.of_type("kubernetes:monitoring.coreos.com/v1:PrometheusRule")
                      if r.inputs["metadata"]["name"] == service.name).inputs["spec"]["groups"]
        page = next(r for r in group["rules"] if r.get("alert") == "AIInferenceSLOBurnRatePage")
        recorded = next(r for r in group["rules"] if "record" in r)["labels"]
        contract = service.metrics
        selector = ",".join(f'{k}="{v}"' for k, v in labels.items())
        assert contract.errors is not None
        error, metric = contract.errors.matchers[-1], metric_of(contract, "requests")  # the status label, its error

        def requests(status, values, metric=metric, label=error.label, selector=selector):
            return {"series": f'{metric}{{{selector},{label}="{status}"}}', "values": values}
        k = outage_minutes(service.slo.objective.target, service.slo.objective.period_days)
        cases.append({"name": f"{service.name}: a total outage pages within {k} minutes", "interval": "1m",
                      "input_series": [requests("success", "0+600x480 288000+0x120"),
                                       requests(error.value, "0x480 600+600x120"), *scraped],
                      "alert_rule_test": [
                          {"eval_time": f"{480 + k - 1}m", "alertname": page["alert"], "exp_alerts": []},
                          {"eval_time": f"{480 + k + 1}m", "alertname": page["alert"], "exp_alerts": [
                              {"exp_labels": {**page["labels"], **recorded}, "exp_annotations": page["annotations"]}]},
                      ]})
        errors = 2000 * service.slo.objective.error_budget / 2  # half the budget's rate, per minute
        cases.append({"name": f"{service.name}: errors at half the budget rate never alert", "interval": "1m",
                      "input_series": [requests("success", f"0+{2000 - errors}x1600"),
                                       requests(error.value, f"0+{errors}x1600"), *scraped],
                      "alert_rule_test": [{"eval_time": t, "alertname": name, "exp_alerts": []}
                                          for t in ("1h", "6h", "1d", "26h") for name in sorted(
                                              {rule["alert"] for rule in group["rules"] if "alert" in rule})]})
    return cases


@pytest.mark.skipif(PROMTOOL is None and os.environ.get("CI") != "true", reason="PROMTOOL NOT INSTALLED")
def test_the_stacks_own_objectives_hold_under_promtool(stack, rendered, tmp_path):
    code, directory = rendered(stack)
    assert code == 0 and PROMTOOL, "CI=true and promtool is missing: .ci/run must install it"
    shutil.copy(directory / "prometheus-rules.yaml", tmp_path)
    tests = {"rule_files": ["prometheus-rules.yaml"], "evaluation_interval": "1m", "tests": promtool_cases(stack)}
    (tmp_path / "stack.test.yaml").write_text(yaml.safe_dump(tests, sort_keys=False, width=1000))
    result = subprocess.run([PROMTOOL, "test", "rules", "stack.test.yaml"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_detection_time_is_what_the_published_table_promises(stack):
    """The minutes above, against the table's own figure: long window x burn rate x budget, plus one."""
    for service in load_settings(stack).services:
        objective = service.slo.objective
        promised = min(long * burn * objective.error_budget
                       for route, burn, long, _, _ in PUBLISHED_BURN_RATES[objective.period_days] if route == "page")
        assert outage_minutes(objective.target, objective.period_days) <= math.floor(promised) + 1
