"""The catalogue as Datadog monitors.

Each alternative of an entry becomes one monitor that notifies: an `slo alert` on the
service's SLO for a burn-rate window, a `query alert` or `service check` for one clause,
and for several clauses that must hold together a `composite` (`a && b`) of monitors
that notify nobody themselves (docs.datadoghq.com/monitors/types/composite: a composite
is OK as soon as one part is OK).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from model import catalogue
from model.catalogue import Alert, BurnRate, Threshold
from model.contract import Histogram, MetricContract, Series
from model.durations import prometheus
from model.naming import datadog as naming
from model.numbers import plain
from model.slo import LatencySlo, Objective

SLO_ID = "<slo-id:{slo}>"  # an SLO's id, by the SLO's name, until Datadog assigns it
RECOVERY = 0.8  # an "above" monitor clears once the value is back under 80% of its threshold
# The Agent's check and the SLOs cover every signal of a service. The pipeline's own metrics stay in the cluster:
# the collector exports its receivers' data, not its internal telemetry, and Datadog would be the backend
# whose feed is failing.
UNSUPPORTED: dict[str, str] = dict.fromkeys(
    catalogue.PIPELINE_SIGNALS, "the collector's own metrics are scraped by Prometheus only; Datadog receives "
                                "telemetry through the collector, so a failing pipeline is silence there, not data")


@dataclass(frozen=True)
class Monitor:
    key: str  # unique among the service's monitors
    title: str
    type: str  # query alert, slo alert, service check, composite
    query: str  # SLO_ID stands for the SLO's id; empty for a composite, whose query joins its parts' ids
    critical: float | None = None
    recovery: float | None = None
    ok: float | None = None  # a service check: OK runs in a row that recover it
    notifies: bool = True  # a composite's parts stay silent: the composite speaks for them
    no_data_minutes: int | None = None  # notify when the query has had no data this long
    parts: tuple[str, ...] = ()  # a composite's monitors, by key


def scope(tags: dict[str, str], exclude: dict[str, str] | None = None) -> str:
    items = [f"{key}:{value}" for key, value in sorted(tags.items())]
    items += [f"!{key}:{value}" for key, value in sorted((exclude or {}).items())]
    return "{" + ",".join(items) + "}"


SLO_REFERENCE = re.compile(r"<slo-id:([a-z-]+)>")


def slo_id(slo: str) -> str:
    """Stands for an SLO's id until Datadog assigns it."""
    return SLO_ID.format(slo=slo)


def with_slo_ids(query: str, ids: Mapping[str, str]) -> str:
    """`query` with each SLO's placeholder replaced by the id Datadog assigned it."""
    return SLO_REFERENCE.sub(lambda match: ids[match.group(1)], query)


def role_scope(role: Series | Histogram, tags: Mapping[str, str], exclude: Mapping[str, str] | None = None) -> str:
    """The scope selecting a role's series among those `tags` select, but those `exclude` selects."""
    return scope({**tags, **naming.series_tags(role)}, {**naming.excluded_tags(role), **(exclude or {})})


def role_query(series: Series, tags: Mapping[str, str], exclude: Mapping[str, str] | None = None) -> str:
    """A counter role's count over the monitor's or SLO's window."""
    return f"sum:{naming.series_metric(series)}{role_scope(series, tags, exclude)}.as_count()"


def slo_query(contract: MetricContract, env: str, service: str) -> tuple[str, str]:
    """Numerator (good requests) and denominator (all requests) of the availability SLO: the requests
    without the error label value, or, where failures have a counter of their own, all minus failed."""
    tags = naming.scope(env, service)
    requests, errors = contract.series("requests"), contract.series("errors")
    error = errors.matchers[-1] if errors.matchers else None
    if errors.metric == requests.metric and error and error.value and not error.negated and \
            errors.matchers[:-1] == requests.matchers:
        good = replace(requests, matchers=(*requests.matchers, replace(error, negated=not error.negated)))
        return role_query(good, tags), role_query(requests, tags)
    # A failure counter exists only after the first failure: until then, no errors rather than no data.
    return f"{role_query(requests, tags)} - default_zero({role_query(errors, tags)})", role_query(requests, tags)


def latency_slo_query(latency_slo: LatencySlo, contract: MetricContract, env: str, service: str) -> tuple[str, str]:
    """Requests at or under the threshold (a threshold query on the histogram's distribution: Datadog
    documents `count values` for metric SLOs on percentile-enabled distributions) over all requests."""
    histogram, tags = contract.histogram(latency_slo.role), naming.scope(env, service)
    within = f"count(v: v<={plain(histogram.le(latency_slo.threshold_seconds))})"
    good = f"{within}:{naming.distribution(histogram.metric)}{role_scope(histogram, tags)}.as_count()"
    return good, role_query(histogram.count, tags)


HEALTH_RUNS = 2  # consecutive CRITICAL runs of the service's health check that mean no endpoint answers


def health_check_query(tags: Mapping[str, str]) -> str:
    """The service's metrics endpoints, as one group: every pod's health check carries the same tags (the check
    is not tagged by endpoint, and the Agent's pod-level tags are off at the default check cardinality).
    Datadog keeps a group's last status for a day after it stops reporting (48 hours with no-data alerts:
    monitors/configuration, "Group retention time"), and a cluster percentage counts the last status of each
    tag combination (monitors/types/service_check): a group per pod would let the pods of an old rollout keep
    an OK share. With one group, its last runs are those of the live pods, interleaved: two CRITICAL in a row
    is no live pod answering (with one pod down among others, another's OK comes between); no run at all, no
    pod left, is the monitor's no data."""
    over = ",".join(f'"{key}:{value}"' for key, value in sorted(tags.items()))
    by = ",".join(f'"{key}"' for key in sorted(tags))
    return f'"{naming.HEALTH_CHECK}".over({over}).by({by}).last({HEALTH_RUNS}).count_by_status()'


def slo_percent(objective: Objective) -> tuple[float, float | None]:
    """An SLO's target and warning as Datadog takes them: percentages of at most three decimals (settings refuse
    a target with more). The warning, halfway through the budget, is rounded down, and dropped when rounding
    would bring it to the target: it must stay above it."""
    target = round(objective.target * 100, 3)
    warning = math.floor(round((objective.target + objective.error_budget / 2) * 100, 9) * 1000) / 1000
    return target, (warning if warning > target else None)


def burn_rate_query(objective: Objective, clause: BurnRate) -> str:
    # The long window is written in hours and the short one in minutes, as Datadog documents them
    # (service_level_objectives/burn_rate: 1h <= long window <= 48h; short window in minutes).
    window = clause.window
    return (f'burn_rate("{slo_id(clause.slo)}").over("{objective.period_days}d")'
            f'.long_window("{window.long_minutes // 60}h").short_window("{window.short_minutes}m")'
            f" > {plain(window.burn_rate)}")


def _timeframe(minutes: int) -> str:
    return f"last_{prometheus(minutes)}"  # last_5m, last_1h, last_1d: forms the monitor API accepts


# How a gauge is aggregated across the service's series: per replica on average, or the fullest.
GAUGES = {catalogue.QUEUE: ("queue", "avg"), catalogue.KV_CACHE: ("kv_cache", "max"),
          catalogue.QUALITY: ("quality", "avg"), catalogue.DRIFT: ("drift", "avg"),
          catalogue.HALLUCINATION_RATE: ("hallucination_rate", "avg")}


def threshold_query(threshold: Threshold, contract: MetricContract, env: str, service: str,
                    namespace: str = "") -> str:
    tags = naming.scope(env, service)
    signal, window = threshold.signal, _timeframe(threshold.window_minutes)
    condition = f"{threshold.comparator} {plain(threshold.value)}"
    if signal == catalogue.ERROR_RATIO:
        return (f"sum({window}):{role_query(contract.series('errors'), tags)} / "
                f"{role_query(contract.series('requests'), tags)} {condition}")
    if signal == catalogue.LATENCY:
        # Requests slower than the objective over all requests: a threshold query on the distribution (as the
        # latency SLOs' numerator), exact at a bucket bound, where a percentile is capped at the top bucket.
        if threshold.seconds is None:
            raise ValueError(f"{threshold} has no objective to count slower requests against")
        latency = contract.histogram("latency")
        slower = f"count(v: v>{plain(latency.le(threshold.seconds))})"
        return (f"sum({window}):{slower}:{naming.distribution(latency.metric)}{role_scope(latency, tags)}.as_count() / "
                f"{role_query(latency.count, tags)} {condition}")
    counters = {catalogue.REQUESTS: ("requests",), catalogue.TOKENS: ("input_tokens", "output_tokens"),
                catalogue.COST: ("cost",), catalogue.FEEDBACK: ("feedback",)}
    if signal in counters:
        summed = " + ".join(role_query(contract.series(role), tags) for role in counters[signal])
        return f"sum({window}):{summed} {condition}"
    if signal == catalogue.NEGATIVE_FEEDBACK:
        return (f"sum({window}):{role_query(contract.series('negative_feedback'), tags)} / "
                f"{role_query(contract.series('feedback'), tags)} {condition}")
    if signal in GAUGES:
        role, aggregation = GAUGES[signal]
        found = contract.series(role)
        return f"avg({window}):{aggregation}:{naming.series_metric(found)}{role_scope(found, tags)} {condition}"
    if signal in (catalogue.GPU_UTILIZATION, catalogue.GPU_MEMORY, catalogue.GPU_XID):
        gpus = scope(naming.gpu_scope(service, namespace))
        if signal == catalogue.GPU_UTILIZATION:
            return f"avg({window}):avg:{naming.DCGM_UTILIZATION}{gpus} / 100 {condition}"
        if signal == catalogue.GPU_MEMORY:
            used, free = (f"max:{metric}{gpus} by {{gpu,host}}" for metric in (naming.DCGM_MEMORY_USED,
                                                                             naming.DCGM_MEMORY_FREE))
            return f"avg({window}):{used} / ({used} + {free}) {condition}"
        # The gauge keeps the last XID until the driver restarts: alert on a GPU's rising to a new number. Per
        # GPU (the integration tags each with `gpu` and its host), so a lower XID on another GPU is its own.
        return f"change(max({window}),{window}):max:{naming.DCGM_XID}{gpus} by {{gpu,host}} {condition}"
    if signal == catalogue.TARGETS_UP and (threshold.comparator, threshold.value) == (catalogue.BELOW, 1):
        return health_check_query(tags)
    raise ValueError(f"no Datadog query for {threshold}")


def monitors(alert: Alert, objective: Objective, contract: MetricContract, env: str,
             namespace: str = "") -> list[Monitor]:
    """The monitors that express `alert`, parts before the composites that use them."""
    found: list[Monitor] = []
    key = alert.slug
    for clauses in alert.any_of:
        if len(clauses) == 1 and isinstance(clauses[0], BurnRate):
            clause = clauses[0]
            found.append(Monitor(f"{key}-{clause.window.name}", f"{alert.summary} ({clause.window.name})",
                                 "slo alert", burn_rate_query(objective, clause), critical=clause.window.burn_rate))
            continue
        alone = len(clauses) == 1
        parts = [_threshold_monitor(t, contract, env, alert.service, namespace, key if alone else f"{key}-{index}",
                                    alert.summary, alone)
                 for index, t in enumerate(clauses, 1) if isinstance(t, Threshold)]
        found += parts
        if not alone:
            found.append(Monitor(key, alert.summary, "composite", "", parts=tuple(p.key for p in parts)))
    return found


def _threshold_monitor(threshold: Threshold, contract: MetricContract, env: str, service: str, namespace: str,
                       key: str, summary: str, alone: bool) -> Monitor:
    title = summary if alone else f"{summary}: part {key.rsplit('-', 1)[-1]}, {threshold}"
    query = threshold_query(threshold, contract, env, service, namespace)
    if threshold.signal == catalogue.TARGETS_UP:
        # Checks stop arriving when every endpoint is gone: no data is the alert then.
        return Monitor(key, title, "service check", query, critical=HEALTH_RUNS, ok=1, notifies=alone,
                       no_data_minutes=5)
    # A recovery must lie below an "above" threshold, so a threshold of 0 (any XID error) has none.
    recovery = threshold.value * RECOVERY if threshold.comparator == catalogue.ABOVE and threshold.value else None
    return Monitor(key, title, "query alert", query, critical=threshold.value, recovery=recovery, notifies=alone)
