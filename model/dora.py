"""The four DORA metrics of a stack, from its deployment markers and the commits they shipped (pure).

- deployment frequency: deployments a day over the period;
- lead time for changes: from a commit to the deployment that first shipped it (median);
- change failure rate: deployments that failed, at `pulumi up`, at the verify after it, or as a canary
  its analysis aborted;
- time to restore: from a failed deployment to the next good one of the stack (median).

A deployment is one commit deployed to one stack (its services' markers together).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

HOUR = 3600


@dataclass(frozen=True)
class Deployment:
    stack: str
    commit: str
    time: datetime  # the first marker of the commit on the stack
    failed: bool


@dataclass(frozen=True)
class Dora:
    stack: str
    days: float
    deployments: int
    per_day: float
    lead_time_hours: float | None  # None: no commit could be timed
    change_failure_rate: float | None  # None: no deployment
    time_to_restore_hours: float | None  # None: nothing failed, or nothing restored yet


def deployments(markers: Iterable[Mapping[str, str]], stack: str) -> list[Deployment]:
    """The stack's deployments in time order: deploy markers grouped by commit, failed if any
    deploy, verify or rollout marker of that commit says failure."""
    found: dict[str, Deployment] = {}
    for marker in sorted((m for m in markers if m["stack"] == stack), key=lambda m: m["time"]):
        when = datetime.fromisoformat(marker["time"])
        failed = marker["result"] == "failure"
        known = found.get(marker["commit"])
        if known is None:
            if marker["event"] == "deploy":
                found[marker["commit"]] = Deployment(stack, marker["commit"], when, failed)
        elif failed:
            found[marker["commit"]] = Deployment(stack, known.commit, known.time, True)
    return sorted(found.values(), key=lambda d: d.time)


def metrics(stack: str, shipped: list[Deployment], commit_times: Callable[[str | None, str], list[datetime]],
            days: float) -> Dora:
    """`commit_times(previous, commit)`: when each commit after `previous` up to `commit` was made."""
    leads, restores = [], []
    previous = None
    for index, deployment in enumerate(shipped):
        leads += [(deployment.time - made).total_seconds() / HOUR
                  for made in commit_times(previous, deployment.commit)]
        previous = deployment.commit
        if deployment.failed:
            restored = next((later for later in shipped[index + 1:] if not later.failed), None)
            if restored is not None:
                restores.append((restored.time - deployment.time).total_seconds() / HOUR)
    failed = sum(d.failed for d in shipped)
    return Dora(
        stack=stack, days=days, deployments=len(shipped), per_day=len(shipped) / days,
        lead_time_hours=statistics.median(leads) if leads else None,
        change_failure_rate=failed / len(shipped) if shipped else None,
        time_to_restore_hours=statistics.median(restores) if restores else None,
    )
