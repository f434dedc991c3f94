"""A release's canaries to their end: `make rollouts STACK=<stack>`.

After `pulumi up` starts a canary (a service with `rollout.enabled` runs as an Argo Rollouts Rollout), waits
for each of the stack's Rollouts to end Healthy (its analysis passed every step: promoted) or Degraded (its
analysis failed: aborted, the stable version serves again), asking the cluster with `kubectl get rollout`
(the current kubeconfig, or the stack's kubernetes.context). A Rollout still Paused or Progressing at the
deadline (the steps' pauses, each step's pods starting, and a margin) has not ended: a Paused one waits on
an inconclusive analysis for a person to promote or abort it.

Prints one line per service. Exit 0 when every Rollout is Healthy (or the stack has none), 1 when any was
aborted or did not end in time, 2 on bad arguments or when the cluster could not be asked.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from config.settings import ServiceSettings
from model.durations import prometheus_seconds
from tools import stack_config
from tools.arguments import stack_settings

# Argo Rollouts' status.phase at a release's end. Degraded: aborted by its analysis (RolloutAborted), or stuck
# (its progress deadline passed, an invalid spec): the message says which; either is a failed change.
ENDED = {"Healthy": "promoted", "Degraded": "not promoted"}
MARGIN_SECONDS = 600
POLL_SECONDS = 10


def deadline_seconds(service: ServiceSettings) -> int:
    """How long a release of `service` may take: its pauses, each step's new pods starting, and a margin."""
    steps = service.rollout.steps
    return sum(prometheus_seconds(pause) for _, pause in steps) + len(steps) * service.startup_seconds + \
        MARGIN_SECONDS


def phase(namespace: str, name: str, context: str | None) -> tuple[str, str]:
    """The Rollout's status.phase and message, Progressing until the controller has seen the latest spec (as
    Argo's own GetRolloutPhase: status.observedGeneration against metadata.generation), so a release's end is
    never read from the one before; raises RuntimeError when kubectl cannot say."""
    command = ["kubectl", *(["--context", context] if context else []), "get", "rollout", name,
               "--namespace", namespace, "--output", "json"]
    try:
        ran = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise RuntimeError(f"kubectl could not run: {error}") from error
    if ran.returncode != 0:
        raise RuntimeError(f"kubectl get rollout {name} exited {ran.returncode}: {ran.stderr.strip()[-400:]}")
    rollout = json.loads(ran.stdout)
    status = rollout.get("status") or {}
    if str(status.get("observedGeneration")) != str(rollout.get("metadata", {}).get("generation")):
        return "Progressing", "the controller has not seen the latest spec yet"
    return status.get("phase", "Progressing"), status.get("message", "")


def wait(service: ServiceSettings, namespace: str, context: str | None, poll: float,
         progress: Callable[[str], None]) -> tuple[str, str]:
    """The Rollout's last phase and message, once it ended or its deadline passed."""
    deadline = time.monotonic() + deadline_seconds(service)
    while True:
        found, message = phase(namespace, service.name, context)
        if found in ENDED or time.monotonic() >= deadline:
            return found, message
        progress(f"{service.name}: {found}{': ' + message if message else ''}")
        time.sleep(poll)


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make rollouts", description=__doc__.splitlines()[0])
    parser.add_argument("stack", help="the stack whose Rollouts to wait for: Pulumi.<stack>.yaml")
    parser.add_argument("--poll", type=float, default=POLL_SECONDS, help=argparse.SUPPRESS)
    parser.add_argument("--config-dir", type=Path, default=stack_config.ROOT, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    settings = stack_settings(args.stack, args.config_dir)
    if settings is None:
        return 2
    canaries = [s for s in settings.services if s.rollout.enabled]
    if not canaries:
        print(f"stack {args.stack} releases no service as canaries: nothing to wait for")
        return 0
    results = []
    for service in canaries:
        try:
            found, message = wait(service, settings.kubernetes.namespace, settings.kubernetes.context, args.poll,
                                  lambda line: print(line, file=sys.stderr, flush=True))
        except RuntimeError as error:
            print(f"{service.name}: could not ask the cluster: {error}", file=sys.stderr)
            return 2
        verdict = ENDED.get(found, f"not ended in {deadline_seconds(service) // 60} min")
        print(f"{service.name} {service.version}: {found}, {verdict}{': ' + message if message else ''}")
        results.append(found == "Healthy")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
