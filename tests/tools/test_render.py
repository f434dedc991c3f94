"""The offline render on the fixture stacks: plan.json's shape, masking, validation, and how a bad
stack file or bad config stops it with exit 2, naming file, line or key, and leaving nothing behind."""

import json
import shutil
import subprocess
import sys
from typing import Any

import kubernetes_validate
import pytest

from config import ConfigError
from policy import rules
from tests.helpers import FIXTURES, NS, config, keyed, load_settings, read_yaml, stack_plan
from tools import mocks, render
from tools.stack_config import ROOT

KNOWN_HOOK = "https://hooks.slack.example.com/services/T0DEADBEEF/B0CAFEBABE/knownsecretvalue"
RENDERED = ("minimal", "alerting", "platform", "gpu")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """What make render writes for each stack's plan (the plan the other tests share; the command itself is
    run below)."""
    out = tmp_path_factory.mktemp("build")
    for stack in RENDERED:
        assert render.write(stack_plan(stack), config(stack), out / stack) == 0
    return out


def run_render(stack, config_dir, out):
    return subprocess.run([sys.executable, "-m", "tools.render", stack, "--config-dir", str(config_dir),
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True)


@pytest.mark.parametrize("stack", RENDERED)
def test_plan_json_lists_every_resource_with_urn_type_name_id_and_inputs(rendered, stack):
    plan = json.loads((rendered / stack / "plan.json").read_text())
    assert (plan["project"], plan["stack"]) == ("ai-observability", stack)
    assert plan["resources"], "nothing rendered"
    for resource in plan["resources"]:
        assert {"urn", "type", "name", "id", "inputs"} <= set(resource)
        assert resource["urn"].endswith(f"{resource['type']}::{resource['name']}")
    ids = [(r["type"], r["id"]) for r in plan["resources"] if r["id"]]
    assert len(ids) == len(set(ids)), "ids must be unique per type, as the providers make them"
    # References resolve: App Insights points at the workspace's id.
    by_type = {r["type"]: r for r in plan["resources"]}
    assert by_type["azure-native:applicationinsights:Component"]["inputs"]["workspaceResourceId"] == \
        by_type["azure-native:operationalinsights:Workspace"]["id"]


def test_rendering_is_deterministic(rendered, tmp_path):
    assert render.main(["alerting", "--config-dir", str(FIXTURES), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "alerting" / "plan.json").read_text() == (rendered / "alerting" / "plan.json").read_text()


def test_known_secret_values_never_reach_the_plan(tmp_path):
    plan = mocks.run_program(config("platform", secrets={"azure.webhookUrls": {"chat": KNOWN_HOOK,
                                                                               "pager": "https://p.example.com"}}))
    written = render.write_plan(plan, tmp_path)
    text, = written.values()
    assert KNOWN_HOOK not in text and "knownsecretvalue" not in text
    assert plan.raw_outputs["appInsightsConnectionString"] not in text
    assert plan.raw_outputs["appInsightsInstrumentationKey"] not in text
    assert '"serviceUri": "[secret]"' in text
    assert KNOWN_HOOK in plan.secret_values()
    assert render.leaked_secrets(written, plan.secret_values()) == []


def test_the_leak_check_catches_an_unmasked_secret(tmp_path):
    leaky = tmp_path / "leaky.yaml"
    assert render.leaked_secrets({leaky: f"url: {KNOWN_HOOK}\n", tmp_path / "masked.yaml": "url: '[secret]'\n"},
                                 {KNOWN_HOOK}) == [str(leaky)]


# A dozen ways to get the config wrong, each stopped before anything is registered.
BAD_CONFIGS = [
    ({"azure.retentionDays": 7}, "azure.retentionDays"),
    ({"azure.dailyCapGb": 0}, "azure.dailyCapGb"),
    ({"azure.actionGroupShortName": "far-too-long-name"}, "azure.actionGroupShortName"),
    ({"azure.alerts": {"requestDuration": {"severity": 5}}}, "azure.alerts.requestDuration.severity"),
    ({"azure.alerts": {"failedRequests": {"frequency": "PT2M"}}}, "azure.alerts.failedRequests.frequency"),
    ({"azure.alerts": {"dailyCap": {"window": "P7D"}}}, "azure.alerts.dailyCap.window"),
    ({"azure.emailReceivers": {"oncall": "not-an-address"}}, "azure.emailReceivers.oncall"),
    ({"azure.webhookUrls": {"slack": "https://hooks.example.com/x"}}, "azure.webhookUrls"),
    ({"azure.subscriptionId": "prod-subscription"}, "azure.subscriptionId"),
    ({"azure.subscriptionId": None}, "azure.subscriptionId"),
    ({"azure.retentionDay": 30}, "azure.retentionDay"),
    ({"tags": {"environment": "dev"}}, "tags.environment"),
    ({"production": "maybe"}, "production"),
    ({"kubernetes.version": "1.99"}, "kubernetes.version"),
    ({"azure.availabilityTests": [{"name": "health", "url": "http://inference.example.com"}]},
     "azure.availabilityTests[0].url"),
]


@pytest.mark.parametrize("overrides, key", BAD_CONFIGS, ids=[key for _, key in BAD_CONFIGS])
def test_bad_config_stops_the_program_naming_the_key_and_registers_nothing(overrides, key):
    monitor = mocks.RecordingMonitor(mocks.PlanMocks())
    with pytest.raises(ConfigError) as error:
        mocks.run_program(config("minimal", overrides), monitor)
    assert any(keyed(p).startswith(f"{NS}:{key} ") and 'in stack "minimal"' in p for p in error.value.problems), \
        error.value.problems
    assert monitor.recorded == []


@pytest.fixture
def stacks_dir(tmp_path):
    """A copy of the fixture stacks, to break."""
    directory = tmp_path / "stacks"
    shutil.copytree(FIXTURES, directory)
    return directory


@pytest.mark.slow  # renders in subprocesses
def test_make_render_exits_2_once_per_problem_and_leaves_no_earlier_plan(stacks_dir, tmp_path):
    out = tmp_path / "build"
    assert run_render("minimal", stacks_dir, out).returncode == 0
    assert (out / "minimal" / "plan.json").exists()
    text = (stacks_dir / "Pulumi.minimal.yaml").read_text()
    broken = (text.replace(f'{NS}:kubernetes.version: "1.34"', f'{NS}:kubernetes.version: "1.99"')
              .replace(f"{NS}:azure.dailyCapGb: 1", f"{NS}:azure.dailyCapGb: 0"))
    assert broken != text
    (stacks_dir / "Pulumi.minimal.yaml").write_text(broken)
    result = run_render("minimal", stacks_dir, out)
    assert result.returncode == render.BAD_CONFIG
    assert f'{NS}:azure.dailyCapGb = 0 in stack "minimal": must be -1 (no cap)' in result.stderr
    assert result.stderr.count("kubernetes.version") == 1  # one problem, said once
    assert "Traceback" not in result.stderr
    assert not (out / "minimal").exists(), "a failed render leaves nothing that looks current"


@pytest.mark.parametrize("line, written, said", [
    # Pulumi reads YAML 1.2: yes is a string, an unquoted 1.30 is the number 1.3, a date is not text.
    (f"{NS}:datadog.enabled: yes", "line {0}", 'datadog.enabled: yes is the string "yes" to Pulumi, which reads '
                                               "YAML 1.2; write true or false"),
    (f'{NS}:kubernetes.version: 1.30', "line {0}", "kubernetes.version: 1.30 is read as the number 1.3, which is "
                                                 'what the program gets; write 1.3, or quote it ("1.30")'),
    (f"{NS}:team: 2024-06-01", "line {0}", 'team: 2024-06-01 is a date to YAML but not to the program; '
                                         'quote it: "2024-06-01"'),
    (f"{NS}:alertmanager.receivers:\n    ticket: webhook\n   page: slack",
     "line {2}, column 4, in ai-observability:alertmanager.receivers", "not valid YAML"),
])
def test_a_stack_file_the_cli_would_read_otherwise_is_refused_naming_file_line_and_key(
        stacks_dir, tmp_path, capsys, line, written, said):
    """In process: the stack file is refused before the program runs (the exit code's path to the shell is
    the test above's)."""
    path = stacks_dir / "Pulumi.minimal.yaml"
    text = path.read_text().replace(f'  {NS}:kubernetes.version: "1.34"\n', "")
    path.write_text(text.replace("config:\n", f"config:\n  {line}\n"))
    written = written.format(*range(text[:text.index("config:\n")].count("\n") + 2, 100))  # the line after config:
    code = render.main(["minimal", "--config-dir", str(stacks_dir), "--out", str(tmp_path / "build")])
    stderr = capsys.readouterr().err
    assert code == render.BAD_CONFIG, stderr
    assert f"Pulumi.minimal.yaml {written}" in stderr
    assert said in stderr
    assert not (tmp_path / "build" / "minimal").exists()


def test_make_render_prints_what_it_would_create(capsys, tmp_path):
    assert render.main(["platform", "--config-dir", str(FIXTURES), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert 'stack "platform":' in out
    # requests/duration, requests/failed, exceptions/server, and one per availability test
    assert "azure-native:monitor:MetricAlert" in out and "  4\n" in out.split("MetricAlert")[1][:80]
    assert "rendered with placeholders: ai-observability:azure.webhookUrls" in out


# -- manifests -----------------------------------------------------------------


@pytest.mark.parametrize("stack", RENDERED)
def test_manifests_are_the_planned_kubernetes_objects_exactly(rendered, stack):
    files = sorted((rendered / stack / "manifests").glob("*.yaml"))
    written = [read_yaml(f.read_text()) for f in files]
    planned = [r.inputs for r in stack_plan(stack).resources if r.type.startswith("kubernetes:")]

    def key(o):
        return o["kind"], o["metadata"]["name"]

    assert sorted(written, key=key) == sorted(planned, key=key)
    assert [o["kind"] for o in written][:2] == ["Namespace", "ServiceAccount"]  # apply order


@pytest.mark.parametrize("stack", RENDERED)
def test_every_manifest_passes_kubernetes_validate_strict_for_the_stack_version(rendered, stack):
    version = load_settings(stack).kubernetes.version
    manifests = [read_yaml(f.read_text()) for f in sorted((rendered / stack / "manifests").glob("*.yaml"))]
    core = [m for m in manifests if not render.is_operator_resource(m)]
    operator = {m["kind"] for m in manifests if render.is_operator_resource(m)}
    # No schemas in kubernetes-validate: their CRDs judge them (tests/stacks), promtool and amtool their rules.
    assert operator <= {"PrometheusRule", "PodMonitor", "AlertmanagerConfig", "Rollout", "AnalysisTemplate"}
    for manifest in core:
        assert kubernetes_validate.validate(manifest, version, strict=True) == version, manifest["metadata"]["name"]


@pytest.mark.parametrize("stack", RENDERED)
def test_every_rendered_workload_follows_the_restricted_standard(rendered, stack):
    for path in (rendered / stack / "manifests").glob("*-deployment-*.yaml"):
        assert rules.restricted_problems(read_yaml(path.read_text())["spec"]["template"]["spec"]) == []


def test_the_secret_manifests_are_masked(rendered):
    secrets = [read_yaml(p.read_text()) for p in (rendered / "alerting" / "manifests").glob("*-secret-*.yaml")]
    assert {s["metadata"]["name"]: s["stringData"] for s in secrets} == {
        "telemetry-credentials": {"appinsights-connection-string": "[secret]", "datadog-api-key": "[secret]"},
        "alertmanager-receivers": {"page": "[secret]", "ticket": "[secret]"}}
    leaks = render.leaked_secrets({p: p.read_text() for p in (rendered / "alerting").rglob("*.*")},
                                  stack_plan("alerting").secret_values())
    assert leaks == []


def test_an_invalid_manifest_is_reported_with_its_file_and_field(tmp_path):
    bad: dict[str, Any] = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "bad"},
           "spec": {"replicas": "three", "selector": {}, "template": {}, "surprise": 1}}
    good = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "fine"}, "data": {"a": "b"}}
    # Two objects of the same shape: validated once, reported for each file.
    again = {**bad, "metadata": {"name": "bad-too"}}
    found = render.invalid_manifests({tmp_path / "00-deployment-bad.yaml": bad, tmp_path / "01-configmap.yaml": good,
                                      tmp_path / "02-deployment-bad-too.yaml": again}, "1.34")
    assert len(found) == 2 and found[0].startswith("00-deployment-bad.yaml: spec"), found
    assert found[1] == found[0].replace("00-deployment-bad.yaml", "02-deployment-bad-too.yaml")
    # A value of another type is another shape, and is judged on its own.
    fixed = {**bad, "spec": {**bad["spec"], "replicas": 3}}
    assert render.shape(fixed) != render.shape(bad)


@pytest.mark.parametrize("stack", RENDERED)
def test_prometheus_rules_file_is_the_planned_rule_groups(rendered, stack):
    written = read_yaml((rendered / stack / "prometheus-rules.yaml").read_text())
    planned = [g for r in stack_plan(stack).resources if r.inputs.get("kind") == "PrometheusRule"
               for g in r.inputs["spec"]["groups"]]
    assert written["groups"] == planned
    # A pipeline group per collector tier the stack runs (each a Deployment), a group per service.
    tiers = [r.inputs["metadata"]["name"] for r in stack_plan(stack).of_type("kubernetes:apps/v1:Deployment")
             if r.inputs["metadata"]["name"].startswith("otel-collector")]
    assert sorted(g["name"] for g in written["groups"]) == sorted(
        [*(f"{tier}-pipeline" for tier in tiers), *(f"{s.name}-slo" for s in load_settings(stack).services)])
