"""make rollouts: waiting for each canary to be promoted or aborted, as `kubectl get rollout` reports it.

kubectl is the cluster's client and there is no cluster here: a kubectl on PATH answers as the API server
would (Argo Rollouts' status.phase and message), from a script of answers per Rollout.
"""

from __future__ import annotations

import json
import os
import stat
import sys

import pytest

from tests.helpers import FIXTURES, load_settings
from tools import rollouts


@pytest.fixture
def kubectl(tmp_path, monkeypatch):
    """A kubectl answering `get rollout <name>` with each Rollout's next scripted status; logs its arguments."""
    script, calls = tmp_path / "answers.json", tmp_path / "calls.jsonl"
    program = tmp_path / "kubectl"
    program.write_text(f"""#!{sys.executable}
import json, sys
args = sys.argv[1:]
with open({str(calls)!r}, "a") as log:
    log.write(json.dumps(args) + "\\n")
answers = json.load(open({str(script)!r}))
name = args[args.index("rollout") + 1]
if name not in answers:
    print(f'Error from server (NotFound): rollouts.argoproj.io "{{name}}" not found', file=sys.stderr)
    sys.exit(1)
status = answers[name].pop(0) if len(answers[name]) > 1 else answers[name][0]
json.dump(answers, open({str(script)!r}, "w"))
generation = status.pop("generation", 1)
rollout = {{"kind": "Rollout", "metadata": {{"generation": generation}}}}
print(json.dumps({{**rollout, "status": {{"observedGeneration": "1", **status}}}}))
""")
    program.chmod(program.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")

    def answer(**by_rollout):
        script.write_text(json.dumps(by_rollout))
        return calls
    return answer


def run(capsys, stack="e2e"):
    code = rollouts.main([stack, "--config-dir", str(FIXTURES), "--poll", "0"])
    return code, capsys.readouterr()


def test_a_release_ends_promoted_once_every_canary_is_healthy(kubectl, capsys):
    calls = kubectl(steady=[{"phase": "Paused", "message": "CanaryPauseStep"}, {"phase": "Healthy"}],
                    canary=[{"phase": "Progressing"}, {"phase": "Healthy"}])
    code, said = run(capsys)
    assert code == 0
    assert said.out.splitlines() == ["steady 0.1.0: Healthy, promoted", "canary 0.1.0: Healthy, promoted"]
    assert "steady: Paused: CanaryPauseStep" in said.err
    asked = [json.loads(line) for line in calls.read_text().splitlines()]
    assert asked[0] == ["get", "rollout", "steady", "--namespace", "ai-inference-e2e", "--output", "json"]


def test_an_aborted_canary_fails_the_release_with_argos_reason(kubectl, capsys):
    kubectl(steady=[{"phase": "Healthy"}],
            canary=[{"phase": "Degraded", "message": "RolloutAborted: Rollout aborted update to revision 2: "
                                                     "Metric \"p95-seconds-vs-stable\" assessed Failed"}])
    code, said = run(capsys)
    assert code == 1
    assert said.out.splitlines()[1].startswith("canary 0.1.0: Degraded, not promoted: RolloutAborted")


def test_the_previous_releases_end_is_not_taken_for_this_ones(kubectl, capsys):
    """Right after pulumi up, before the controller saw the new spec, the phase is still the last release's."""
    kubectl(steady=[{"phase": "Healthy", "generation": 2}, {"phase": "Degraded", "message": "RolloutAborted"}],
            canary=[{"phase": "Healthy"}])
    code, said = run(capsys)
    assert code == 1 and "steady: Progressing: the controller has not seen the latest spec yet" in said.err


def test_a_cluster_that_cannot_be_asked_is_exit_2(kubectl, capsys):
    kubectl(steady=[{"phase": "Healthy"}])  # no Rollout named canary
    code, said = run(capsys)
    assert code == 2 and "kubectl get rollout canary exited 1" in said.err


def test_a_stack_without_canaries_has_nothing_to_wait_for(kubectl, capsys):
    code, said = run(capsys, "minimal")
    assert code == 0 and "nothing to wait for" in said.out


def test_the_deadline_is_the_pauses_each_steps_pods_and_a_margin():
    canary, = [s for s in load_settings("e2e").services if s.name == "canary"]
    # The fixture's steps pause 2m and 3m; two steps each wait for new pods (startupSeconds' default).
    assert rollouts.deadline_seconds(canary) == 120 + 180 + 2 * canary.startup_seconds + 600
