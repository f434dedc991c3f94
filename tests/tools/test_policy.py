"""The policy pack (policy/rules.py) through its offline runner: each policy on a resource as the
program makes it (passes) and the same resource broken the way the policy exists to catch (fails),
on fixture stacks; and `make policy` on a plan broken three ways at once."""

import copy
import json

import pytest

from tests.helpers import FIXTURES, stack_plan
from tools import policy_check

STACK_FIXTURES = sorted(p.name.split(".")[1] for p in FIXTURES.glob("Pulumi.*.yaml"))


def resource(stack, type_, name=None):
    """A resource of the fixture stack's plan, as plan.json has it."""
    plan = stack_plan(stack).to_json()
    found = [r for r in plan["resources"] if r["type"] == type_ and (name is None or r["name"] == name)]
    return copy.deepcopy(found[0])


def violations(entry, policy, stack="platform"):
    return [v.message for v in policy_check.check({"stack": stack, "resources": [entry]}, FIXTURES)
            if v.policy == policy]


def container(entry):
    return entry["inputs"]["spec"]["template"]["spec"]["containers"][0]


@pytest.mark.parametrize("stack", STACK_FIXTURES)
def test_every_fixture_stack_keeps_every_mandatory_policy(stack):
    found = policy_check.check(stack_plan(stack).to_json(), FIXTURES)
    assert [str(v) for v in found if v.mandatory] == []


def test_azure_resources_need_the_required_tags():
    workspace = resource("platform", "azure-native:operationalinsights:Workspace")
    assert violations(workspace, "azure-required-tags") == []
    del workspace["inputs"]["tags"]["service"]
    said, = violations(workspace, "azure-required-tags")
    assert "has no service tag" in said


def test_log_analytics_keeps_thirty_days_under_a_cap():
    workspace = resource("platform", "azure-native:operationalinsights:Workspace")
    assert violations(workspace, "log-analytics-retention-and-cap") == []
    workspace["inputs"]["retentionInDays"] = 7
    workspace["inputs"]["workspaceCapping"]["dailyQuotaGb"] = -1
    short, uncapped = violations(workspace, "log-analytics-retention-and-cap")
    assert "keeps logs 7 days; at least 30" in short and "no daily ingestion cap" in uncapped


def test_app_insights_must_be_workspace_based():
    component = resource("platform", "azure-native:applicationinsights:Component")
    assert violations(component, "app-insights-workspace-based") == []
    component["inputs"]["ingestionMode"] = "ApplicationInsights"
    assert violations(component, "app-insights-workspace-based")


@pytest.mark.parametrize("type_, silence", [
    ("azure-native:monitor:MetricAlert", lambda inputs: inputs.update(actions=[])),
    ("azure-native:monitor:ScheduledQueryRule", lambda inputs: inputs.update(actions={"actionGroups": []})),
])
def test_every_azure_alert_notifies_an_action_group(type_, silence):
    alert = resource("platform", type_)
    assert violations(alert, "alerts-have-actions") == []
    silence(alert["inputs"])
    said, = violations(alert, "alerts-have-actions")
    assert "notifies no action group" in said


def test_production_state_is_protected_in_production_stacks_only():
    """Production is what a stack's file says: platform's does (production: true), minimal's does not."""
    production = resource("platform", "azure-native:operationalinsights:Workspace")
    production["protect"] = False
    said, = violations(production, "production-state-protected")
    assert "not protected from deletion" in said
    assert violations({**production, "protect": True}, "production-state-protected") == []
    other = resource("minimal", "azure-native:operationalinsights:Workspace")
    assert not other.get("protect")
    assert violations(other, "production-state-protected", stack="minimal") == []


@pytest.mark.parametrize("break_it, expected", [
    (lambda c: c.pop("livenessProbe"), "has no livenessProbe"),
    (lambda c: c["resources"]["limits"].pop("cpu"), "has no limits for cpu"),
])
def test_containers_need_requests_limits_and_probes(break_it, expected):
    deployment = resource("platform", "kubernetes:apps/v1:Deployment", "detector-deployment")
    assert violations(deployment, "containers-resources-and-probes") == []
    break_it(container(deployment))
    said, = violations(deployment, "containers-resources-and-probes")
    assert expected in said


def test_init_containers_need_resources_but_no_probes():
    deployment = resource("platform", "kubernetes:apps/v1:Deployment", "detector-deployment")
    init = {key: value for key, value in container(deployment).items() if not key.endswith("Probe")}
    deployment["inputs"]["spec"]["template"]["spec"]["initContainers"] = [{**init, "name": "fetch-model"}]
    assert violations(deployment, "containers-resources-and-probes") == []


@pytest.mark.parametrize("break_it, expected", [
    (lambda c: c["securityContext"].update(privileged=True), "is privileged"),
    (lambda c: c["securityContext"].update(allowPrivilegeEscalation=True), "allows privilege escalation"),
    (lambda c: c["securityContext"].update(capabilities={"drop": []}), "keeps capabilities"),
    (lambda c: c["securityContext"].update(capabilities={"drop": ["ALL"], "add": ["SYS_ADMIN"]}),
     "adds capabilities beyond NET_BIND_SERVICE"),
    (lambda c: c["ports"].append({"name": "host", "containerPort": 9000, "hostPort": 9000}), "uses a host port"),
])
def test_containers_run_restricted(break_it, expected):
    deployment = resource("platform", "kubernetes:apps/v1:Deployment", "detector-deployment")
    assert violations(deployment, "containers-restricted") == []
    break_it(container(deployment))
    said, = violations(deployment, "containers-restricted")
    assert expected in said


def test_a_host_path_volume_is_refused_and_a_writable_root_too():
    deployment = resource("platform", "kubernetes:apps/v1:Deployment", "detector-deployment")
    assert violations(deployment, "containers-read-only-root") == []
    deployment["inputs"]["spec"]["template"]["spec"]["volumes"].append({"name": "host", "hostPath": {"path": "/"}})
    container(deployment)["securityContext"]["readOnlyRootFilesystem"] = False
    said, = violations(deployment, "containers-restricted")
    assert "volume host is of a disallowed type hostPath" in said
    said, = violations(deployment, "containers-read-only-root")
    assert "writable root filesystem" in said


@pytest.mark.parametrize("image, refused", [
    ("registry.example.com/vision/detector:latest", True),
    ("registry.example.com/vision/detector", True),
    ("registry.example.com:5000/vision/detector", True),  # a registry port is not a tag
    ("registry.example.com/vision/detector:3.1.0", False),
    ("registry.example.com/vision/detector@sha256:" + "ab" * 32, False),
])
def test_no_latest_or_untagged_image(image, refused):
    deployment = resource("platform", "kubernetes:apps/v1:Deployment", "detector-deployment")
    container(deployment)["image"] = image
    assert bool(violations(deployment, "images-pinned")) is refused


@pytest.mark.parametrize("name, value", [
    ("DD_API_KEY", "0123456789abcdef0123456789abcdef"),
    ("APPLICATIONINSIGHTS_CONNECTION_STRING", "InstrumentationKey=11111111-2222-3333-4444-555555555555"),
    ("NOTIFY", "https://hooks.slack.com/services/T000/B000/XXXX"),
    ("UPSTREAM", "[secret]"),  # a secret Output, as an offline plan shows it
])
def test_no_credential_in_a_plain_environment_value(name, value):
    deployment = resource("platform", "kubernetes:apps/v1:Deployment", "detector-deployment")
    assert violations(deployment, "no-plain-secrets") == []
    container(deployment)["env"].append({"name": name, "value": value})
    said, = violations(deployment, "no-plain-secrets")
    assert f"has {name} as a plain value" in said


def test_a_secret_files_path_is_not_a_secret():
    deployment = resource("platform", "kubernetes:apps/v1:Deployment", "detector-deployment")
    paths = [e for e in container(deployment)["env"] if e["name"].endswith("_FILE")]
    assert paths and violations(deployment, "no-plain-secrets") == []


def test_no_credential_in_a_config_map():
    config_map = resource("platform", "kubernetes:core/v1:ConfigMap", "otel-collector-config")
    assert violations(config_map, "no-plain-secrets") == []
    config_map["inputs"]["data"]["config.yaml"] += \
        "\n# connection_string: InstrumentationKey=11111111-2222-3333-4444-555555555555"
    said, = violations(config_map, "no-plain-secrets")
    assert "ConfigMap key config.yaml holds a credential" in said


def test_prometheus_alerts_need_severity_routing_and_a_runbook():
    rule = resource("platform", "kubernetes:monitoring.coreos.com/v1:PrometheusRule")
    assert violations(rule, "prometheus-alerts-labelled") == []
    first = next(r for r in rule["inputs"]["spec"]["groups"][0]["rules"] if "alert" in r)
    del first["annotations"]["runbook_url"]
    said, = violations(rule, "prometheus-alerts-labelled")
    assert f"alert {first['alert']} has no annotation runbook_url" in said


def test_advisories_name_what_production_should_do_and_do_not_fail():
    production = resource("platform", "kubernetes:apps/v1:Deployment", "detector-deployment")  # a production stack
    container(production)["imagePullPolicy"] = "IfNotPresent"
    found = policy_check.check({"stack": "platform", "resources": [production]}, FIXTURES)
    advised = {v.policy for v in found if not v.mandatory}
    assert advised == {"production-images-by-digest", "workloads-have-disruption-budgets",
                       "workloads-have-network-policies"}  # alone, it has no PDB or NetworkPolicy
    assert [v for v in found if v.mandatory] == []


def test_make_policy_fails_naming_resource_and_policy(tmp_path, capsys):
    plan = copy.deepcopy(stack_plan("platform").to_json())  # the cached plan stays as the program made it
    by_name = {r["name"]: r for r in plan["resources"]}
    del container(by_name["detector-deployment"])["readinessProbe"]
    del by_name["azure-monitoring-workspace"]["inputs"]["tags"]
    container(by_name["otel-collector-deployment"])["image"] = "otel/opentelemetry-collector-contrib:latest"
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    assert policy_check.main(["--plan", str(path)]) == 1
    out = capsys.readouterr().out
    for policy, name, said in (("containers-resources-and-probes", "detector-deployment", "has no readinessProbe"),
                               ("azure-required-tags", "azure-monitoring-workspace", "has no environment, service, "
                                                                                "managed-by tag"),
                               ("images-pinned", "otel-collector-deployment", "runs otel/opentelemetry-collector-"
                                                                              "contrib:latest")):
        urn = by_name[name]["urn"]
        assert f"[MANDATORY] {policy}: {urn}" in out
        assert said in out
    assert "3 mandatory violation(s)" in out
