"""`make diff`: plan comparison on fixture stacks, the providers' replacement rules, the report a reviewer
reads, and the command on a git branch that raises a threshold, adds a service and renames an Azure resource."""

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import FIXTURES, config, load_settings, read_yaml
from tools import diff_report, mocks, plan_diff, stack_config
from tools.plan_diff import ABSENT, PropertyChange, ResourceChange
from tools.replacement import replacing_paths, routine_replacement

EMBEDDINGS = {"name": "embeddings", "image": "registry.example.com/ml/embeddings:2.0.0",
              "model": {"name": "e5", "version": "2"}}


def plan(stack="minimal", overrides=None):
    return mocks.run_program(config(stack, overrides)).to_json()


def services(stack):
    return json.loads(config(stack).values["ai-observability:services"])


@pytest.fixture(scope="module")
def base():
    return plan()


def test_the_same_plan_changes_nothing(base):
    assert plan_diff.diff_plans(base, plan()) == []
    assert diff_report.summary([]) == "no changes"


def test_a_raised_threshold_is_one_update_under_the_alerts_name(base):
    changes = plan_diff.diff_plans(base, plan(overrides={"azure.alerts": {"failedRequests": {"threshold": 15}}}))
    change, = changes
    assert (change.action, change.type, change.title) == ("update", "azure-native:monitor:MetricAlert",
                                                          "ai-minimal-failed-requests")
    assert change.properties == (PropertyChange("criteria.allOf[FailedRequests].threshold", 10, 15),)
    assert "      ~ criteria.allOf[FailedRequests].threshold: 10 → 15" in diff_report.text("minimal", changes, "test")


def test_a_new_service_is_only_created_resources(base):
    head = plan(overrides={"services": [*services("minimal"), EMBEDDINGS]})
    changes = plan_diff.diff_plans(base, head)
    assert {c.action for c in changes} == {"create"}
    assert all(c.name.startswith(("embeddings", "azure-monitoring-embeddings")) for c in changes)
    assert {c.type for c in changes} >= {"kubernetes:apps/v1:Deployment", "kubernetes:monitoring.coreos.com/v1:"
                                         "PrometheusRule", "azure-native:monitor:ScheduledQueryRule"}


def test_a_deleted_stack_deletes_everything_and_a_new_one_creates_everything(base):
    assert {c.action for c in plan_diff.diff_plans(base, None)} == {"delete"}
    assert len(plan_diff.diff_plans(None, base)) == len(base["resources"])


def test_named_list_items_are_matched_by_name_not_position(base):
    head = plan(overrides={"services": [{**EMBEDDINGS, "name": "ai-inference", "env": {"LOG_LEVEL": "debug"}}]})
    deployment, = [c for c in plan_diff.diff_plans(base, head) if c.type == "kubernetes:apps/v1:Deployment"]
    paths = {p.path: (p.old, p.new) for p in deployment.properties}
    assert paths["spec.template.spec.containers[inference].env[LOG_LEVEL]"] == (
        ABSENT, {"name": "LOG_LEVEL", "value": "debug"})
    assert paths["spec.template.spec.containers[inference].image"] == (
        "registry.example.com/ml/ai-inference:1.0.0", "registry.example.com/ml/embeddings:2.0.0")


def test_rules_are_named_by_alert_or_by_record_and_the_labels_that_tell_recordings_apart():
    rules = [{"record": "slo:sli_error:ratio_rate5m", "labels": {"service": "a", "slo": "availability"}},
             {"record": "slo:sli_error:ratio_rate5m", "labels": {"service": "a", "slo": "time-to-first-token"}},
             {"record": "slo:objective:ratio", "labels": {"service": "a", "slo": "availability"}},
             {"alert": "AIInferenceLatencyP95High", "labels": {"severity": "warning"}}]
    assert plan_diff.identities(rules) == [
        "slo:sli_error:ratio_rate5m{slo=availability}", "slo:sli_error:ratio_rate5m{slo=time-to-first-token}",
        "slo:objective:ratio", "AIInferenceLatencyP95High"]
    assert plan_diff.identities([{"color": "green"}, {"color": "red"}]) is None  # unnamed: by content
    # An inserted rule is one added item; the rest keep their names.
    inserted = [rules[0], {"alert": "New", "expr": "up == 0"}, *rules[1:]]
    assert [(p.path, p.old) for p in plan_diff.changes_between({"rules": rules}, {"rules": inserted})] == [
        ("rules[New]", ABSENT)]


def test_a_document_inside_a_string_is_compared_as_a_document():
    old = json.dumps({"panels": [{"id": 1, "title": "Latency (objective 1s)", "thresholds": [
        {"color": "green", "value": None}, {"color": "red", "value": 1}]}, {"id": 2, "title": "Cost"}]})
    new = json.dumps({"panels": [{"id": 1, "title": "Latency (objective 0.5s)", "thresholds": [
        {"color": "green", "value": None}, {"color": "red", "value": 0.5}]}, {"id": 2, "title": "Cost"}]})
    changes = list(plan_diff.changes_between({"data": {"x.json": old}}, {"data": {"x.json": new}}))
    assert [(c.path, c.old, c.new) for c in changes] == [
        ('data["x.json"].panels[Latency (objective 0.5s)].thresholds[1].value', 1, 0.5),
        ('data["x.json"].panels[Latency (objective 0.5s)].title', "Latency (objective 1s)",
         "Latency (objective 0.5s)")]
    # PromQL and KQL stay text, however many lines they have.
    assert plan_diff.document("sum(rate(x[5m]))\n> 1") is None
    assert plan_diff.document("requests\n| where success == false") is None
    assert plan_diff.document("receivers:\n  otlp: {}\n") == {"receivers": {"otlp": {}}}


def test_a_long_value_shows_what_changed_in_it_on_one_line():
    old = 'histogram_quantile(0.95, sum by (le) (rate(latency_bucket{job="a",namespace="b"}[5m]))) > 1\nand on()\n' \
          'sum(increase(requests_total{job="a"}[5m])) >= 20'
    line = diff_report.leaf_line(PropertyChange("spec.groups[g].rules[AIInferenceLatencyP95High].expr", old,
                                                old.replace("> 1\n", "> 0.5\n")))
    assert line.startswith("~ spec.groups[g].rules[AIInferenceLatencyP95High].expr: …")
    assert "[5m]))) > «1 → 0.5»⏎and on()" in line
    assert "\n" not in line and len(line) < len(old)
    tags = diff_report.leaf_line(PropertyChange("tags", ["env:a", "team:x"], ["env:a", "team:y", "tier:1"]))
    assert tags == '~ tags: added "team:y", "tier:1"; removed "team:x"'


def test_a_very_long_value_shows_the_span_that_changed():
    old = "word " * 3000 + "> 1 " + "tail " * 3000
    line = diff_report.inline_diff(old, old.replace("> 1 ", "> 0.5 "))
    assert "> «1 → 0.5»" in line and len(line) < 200


def test_no_report_line_is_longer_than_the_limit():
    long_path = "data." + "x" * 400
    huge = PropertyChange(long_path, "a " * 500, "b " * 500)
    added = PropertyChange("rules[R]", ABSENT, {"expr": "x" * 1000, "labels": {"a": "b"}})
    change = ResourceChange("replace", "kubernetes:core/v1:ConfigMap", "n", "t" * 400, (huge, added),
                            ("data",), "routine " * 100)
    for output in (diff_report.text("s", [change], "base → head"), diff_report.markdown("s", [change], "b → h")):
        assert max(len(line) for line in output.splitlines()) <= diff_report.MAX_LINE


def test_a_comment_too_long_for_github_keeps_every_summary_and_header_and_says_what_it_cut():
    leaf = PropertyChange("spec.x", "a" * 100, "b" * 100)
    changes = [ResourceChange("update", "kubernetes:apps/v1:Deployment", f"d{i}", f"deployment-{i}", (leaf,) * 40)
               for i in range(200)]
    whole = diff_report.comment("<!-- m -->", [("staging", changes, "main → head", "")], "plan-diff")
    assert len(whole) <= diff_report.COMMENT_LIMIT
    assert whole.startswith("<!-- m -->") and "| `staging` | 0 | 0 | 200 | 0 |" in whole
    assert "### `staging`: 200 to update" in whole
    assert all(f"**deployment-{i}**" in whole for i in range(200))  # every resource's header
    assert "spec.x" not in whole and "`plan-diff` artifact" in whole
    small = diff_report.comment("<!-- m -->", [("staging", changes[:2], "main → head", "")], "plan-diff")
    assert "spec.x" in small and "artifact" not in small


@pytest.mark.parametrize("type_, path, old, new, replaces", [
    ("kubernetes:apps/v1:Deployment", "metadata.name", "a", "b", True),
    ("kubernetes:apps/v1:Deployment", "spec.selector.matchLabels.app", "a", "b", True),
    ("kubernetes:apps/v1:Deployment", "spec.template.metadata.labels.app", "a", "b", False),
    ("kubernetes:core/v1:ConfigMap", 'data["config.yaml"]', "a", "b", True),
    ("kubernetes:core/v1:Service", "spec.clusterIP", "None", "10.0.0.1", True),
    ("kubernetes:core/v1:Service", "spec.type", "ClusterIP", "NodePort", False),
    ("kubernetes:monitoring.coreos.com/v1:PrometheusRule", "spec.groups[x].rules[Y].expr", "a", "b", False),
    ("azure-native:operationalinsights:Workspace", "workspaceName", "a", "b", True),
    ("azure-native:operationalinsights:Workspace", "location", "westeurope", "northeurope", True),
    ("azure-native:operationalinsights:Workspace", "retentionInDays", 30, 90, False),
    ("azure-native:applicationinsights:Component", "applicationType", "web", "other", True),
    ("azure-native:applicationinsights:Component", "kind", "web", "other", False),
    ("datadog:index/monitor:Monitor", "type", "query alert", "metric alert", False),
    ("datadog:index/monitor:Monitor", "type", "query alert", "composite", True),
    ("datadog:index/monitor:Monitor", "query", "a", "b", False),
])
def test_what_the_providers_replace_rather_than_update(type_, path, old, new, replaces):
    assert bool(replacing_paths(type_, [PropertyChange(path, old, new)])) is replaces


def test_a_config_map_named_by_its_content_or_a_dashboard_is_a_routine_replacement():
    def config_map(name, labels=None):
        return {"metadata": {"name": name, "labels": labels or {}}, "data": {"config.yaml": name}}
    configmap = "kubernetes:core/v1:ConfigMap"
    hashed = routine_replacement(configmap, config_map("otel-collector-0123456789"),
                                 config_map("otel-collector-abcdef0123"), {"metadata.name", 'data["config.yaml"]'})
    assert "content's hash" in hashed and "created before the old one is deleted" in hashed
    dashboard = routine_replacement(configmap, config_map("d", {"grafana_dashboard": "1"}),
                                    config_map("d", {"grafana_dashboard": "1"}), {'data["d.json"]'})
    assert "Grafana's sidecar" in dashboard
    # A plain ConfigMap renamed, or one of another name, is a replacement like any other.
    assert routine_replacement(configmap, config_map("a"), config_map("b"), {"metadata.name"}) == ""
    assert routine_replacement(configmap, config_map("otel-collector-0123456789"),
                               config_map("collector-abcdef0123"), {"metadata.name"}) == ""
    assert routine_replacement(configmap, config_map("d"), config_map("d"), {'data["d.json"]'}) == ""


def test_a_lower_latency_objective_reads_as_its_alerts_monitors_and_dashboards_changing():
    """On the alerting fixture: chat's P95 objective lowered to the bucket below it. The alert, its Datadog
    monitor and both dashboards show the stack's old and new number as leaves, in few short lines."""
    chat, scorer = services("alerting")
    old_p95 = chat["slo"]["latency"]["p95Seconds"]
    histogram = load_settings("alerting").services[0].metrics.latency
    assert histogram is not None
    new_p95 = max(b for b in histogram.buckets if b < old_p95)
    lowered = copy.deepcopy(chat)
    lowered["slo"]["latency"]["p95Seconds"] = new_p95
    changes = plan_diff.diff_plans(plan("alerting"), plan("alerting", {"services": [lowered, scorer]}))
    report = diff_report.text("alerting", changes, "base → head")
    lines = report.splitlines()
    assert len(lines) <= 60 and max(len(line) for line in lines) <= diff_report.MAX_LINE
    old, new = f"{old_p95:g}", f"{new_p95:g}"
    rule = next(line for line in lines if "rules[AIInferenceLatencyP95High].expr" in line)
    assert f"«{old} → {new}" in rule  # the bucket the share of slower requests is read at
    assert f"count(v: v>«{old} → {new}»)" in report  # the Datadog monitor's threshold query
    grafana = next(c for c in changes if c.type == "kubernetes:core/v1:ConfigMap")
    assert grafana.action == "replace" and "Grafana's sidecar" in grafana.routine
    assert any(p.path.endswith(".value") and (p.old, p.new) == (old_p95, new_p95) for p in grafana.properties)
    datadog = next(c for c in changes if c.type == "datadog:index/dashboardJson:DashboardJson")
    assert any((p.old, p.new) == (f"y = {old}", f"y = {new}") for p in datadog.properties)
    assert not [c for c in changes if c.action in ("create", "delete")]


# -- the command, on a branch ------------------------------------------------------------------

def run(*args, cwd):
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def branch(tmp_path_factory):
    """A repository whose main has one stack (the minimal fixture), and a working tree that raises a
    threshold, adds a service and renames the Log Analytics workspace in the code."""
    root = Path(__file__).resolve().parents[2]
    repo = tmp_path_factory.mktemp("repo")
    files = run("git", "ls-files", "-co", "--exclude-standard", cwd=root).stdout.split()
    for name in files:
        if (root / name).is_file() and not name.startswith("Pulumi.") or name == "Pulumi.yaml":
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / name, repo / name)
    shutil.copy(FIXTURES / "Pulumi.minimal.yaml", repo / "Pulumi.review.yaml")
    for command in (["git", "init", "-q", "-b", "main"], ["git", "add", "-A"],
                    ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "base"]):
        assert run(*command, cwd=repo).returncode == 0
    stack = repo / "Pulumi.review.yaml"
    stack.write_text(stack.read_text() + "\n".join([
        "  ai-observability:azure.alerts:",
        "    failedRequests: {threshold: 15}",
        "    # a second service",
    ]) + "\n")
    text = stack.read_text().replace(
        "      model: {name: classifier, version: \"1\"}\n",
        "      model: {name: classifier, version: \"1\"}\n"
        "    - name: embeddings\n      image: registry.example.com/ml/embeddings:2.0.0\n"
        "      model: {name: e5, version: \"2\"}\n", 1)
    stack.write_text(text)
    code = repo / "components" / "azure_monitoring.py"
    code.write_text(code.read_text().replace('resource_name("logs")', 'resource_name("workspace")'))
    result = run(sys.executable, "-m", "tools.diff", cwd=repo)
    return result, repo


@pytest.mark.slow  # planned in subprocesses, on a git repository
def test_make_diff_shows_exactly_the_threshold_the_service_and_the_rename(branch):
    result, repo = branch
    assert result.returncode == 2, result.stderr  # changes
    out = result.stdout
    assert "stack review (merge-base with main" in out
    # The threshold, under the alert's name.
    assert "~ azure-native:monitor:MetricAlert ai-review-failed-requests" in out
    assert "~ criteria.allOf[FailedRequests].threshold: 10 → 15" in out
    # The rename: a replacement, and only the new id where other resources point at it.
    assert ("± azure-native:operationalinsights:Workspace ai-review-workspace  [azure-monitoring-workspace]\n"
            "      replaced: workspaceName cannot change in place\n") in out
    assert '~ workspaceName: "ai-review-logs" → "ai-review-workspace"' in out
    lines = [line for line in out.splitlines() if line.startswith("  ") and not line.startswith("      ")]
    created = [line for line in lines if line.startswith("  + ")]
    assert created and all("embeddings" in line for line in created)
    updated = [line for line in lines if line.startswith("  ~ ")]
    others = [line for line in updated if "failed-requests" not in line]
    assert others and all(line.endswith("(follows a replacement)") for line in others)
    assert not [line for line in lines if line.startswith("  - ")]
    markdown = (repo / "build" / "diff" / "review.md").read_text()
    assert "**Replaced (deleted and created again)**" in markdown
    assert "**ai-review-workspace**: workspaceName cannot change in place" in markdown
    assert (repo / "build" / "diff" / "comment.md").read_text().startswith("<!-- make diff -->")


@pytest.mark.slow  # planned in subprocesses, on a git repository
def test_make_diff_without_changes_exits_0(branch):
    _, repo = branch  # whose working tree differs from HEAD: exit 2, as the fixture's run shows
    clean = run("git", "stash", "-q", cwd=repo)
    assert clean.returncode == 0
    try:
        result = run(sys.executable, "-m", "tools.diff", "--base", "HEAD", cwd=repo)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "stack review (HEAD" in result.stdout and ": no changes" in result.stdout
    finally:
        run("git", "stash", "pop", "-q", cwd=repo)


# -- the pull-request workflow's step, as GitHub runs it ---------------------------------------------

def workflow_step(name):
    workflow = read_yaml((stack_config.ROOT / ".github" / "workflows" / "pull-request.yml").read_text())
    return next(step for step in workflow["jobs"]["review"]["steps"] if step.get("name") == name)


def run_step(step, repo):
    """The step's script under bash -e, as a GitHub run: step shell on ubuntu, with the step's env."""
    assert "${{" not in step["run"], "the script reads its inputs from the environment"
    env = {**os.environ, **{k: "main" for k in step.get("env", {})}}  # BASE_REF: the pull request's base
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], cwd=repo,
                          env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow  # planned in subprocesses, on a git repository
def test_the_pull_request_diff_step_passes_on_changes_and_fails_on_a_stack_that_cannot_be_planned(branch):
    _, repo = branch
    step = workflow_step("What the change does to each stack")
    assert run(*"git update-ref refs/remotes/origin/main main".split(), cwd=repo).returncode == 0
    if not (repo / ".venv").exists():
        (repo / ".venv").symlink_to(sys.prefix)  # the virtualenv the setup action makes
    changed = run_step(step, repo)
    assert changed.returncode == 0, changed.stdout + changed.stderr
    assert "~ criteria.allOf[FailedRequests].threshold: 10 → 15" in changed.stdout
    stack = repo / "Pulumi.review.yaml"
    saved = stack.read_text()
    stack.write_text(saved.replace("dailyCapGb: 1", "dailyCapGb: many"))
    try:
        broken = run_step(step, repo)
    finally:
        stack.write_text(saved)
    # make diff's error fails the step with its exit code (1), saying which stack, on which side, and which key.
    assert broken.returncode == 1
    assert "stack review at the working tree: SettingsError" in broken.stderr
    assert "azure.dailyCapGb" in broken.stderr


@pytest.mark.slow  # planned in subprocesses, on a git repository
def test_make_diff_with_changes_succeeds_without_an_error_line(branch):
    _, repo = branch
    if not (repo / ".venv").exists():
        (repo / ".venv").symlink_to(sys.prefix)
    result = run("make", "--old-file=.venv/.installed", "diff", "BASE=main", cwd=repo)  # never reinstall here
    assert result.returncode == 0, result.stdout + result.stderr
    assert "to update" in result.stdout and "Error" not in result.stdout + result.stderr
