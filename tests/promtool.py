"""promtool for the rule tests: the rules a case is about, how often to evaluate them, and the run.

promtool evaluates every rule it loads at every step of a case, so a case loads only the alerts it checks
and the recording rules they read, which is what decides them: a rule reads the previous evaluation of a
rule after it in its group, and the current one of a rule before it, so order and groups are kept.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

import pytest
import yaml

PROMTOOL = shutil.which("promtool")

# The evaluation interval of a case whose series all grow at a constant rate from its start. Every window then
# holds the same ratio at every evaluation from the second sample on, so an alert's condition never changes:
# one that would fire is firing at the first check after its `for:` and stays so, whatever the interval.
# Hourly evaluation finds every such alert at a twelfth of the 5-minute steps, provided no rule reads a recording
# evaluated after it: that one's value is an hour old, past the 5-minute lookback (start checks it).
CONSTANT_RATE_EVALUATION = "1h"


def _names(name: str) -> re.Pattern:
    """Where a metric or recorded name stands as a whole name in an expression (names may hold colons)."""
    return re.compile(rf"(?<![\w:]){re.escape(name)}(?![\w:])")


def _with_what_they_read(rules: list[dict], wanted: list[dict]) -> list[dict]:
    """`wanted` and the recording rules of `rules` they read, transitively."""
    recorded = {rule["record"]: _names(rule["record"]) for rule in rules if "record" in rule}
    found, pending = {id(rule): rule for rule in wanted}, list(wanted)
    while pending:
        expression = pending.pop()["expr"]
        read = {name for name, pattern in recorded.items() if pattern.search(expression)}
        new = [rule for rule in rules if rule.get("record") in read and id(rule) not in found]
        found.update((id(rule), rule) for rule in new)
        pending += new
    return list(found.values())


def read_by(groups: list[dict], alerts: Iterable[str]) -> list[dict]:
    """`groups` with only the alerting rules named `alerts` and the recording rules they read, transitively."""
    rules = [rule for group in groups for rule in group["rules"]]
    checked = [rule for rule in rules if rule.get("alert") in set(alerts)]
    needed = {id(rule) for rule in _with_what_they_read(rules, checked)}
    kept = [{**group, "rules": [rule for rule in group["rules"] if id(rule) in needed]} for group in groups]
    return [group for group in kept if group["rules"]]


def reading(groups: list[dict], series: Iterable[dict]) -> set[str]:
    """The alerts of `groups` that read a metric of promtool's input `series`, themselves or through the
    recording rules they read: the alerts a case feeds (any other one reads nothing there)."""
    metrics = [_names(entry["series"].split("{")[0]) for entry in series]
    rules = [rule for group in groups for rule in group["rules"]]
    return {alert["alert"] for alert in rules if "alert" in alert
            if any(metric.search(rule["expr"]) for rule in _with_what_they_read(rules, [alert]) for metric in metrics)}


def read_before_recorded(groups: list[dict]) -> list[str]:
    """Rules that read a recording rule evaluated after them (later in their group, or in a later group): they
    see its previous evaluation, one interval old."""
    recorded = {rule["record"] for group in groups for rule in group["rules"] if "record" in rule}
    evaluated: set[str] = set()
    found = []
    for rule in (rule for group in groups for rule in group["rules"]):
        found += [f"{rule.get('alert') or rule['record']} reads {name}"
                  for name in sorted(recorded - evaluated) if _names(name).search(rule["expr"])]
        evaluated |= {rule["record"]} if "record" in rule else set()
    return found


def checked_alerts(tests: list[dict]) -> set[str]:
    """The alert names a promtool test file's cases check."""
    return {check["alertname"] for test in tests for check in test["alert_rule_test"]}


def executable() -> str:
    """promtool's path; fails the test where it is missing (the tests that need it are skipped outside CI)."""
    if PROMTOOL is None:
        pytest.fail("CI=true and promtool is missing: .ci/run must install Debian's prometheus package")
    return PROMTOOL


def start(directory: Path, name: str, groups: list[dict], tests: list[dict], evaluation: str) -> subprocess.Popen:
    """`promtool test rules` on `tests` against the rules of `groups` they check, in `directory`; not waited for."""
    binary = executable()
    kept = read_by(groups, checked_alerts(tests))
    if evaluation == CONSTANT_RATE_EVALUATION:
        assert read_before_recorded(kept) == [], "evaluated hourly, these would read an hour-old value"
    (directory / f"{name}.rules.yaml").write_text(yaml.safe_dump({"groups": kept}, sort_keys=False))
    (directory / f"{name}.test.yaml").write_text(yaml.safe_dump(
        {"rule_files": [f"{name}.rules.yaml"], "evaluation_interval": evaluation, "tests": tests},
        sort_keys=False, width=1000))
    return subprocess.Popen([binary, "test", "rules", f"{name}.test.yaml"], cwd=directory,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def passes(process: subprocess.Popen) -> None:
    """Waits for a `start`ed run; fails the test with what promtool said unless every case passed."""
    said, _ = process.communicate(timeout=300)
    assert process.returncode == 0, said
