"""The delivery pipelines: GitHub's workflows (actionlint and zizmor check them in make lint) and
.gitlab-ci.yml against GitLab's published CI schema (tests/fixtures/gitlab/SOURCE.md), running the same
tools in the same order."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.helpers import read_yaml

ROOT = Path(__file__).resolve().parents[2]
GITLAB = ROOT / ".gitlab-ci.yml"
WORKFLOWS = ROOT / ".github" / "workflows"
SCHEMA = json.loads((ROOT / "tests" / "fixtures" / "gitlab" / "ci.schema.json").read_text())


class GitLabLoader(yaml.SafeLoader):
    """YAML as GitLab reads it: `!reference [job, key]` is a list (GitLab resolves it)."""


def _reference(loader: yaml.SafeLoader, node: yaml.Node) -> list:
    return [loader.construct_object(item) for item in node.value]


GitLabLoader.add_constructor("!reference", _reference)


def gitlab(text: str) -> dict:
    return yaml.load(text, Loader=GitLabLoader)  # noqa: S506 (a SafeLoader)


def schema_errors(config: dict) -> list[str]:
    validator = jsonschema.Draft7Validator(SCHEMA, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    return [f"{'.'.join(map(str, error.absolute_path))}: {error.message}" for error in validator.iter_errors(config)]


def test_the_gitlab_pipeline_is_valid_for_gitlab():
    assert schema_errors(gitlab(GITLAB.read_text())) == []


@pytest.mark.parametrize("mistake, said", [
    (("  script:\n    - bash .ci/run", "  scirpt:\n    - bash .ci/run"), "'scirpt' was unexpected"),
    (("      when: manual", "      when: by-hand"), "is not valid under any of the given schemas"),
])
def test_a_mistake_in_the_gitlab_pipeline_fails_the_schema(mistake, said):
    old, new = mistake
    assert old in GITLAB.read_text()
    errors = schema_errors(gitlab(GITLAB.read_text().replace(old, new, 1)))
    assert any(said in error for error in errors), errors


def tools_run(text: str) -> list[str]:
    """The project's tools a pipeline runs, in order: `python -m tools.<tool>`, and `make marker`."""
    return [found.group(1) or found.group(2) for found in re.finditer(r"-m tools\.(\w+)|make (marker) ", text)]


def test_gitlab_runs_the_same_steps_as_the_github_workflows_in_the_same_order():
    github_up = (WORKFLOWS / "pulumi-up.yml").read_text()
    gitlab_up = yaml.safe_dump(gitlab(GITLAB.read_text())[".up"], sort_keys=False, width=1000)
    # load (before), the deploy marker, the canaries, their marker, load (after), the gate, its marker.
    expected = ["load", "marker", "rollouts", "marker", "load", "verify", "verify", "marker"]
    assert tools_run(github_up) == expected
    assert tools_run(gitlab_up) == expected
    review = (WORKFLOWS / "pull-request.yml").read_text()
    found = gitlab(GITLAB.read_text())
    assert {"diff", "policy_check"} <= set(tools_run(review))
    assert tools_run(yaml.safe_dump(found["plan diff"])) == ["diff"]
    assert tools_run(yaml.safe_dump(found["policies"])) == ["policy_check"]


def test_gitlab_deploys_staging_then_prod_by_hand_in_protected_environments_one_at_a_time():
    found = gitlab(GITLAB.read_text())
    staging, prod = found["staging"], found["prod"]
    assert (staging["environment"]["name"], prod["environment"]["name"]) == ("staging", "production")
    assert staging["variables"] == {"STACK": "staging", "LOAD": "true"} and prod["variables"] == {"STACK": "prod"}
    assert prod["needs"] == ["staging"] and prod["rules"][0]["when"] == "manual"
    assert staging["resource_group"] != prod["resource_group"]
    for job in (staging, prod):
        assert job["extends"] == ".up" and found[".up"]["interruptible"] is False  # never cancel a pulumi up
    assert found[".up"]["id_tokens"]["AZURE_FEDERATED_TOKEN"]["aud"] == "api://AzureADTokenExchange"
    # The plan diff and the policies run on merge requests only; the tests on both.
    for job in ("plan diff", "policies"):
        assert found[job]["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]
    assert "rules" not in found["test"]


def test_the_github_deploy_loads_staging_only_and_waits_for_every_stacks_canaries():
    deploy = read_yaml((WORKFLOWS / "deploy.yml").read_text())["jobs"]
    assert deploy["staging"]["with"]["load"] is True and "load" not in deploy["prod"]["with"]
    steps = read_yaml((WORKFLOWS / "pulumi-up.yml").read_text())["jobs"]["up"]["steps"]
    names = [step.get("name", "") for step in steps]
    assert names.index("pulumi up") < names.index("Canaries promoted or aborted (tools.rollouts, as make rollouts)") \
        < names.index("Post-deploy gate (tools.verify, as make verify)")
    marker = steps[names.index("Rollout marker")]
    assert "EVENT=rollout" in marker["run"] and "steps.rollouts.outcome" in marker["env"]["RESULT"]


def test_every_workflow_run_is_exported_as_a_trace_by_a_pinned_action():
    traces = read_yaml((WORKFLOWS / "ci-traces.yml").read_text())
    names = {read_yaml(path.read_text())["name"] for path in WORKFLOWS.glob("*.yml")}
    called = {"pulumi up"}  # reusable: its jobs are part of the deploy run that calls it
    trigger = traces[True]["workflow_run"]  # YAML 1.1 reads the key `on` as true
    assert set(trigger["workflows"]) == names - called - {traces["name"]} and trigger["types"] == ["completed"]
    step, = traces["jobs"]["export"]["steps"]
    assert re.fullmatch(r"corentinmusard/otel-cicd-action@[0-9a-f]{40}", step["uses"])
    assert step["with"]["runId"] == "${{ github.event.workflow_run.id }}"
    assert traces["jobs"]["export"]["permissions"] == {"actions": "read", "contents": "read"}
