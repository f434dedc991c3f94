"""The catalogue as Datadog monitors.

Each alternative of an entry becomes one monitor that notifies: an `slo alert` on the
service's SLO for a burn-rate window, a `query alert` or `service check` for one clause,
and for several clauses that must hold together a `composite` (`a && b`) of monitors
that notify nobody themselves (docs.datadoghq.com/monitors/types/composite: a composite
is OK as soon as one part is OK).
"""

from __future__ import annotations

from dataclasses import dataclass

from model import catalogue
from model.catalogue import Alert, BurnRate, Threshold
from model.contract import MetricContract
from model.durations import prometheus
from model.naming import datadog as naming
from model.numbers import plain
from model.slo import Objective

SLO_ID = "<slo-id>"  # stands for the SLO's id until Datadog assigns it
RECOVERY = 0.8  # an "above" monitor clears once the value is back under 80% of its threshold
PERCENTILES = (0.5, 0.75, 0.9, 0.95, 0.99)  # what a distribution with percentiles offers
UNSUPPORTED: dict[str, str] = {}  # the Agent's check and the SLO cover every signal


@dataclass(frozen=True)
class Monitor:
    key: str  # unique among the service's monitors
    title: str
    type: str  # query alert, slo alert, service check, composite
    query: str  # SLO_ID stands for the SLO's id; empty for a composite, whose query joins its parts' ids
    critical: float | None = None
    recovery: float | None = None
    notifies: bool = True  # a composite's parts stay silent: the composite speaks for them
    no_data_minutes: int | None = None  # notify when the query has had no data this long
    parts: tuple[str, ...] = ()  # a composite's monitors, by key


def scope(tags: dict[str, str], exclude: dict[str, str] | None = None) -> str:
    items = [f"{key}:{value}" for key, value in sorted(tags.items())]
    items += [f"!{key}:{value}" for key, value in sorted((exclude or {}).items())]
    return "{" + ",".join(items) + "}"


def slo_query(contract: MetricContract, env: str, service: str) -> tuple[str, str]:
    """Numerator (good requests) and denominator (all requests) of the metric-based SLO."""
    tags = naming.scope(env, service)
    metric = naming.count(contract.requests)
    good = scope(tags, exclude={contract.status_label: contract.error_status})
    return f"sum:{metric}{good}.as_count()", f"sum:{metric}{scope(tags)}.as_count()"


def burn_rate_query(objective: Objective, clause: BurnRate) -> str:
    # The long window is written in hours and the short one in minutes, as Datadog documents them
    # (service_level_objectives/burn_rate: 1h <= long window <= 48h; short window in minutes).
    window = clause.window
    return (f'burn_rate("{SLO_ID}").over("{objective.period_days}d")'
            f'.long_window("{window.long_minutes // 60}h").short_window("{window.short_minutes}m")'
            f" > {plain(window.burn_rate)}")


def _timeframe(minutes: int) -> str:
    return f"last_{prometheus(minutes)}"  # last_5m, last_1h, last_1d: forms the monitor API accepts


def threshold_query(threshold: Threshold, contract: MetricContract, env: str, service: str) -> str:
    tags = naming.scope(env, service)
    signal, window = threshold.signal, _timeframe(threshold.window_minutes)
    condition = f"{threshold.comparator} {plain(threshold.value)}"
    if signal == catalogue.ERROR_RATIO:
        requests = naming.count(contract.requests)
        errors = scope({**tags, contract.status_label: contract.error_status})
        return f"sum({window}):sum:{requests}{errors}.as_count() / sum:{requests}{scope(tags)}.as_count() {condition}"
    if signal == catalogue.LATENCY:
        if threshold.quantile not in PERCENTILES:
            raise ValueError(f"Datadog distributions offer no p{plain((threshold.quantile or 0) * 100)}")
        return f"percentile({window}):p{plain(threshold.quantile * 100)}:{naming.distribution(contract.latency)}" \
               f"{scope(tags)} {condition}"
    counters = {catalogue.REQUESTS: contract.requests, catalogue.TOKENS: contract.tokens,
                catalogue.COST: contract.cost}
    if signal in counters:
        return f"sum({window}):sum:{naming.count(counters[signal])}{scope(tags)}.as_count() {condition}"
    if signal == catalogue.TARGETS_UP and (threshold.comparator, threshold.value) == (catalogue.BELOW, 1):
        # No endpoint answering is every health check CRITICAL: a cluster check over the service.
        over = ",".join(f'"{key}:{value}"' for key, value in sorted(tags.items()))
        return f'"{naming.HEALTH_CHECK}".over({over}).by("*").last(1).pct_by_status()'
    raise ValueError(f"no Datadog query for {threshold}")


def monitors(alert: Alert, objective: Objective, contract: MetricContract, env: str) -> list[Monitor]:
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
        parts = [_threshold_monitor(t, contract, env, alert.service, key if alone else f"{key}-{index}",
                                    alert.summary, alone)
                 for index, t in enumerate(clauses, 1) if isinstance(t, Threshold)]
        found += parts
        if not alone:
            found.append(Monitor(key, alert.summary, "composite", "", parts=tuple(p.key for p in parts)))
    return found


def _threshold_monitor(threshold: Threshold, contract: MetricContract, env: str, service: str, key: str,
                       summary: str, alone: bool) -> Monitor:
    title = summary if alone else f"{summary}: part {key.rsplit('-', 1)[-1]}, {threshold}"
    query = threshold_query(threshold, contract, env, service)
    if threshold.signal == catalogue.TARGETS_UP:
        # Checks stop arriving when every endpoint is gone: no data is the alert then.
        return Monitor(key, title, "service check", query, critical=100, notifies=alone, no_data_minutes=5)
    recovery = threshold.value * RECOVERY if threshold.comparator == catalogue.ABOVE else None
    return Monitor(key, title, "query alert", query, critical=threshold.value, recovery=recovery, notifies=alone)
