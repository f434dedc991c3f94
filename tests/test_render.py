"""The offline render: plan.json's shape, masking, and how bad config stops it."""

import json
import subprocess
import sys

import pytest

import kubernetes_validate
import yaml

from components.config_reader import SettingsError
from tools import mocks, render
from tools.stack_config import ROOT
from tests.helpers import NS, STACKS, config, restricted_violations, stack_plan

KNOWN_HOOK = "https://hooks.slack.example.com/services/T0DEADBEEF/B0CAFEBABE/knownsecretvalue"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    for stack in STACKS:
        assert render.main([stack, "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize("stack", STACKS)
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
    assert render.main(["prod", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "prod" / "plan.json").read_text() == (rendered / "prod" / "plan.json").read_text()


def test_known_secret_values_never_reach_the_plan(tmp_path):
    plan = mocks.run_program(config("staging", secrets={"azure.webhookUrls": {"slack": KNOWN_HOOK}}))
    written = render.write_plan(plan, tmp_path)
    text = written[0].read_text()
    assert KNOWN_HOOK not in text and "knownsecretvalue" not in text
    assert plan.raw_outputs["appInsightsConnectionString"] not in text
    assert plan.raw_outputs["appInsightsInstrumentationKey"] not in text
    assert '"serviceUri": "[secret]"' in text
    assert KNOWN_HOOK in plan.secret_values()
    assert render.leaked_secrets(written, plan.secret_values()) == []


def test_the_leak_check_catches_an_unmasked_secret(tmp_path):
    leaky = tmp_path / "leaky.yaml"
    leaky.write_text(f"url: {KNOWN_HOOK}\n")
    assert render.leaked_secrets([leaky], {KNOWN_HOOK}) == [str(leaky)]


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
    ({"azure.availabilityTests": [{"name": "health", "url": "http://inference.example.com"}]},
     "azure.availabilityTests[0].url"),
]


@pytest.mark.parametrize("overrides, key", BAD_CONFIGS, ids=[key for _, key in BAD_CONFIGS])
def test_bad_config_stops_the_program_naming_the_key_and_registers_nothing(overrides, key):
    monitor = mocks.RecordingMonitor(mocks.PlanMocks())
    with pytest.raises(SettingsError) as error:
        mocks.run_program(config("staging", overrides), monitor)
    assert any(p.startswith(f"{NS}:{key} ") and 'in stack "staging"' in p for p in error.value.problems), \
        error.value.problems
    assert monitor.recorded == []


def test_make_render_exits_2_with_the_problems_and_writes_nothing(tmp_path):
    staging = (ROOT / "Pulumi.staging.yaml").read_text()
    broken = (staging.replace(f"{NS}:azure.retentionDays: 30", f"{NS}:azure.retentionDays: 7")
              .replace(f"{NS}:azure.actionGroupShortName: ai-staging",
                       f"{NS}:azure.actionGroupShortName: this-is-too-long"))
    assert broken != staging
    (tmp_path / "Pulumi.broken.yaml").write_text(broken)
    result = subprocess.run(
        [sys.executable, "-m", "tools.render", "broken", "--config-dir", str(tmp_path), "--out", str(tmp_path / "build")],
        cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == render.BAD_CONFIG
    assert f'{NS}:azure.retentionDays = 7 in stack "broken": must be an integer from 30 to 730' in result.stderr
    assert f'{NS}:azure.actionGroupShortName = "this-is-too-long" in stack "broken"' in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "build").exists()


def test_make_render_prints_what_it_would_create(capsys, tmp_path):
    assert render.main(["prod", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert 'stack "prod":' in out
    assert "azure-native:monitor:MetricAlert" in out and "  4\n" in out.split("MetricAlert")[1][:80]
    assert "rendered with placeholders: ai-observability:alertmanager.credentials, ai-observability:azure.webhookUrls" in out


# -- manifests -----------------------------------------------------------------

KUBERNETES_VERSIONS = {"staging": "1.35", "prod": "1.34"}


@pytest.mark.parametrize("stack", STACKS)
def test_manifests_are_the_planned_kubernetes_objects_exactly(rendered, stack):
    files = sorted((rendered / stack / "manifests").glob("*.yaml"))
    written = [yaml.safe_load(f.read_text()) for f in files]
    planned = [r.inputs for r in stack_plan(stack).resources if r.type.startswith("kubernetes:")]
    key = lambda o: (o["kind"], o["metadata"]["name"])
    assert sorted(written, key=key) == sorted(planned, key=key)
    assert [o["kind"] for o in written][:2] == ["Namespace", "ServiceAccount"]  # apply order


@pytest.mark.parametrize("stack", STACKS)
def test_every_manifest_passes_kubernetes_validate_strict_for_the_stack_version(rendered, stack):
    manifests = [yaml.safe_load(f.read_text()) for f in sorted((rendered / stack / "manifests").glob("*.yaml"))]
    core = [m for m in manifests if not render.is_operator_resource(m)]
    operator = {m["kind"] for m in manifests if render.is_operator_resource(m)}
    assert operator == {"PrometheusRule", "PodMonitor", "AlertmanagerConfig"}  # no schemas: checked by promtool, amtool
    for manifest in core:
        assert kubernetes_validate.validate(manifest, KUBERNETES_VERSIONS[stack], strict=True) == \
            KUBERNETES_VERSIONS[stack], manifest["metadata"]["name"]


@pytest.mark.parametrize("stack", STACKS)
def test_every_rendered_workload_follows_the_restricted_standard(rendered, stack):
    for path in (rendered / stack / "manifests").glob("*-deployment-*.yaml"):
        assert restricted_violations(yaml.safe_load(path.read_text())["spec"]["template"]["spec"]) == []


def test_the_secret_manifest_is_masked(rendered):
    secret = yaml.safe_load(next((rendered / "prod" / "manifests").glob("*-secret-*.yaml")).read_text())
    assert secret["stringData"] == {"appinsights-connection-string": "[secret]", "datadog-api-key": "[secret]"}
    leaks = render.leaked_secrets(list((rendered / "prod").rglob("*.*")), stack_plan("prod").secret_values())
    assert leaks == []


def test_an_invalid_manifest_is_reported_with_its_file_and_field(tmp_path):
    bad = tmp_path / "00-deployment-bad.yaml"
    bad.write_text(yaml.safe_dump({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "bad"},
                                   "spec": {"replicas": "three", "selector": {}, "template": {}, "surprise": 1}}))
    found = render.invalid_manifests([bad], "1.34")
    assert len(found) == 1 and found[0].startswith("00-deployment-bad.yaml: spec")
    assert render.invalid_manifests([bad], "1.99")[0].endswith("kubernetes-validate does not support version 1.99")


@pytest.mark.parametrize("stack", STACKS)
def test_prometheus_rules_file_is_the_planned_rule_groups(rendered, stack):
    written = yaml.safe_load((rendered / stack / "prometheus-rules.yaml").read_text())
    planned = [g for r in stack_plan(stack).resources if r.inputs.get("kind") == "PrometheusRule"
               for g in r.inputs["spec"]["groups"]]
    assert written["groups"] == planned
    assert [g["name"] for g in written["groups"]] == ["ai-inference-slo"]
