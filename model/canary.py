"""A canary release (pure): an Argo Rollouts canary strategy, and its analysis built from the post-deploy
gate's own checks (model/verification.py), so a rollout is promoted or aborted on the numbers the alerts
and `make verify --canary` use, never written twice.

The canary is told apart from the stable version by the `version` label (the PodMonitor copies it from
the pod, Datadog tags by it, `make verify --canary` selects on it): the Rollout passes its new version to
the analysis as the argument `canary-version`, which Argo writes into each query.

Each metric's query answers one number: the canary's measure, or its difference from the stable
version's. It answers NaN while the canary (or, for a comparison, the stable version) served fewer
requests than the gate needs: NaN meets neither condition, which Argo records as Inconclusive. Every
condition has one form, `result[0] <= limit` and `result[0] > limit`, so a test evaluates it exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from model import verification
from model.contract import Matcher, MetricContract
from model.dialects import datadog
from model.durations import prometheus_seconds
from model.naming import datadog as datadog_naming
from model.naming import prometheus as prometheus_naming
from model.numbers import plain
from model.slo import ServiceSlo
from model.verification import Tolerance

API_VERSION = "argoproj.io/v1alpha1"
CANARY_ARG = "canary-version"
CANARY_VERSION = f"{{{{args.{CANARY_ARG}}}}}"  # what Argo replaces with the argument's value
HASH_LABEL = "rollouts-pod-template-hash"  # Argo's label on each version's pods (its ReplicaSet's)
# What a canary is held to: the objectives of a share of the traffic. Tokens and cost budget the whole
# service an hour, which a canary's share says nothing about.
JUDGED = ("error_ratio", "p95", "p99")


@dataclass(frozen=True)
class AnalysisMetric:
    """One measurement of the canary: its query and the limit it must stay at or under."""

    name: str  # the AnalysisTemplate metric's name: the gate's check's ("P95 s vs stable": p95-seconds-vs-stable)
    limit: float  # a stack key's value, or 0 and the gate's tolerance for a difference from the stable version
    query: str  # PromQL, with CANARY_VERSION where Argo writes the canary's version

    @property
    def success(self) -> str:
        return f"result[0] <= {plain(self.limit)}"

    @property
    def failure(self) -> str:
        return f"result[0] > {plain(self.limit)}"

    def datadog_conditions(self) -> tuple[str, str]:
        """Success and failure on Datadog's answer, one number, or nil without data (JSON has no NaN): nil meets
        neither, which is Inconclusive, as NaN is from Prometheus. (expr type-checks both sides of && before
        running: `default` gives the comparison a number to check, the guard keeps nil from reaching it.)"""
        limit = plain(self.limit)
        return (f"!isNil(result) && default(result, 0) <= {limit}", f"!isNil(result) && default(result, 0) > {limit}")


def _slug(check: str) -> str:
    """The gate's check name as a metric name: "P95 s" -> p95-seconds."""
    name = check.lower()
    return (name.removesuffix(" s") + " seconds" if name.endswith(" s") else name).replace(" ", "-")


def _judged(value: str, counts: list[str], min_requests: int) -> str:
    """`value` while every count reaches `min_requests`, else NaN."""
    guards = "".join(f" and on() ({count} >= {min_requests})" for count in counts)
    return f"({value}){guards} or on() vector(NaN)"


def prometheus_metrics(contract: MetricContract, slo: ServiceSlo, service: str, namespace: str, window: str,
                       tolerance: Tolerance, min_requests: int) -> list[AnalysisMetric]:
    """The gate's checks of a canary (verify --canary) over `window`, as PromQL."""
    labels, seconds = prometheus_naming.selector(service, namespace), prometheus_seconds(window)
    version = prometheus_naming.VERSION_LABEL
    canary = verification.queries(contract, labels, window, seconds, (Matcher(version, CANARY_VERSION),))
    stable = verification.queries(contract, labels, window, seconds, (Matcher(version, CANARY_VERSION, True),))
    both = [canary["requests"], stable["requests"]]
    found = [AnalysisMetric(_slug(check), limit, _judged(canary[key], [canary["requests"]], min_requests))
             for check, key, limit, _ in verification.limits(slo) if key in JUDGED and key in canary]
    difference = f"({canary['error_ratio']}) - ({stable['error_ratio']})"
    found.append(AnalysisMetric("error-ratio-vs-stable", tolerance.error_ratio,
                                _judged(difference, both, min_requests)))
    for key in ("p95", "p99"):
        if key in canary:
            # verification.latency_limit in PromQL: max(stable * (1 + t), stable + floor)
            # = stable + max(stable * t, floor)
            allowed = f"clamp_min(({stable[key]}) * {plain(tolerance.latency)}, " \
                      f"{plain(tolerance.latency_floor_seconds)})"
            slower = f"({canary[key]}) - ({stable[key]}) - {allowed}"
            found.append(AnalysisMetric(f"{key}-seconds-vs-stable", 0, _judged(slower, both, min_requests)))
    return found


def datadog_queries(contract: MetricContract, env: str, service: str) -> dict[str, dict]:
    """The canary's error ratio and its difference from the stable version's, as Datadog's v2 queries and
    formula (the Agent tags every series with the pod's version: unified service tagging)."""
    tags, version = datadog_naming.scope(env, service), {datadog_naming.VERSION_TAG: CANARY_VERSION}

    def count(role: str, canary: bool) -> str:
        found = (datadog.role_query(contract.series(role), {**tags, **version}) if canary else
                 datadog.role_query(contract.series(role), tags, exclude=version))
        # A failure counter exists only after the first failure: until then, no errors rather than no data.
        return f"default_zero({found})" if role == "errors" else found

    queries = {f"{who}_{role}": count(role, who == "canary") for who in ("canary", "stable")
               for role in ("errors", "requests")}
    return {"error-ratio": {"queries": {k: queries[k] for k in ("canary_errors", "canary_requests")},
                            "formula": "canary_errors / canary_requests"},
            "error-ratio-vs-stable": {"queries": queries, "formula": "canary_errors / canary_requests - "
                                                                     "stable_errors / stable_requests"}}


def analysis_template(metrics: list[AnalysisMetric], provider: Mapping[str, str], *, interval: str, window: str,
                      failure_limit: int, datadog: Mapping[str, Mapping] | None = None) -> dict:
    """The AnalysisTemplate's spec. `provider`: Prometheus' address (and, with `datadog`, the metrics Datadog
    judges instead, by name, in its v2 query and formula form)."""
    def metric(found: AnalysisMetric) -> dict:
        # Datadog: each query summed over the window (its `interval`), then the formula.
        source = ({"datadog": {"apiVersion": "v2", "interval": window, "aggregator": "sum", **datadog[found.name]}}
                  if datadog else {"prometheus": {**provider, "query": found.query}})
        success, failure = found.datadog_conditions() if datadog else (found.success, found.failure)
        # No count: a background analysis measures until the rollout ends (Argo then stops it); with a count it
        # could end Successful while the last steps still run unjudged, since the steps wait for pods.
        return {"name": found.name, "initialDelay": window, "interval": interval,
                "failureLimit": failure_limit, "inconclusiveLimit": failure_limit,
                "successCondition": success, "failureCondition": failure, "provider": source}

    chosen = [m for m in metrics if not datadog or m.name in datadog]
    return {"args": [{"name": CANARY_ARG}], "metrics": [metric(m) for m in chosen]}


def canary_strategy(steps: tuple[tuple[int, str], ...], template: str, version: str,
                    traffic: Mapping[str, str] | None = None) -> dict:
    """The Rollout's canary: its steps, the analysis in the background from the first pause (once the first
    weight's pods are ready: setWeight waits for them); with `traffic` (stable and canary Services and the NGINX
    Ingress), the weight splits the traffic too."""
    strategy: dict = {
        "steps": [step for weight, pause in steps for step in ({"setWeight": weight}, {"pause": {"duration": pause}})],
        "analysis": {"templates": [{"templateName": template}], "startingStep": 1,
                     "args": [{"name": CANARY_ARG, "value": version}]},
    }
    if traffic:
        strategy.update({"stableService": traffic["stable"], "canaryService": traffic["canary"],
                         "trafficRouting": {"nginx": {"stableIngress": traffic["ingress"]}}})
    return strategy
