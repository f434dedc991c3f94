"""`make diff`: plan comparison on fixture stacks, the providers' replacement rules, and the command
on a git branch that raises a threshold, adds a service and renames an Azure resource."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import FIXTURES, config
from tools import mocks, plan_diff
from tools.plan_diff import ABSENT, PropertyChange
from tools.replacement import replacing_paths

EMBEDDINGS = {"name": "embeddings", "image": "registry.example.com/ml/embeddings:2.0.0",
              "model": {"name": "e5", "version": "2"}}


def plan(stack="minimal", overrides=None):
    return mocks.run_program(config(stack, overrides)).to_json()


@pytest.fixture(scope="module")
def base():
    return plan()


def test_the_same_plan_changes_nothing(base):
    assert plan_diff.diff_plans(base, plan()) == []
    assert plan_diff.summary([]) == "no changes"


def test_a_raised_threshold_is_one_update_under_the_alerts_name(base):
    changes = plan_diff.diff_plans(base, plan(overrides={"azure.alerts": {"failedRequests": {"threshold": 15}}}))
    change, = changes
    assert (change.action, change.type, change.title) == ("update", "azure-native:monitor:MetricAlert",
                                                          "ai-minimal-failed-requests")
    assert change.properties == (PropertyChange("criteria.allOf[FailedRequests].threshold", 10, 15),)
    assert "criteria.allOf[FailedRequests].threshold: 10 → 15" in plan_diff.text("minimal", changes, "test")


def test_a_new_service_is_only_created_resources(base):
    services = json.loads(config("minimal").values["ai-observability:services"])
    head = plan(overrides={"services": [*services, EMBEDDINGS]})
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


def test_long_text_is_shown_as_a_line_diff():
    change = PropertyChange("spec.groups[x].rules[Y].expr", "rate(a[5m])\n> 0.1\n", "rate(a[5m])\n> 0.2\n")
    lines = plan_diff.property_lines(change)
    assert lines[0] == "spec.groups[x].rules[Y].expr:"
    assert "  -> 0.1" in lines and "  +> 0.2" in lines and "   rate(a[5m])" in lines


@pytest.mark.parametrize("type_, path, old, new, replaces", [
    ("kubernetes:apps/v1:Deployment", "metadata.name", "a", "b", True),
    ("kubernetes:apps/v1:Deployment", "spec.selector.matchLabels.app", "a", "b", True),
    ("kubernetes:apps/v1:Deployment", "spec.template.metadata.labels.app", "a", "b", False),
    ("kubernetes:core/v1:ConfigMap", "data.config.yaml", "a", "b", True),
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


def test_markdown_shows_each_change_as_diff_lines(base):
    changes = plan_diff.diff_plans(base, plan(overrides={"azure.alerts": {"failedRequests": {"threshold": 15}}}))
    text = plan_diff.markdown("minimal", changes, "main → working tree")
    assert text.startswith("### `minimal`: 1 to update")
    assert "```diff" in text
    assert "- criteria.allOf[FailedRequests].threshold: 10" in text
    assert "+ criteria.allOf[FailedRequests].threshold: 15" in text


# -- the command, on a branch ------------------------------------------------------------------

def run(*args, cwd):
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def branch(tmp_path_factory):
    """A repository whose main has one stack (the minimal fixture), and a working tree that raises a
    threshold, adds a service and renames the Log Analytics workspace in the code."""
    root = Path(__file__).resolve().parent.parent
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


def test_make_diff_shows_exactly_the_threshold_the_service_and_the_rename(branch):
    result, repo = branch
    assert result.returncode == 2, result.stderr  # changes
    out = result.stdout
    assert "stack review (merge-base with main" in out
    # The threshold, under the alert's name.
    assert "~ azure-native:monitor:MetricAlert ai-review-failed-requests" in out
    assert "criteria.allOf[FailedRequests].threshold: 10 → 15" in out
    # The rename: a replacement, and only the new id where other resources point at it.
    assert ("± azure-native:operationalinsights:Workspace ai-review-workspace  [azure-monitoring-workspace]  "
            "REPLACED: workspaceName cannot change in place") in out
    assert 'workspaceName: "ai-review-logs" → "ai-review-workspace"' in out
    lines = [line for line in out.splitlines() if line.startswith("  ") and not line.startswith("      ")]
    created = [line for line in lines if line.startswith("  + ")]
    assert created and all("embeddings" in line for line in created)
    updated = [line for line in lines if line.startswith("  ~ ")]
    others = [line for line in updated if "failed-requests" not in line]
    assert others and all(line.endswith("(follows a replacement)") for line in others)
    assert not [line for line in lines if line.startswith("  - ")]
    markdown = (repo / "build" / "diff" / "review.md").read_text()
    assert "**Replaced** (deleted and created again)" in markdown
    assert "`workspaceName` cannot change in place" in markdown
    assert (repo / "build" / "diff" / "comment.md").read_text().startswith("<!-- make diff -->")


def test_make_diff_without_changes_exits_0(branch):
    _, repo = branch
    result = run(sys.executable, "-m", "tools.diff", "--base", "HEAD", "--stack", "review", cwd=repo)
    assert result.returncode == 2  # the working tree still differs from HEAD
    clean = run("git", "stash", "-q", cwd=repo)
    assert clean.returncode == 0
    try:
        result = run(sys.executable, "-m", "tools.diff", "--base", "HEAD", cwd=repo)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "stack review (HEAD" in result.stdout and ": no changes" in result.stdout
    finally:
        run("git", "stash", "pop", "-q", cwd=repo)


def test_make_diff_names_a_stack_it_cannot_plan(branch):
    _, repo = branch
    stack = repo / "Pulumi.review.yaml"
    saved = stack.read_text()
    stack.write_text(saved.replace("dailyCapGb: 1", "dailyCapGb: many"))
    try:
        result = run(sys.executable, "-m", "tools.diff", cwd=repo)
    finally:
        stack.write_text(saved)
    assert result.returncode == 1
    assert "stack review at the working tree: SettingsError" in result.stderr
    assert "azure.dailyCapGb" in result.stderr
