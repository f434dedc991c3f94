"""The catalogue as Azure log search alerts: KQL over the requests App Insights records.

Each entry becomes one query that starts from the service's requests, summarises every
window it needs into one row, and keeps that row only when an alternative holds; the
rule fires on a row. Every window ends the ingestion delay ago, so its last minutes are in.
The rule's window bounds what the query sees (an alert's time range overrides a longer
`ago()`: learn.microsoft.com, alerts-create-log-alert-rule), so it covers the longest
clause window and the delay.
"""

from __future__ import annotations

from collections.abc import Iterable

from model import catalogue
from model.catalogue import Alert, Threshold
from model.contract import MetricContract
from model.dialects import prometheus as promql
from model.durations import iso, prometheus
from model.naming import azure as naming
from model.numbers import plain
from model.slo import ServiceSlo

# What the KQL over App Insights' requests cannot measure. With azure.managedPrometheus those
# entries alert from Azure anyway: as Prometheus rules over the metrics the cluster's managed
# Prometheus addon sends to an Azure Monitor workspace.
UNSUPPORTED = {
    **{signal: f"App Insights records the service's requests, not its Prometheus metrics: "
               f"{signal.replace('_', ' ')} reaches Prometheus and Datadog by scraping"
       for signal in catalogue.SIGNALS if signal not in (catalogue.ERROR_RATIO, catalogue.LATENCY,
                                                         catalogue.REQUESTS, catalogue.TARGETS_UP)},
    catalogue.TARGETS_UP: "nothing in Azure scrapes the services; App Insights only receives what they "
                          "send, and the availability tests watch the public endpoints",
    **dict.fromkeys(catalogue.PIPELINE_SIGNALS, "the collector's own metrics are scraped by the cluster's Prometheus "
                                                "only; App Insights receives telemetry through the collector, so a "
                                                "failing pipeline is silence there, not data"),
}
KQL, PROMETHEUS = "kql", "prometheus"
RULES_PER_GROUP = 20  # Azure's limit per Prometheus rule group, which cannot be raised
# Query windows a log search alert accepts, in minutes (the service's "supported granularities").
WINDOWS = (5, 10, 15, 30, 45, 60, 120, 180, 240, 300, 360, 1440, 2880)
# How loudly an alert speaks in Azure (0 critical .. 4 verbose), by the route it takes in the stack.
ROUTE_SEVERITY = {"page": 1, "ticket": 3}


def placement(alert: Alert, contract: MetricContract, managed_prometheus: bool) -> str | None:
    """Where Azure alerts on `alert`: KQL over the requests App Insights records, when the server sends
    them (OpenTelemetry HTTP server spans) and the entry measures requests only; else a Prometheus rule
    on the managed Prometheus workspace, when the stack has one; else nowhere (None)."""
    if catalogue.exclusion(alert, UNSUPPORTED) is None and contract.sends_request_spans:
        return KQL
    return PROMETHEUS if managed_prometheus else None


def prometheus_rule_groups(alerts: tuple[Alert, ...], slo: ServiceSlo, contract: MetricContract, namespace: str,
                           team: str) -> list[list[dict]]:
    """The service's Prometheus rule group (model/dialects/prometheus.py) in the chunks Azure accepts,
    recordings first. Azure runs a group's rules in order; across groups an alert may read a ratio
    recorded one evaluation earlier, a minute at most."""
    rules = promql.rule_group(alerts, slo, contract, namespace, team)["rules"]
    return [rules[start:start + RULES_PER_GROUP] for start in range(0, len(rules), RULES_PER_GROUP)]


def _column(threshold: Threshold) -> str:
    window = prometheus(threshold.window_minutes)
    if threshold.signal == catalogue.LATENCY:
        return f"over_p{plain((threshold.quantile or 0) * 100)}_{window}"
    return f"{threshold.signal}_{window}"


def query(alert: Alert, role: str, probe_paths: Iterable[str]) -> str:
    thresholds = alert.thresholds()
    if catalogue.exclusion(alert, UNSUPPORTED):
        raise ValueError(f"{alert.name} cannot be expressed in KQL: {catalogue.exclusion(alert, UNSUPPORTED)}")
    lookback = max(t.window_minutes for t in thresholds)
    delay = naming.INGESTION_DELAY_MINUTES
    windows = sorted({t.window_minutes for t in thresholds if t.signal in (catalogue.REQUESTS, catalogue.ERROR_RATIO)})
    aggregates, ratios = [], []
    for minutes in windows:
        window = prometheus(minutes)
        recent = f"{naming.TIME} > ago({prometheus(minutes + delay)})"
        aggregates.append(f"requests_{window} = countif({recent})")
        if any(t.signal == catalogue.ERROR_RATIO and t.window_minutes == minutes for t in thresholds):
            aggregates.append(f"errors_{window} = countif({recent} and {naming.SERVER_ERROR})")
            ratios.append(f"error_ratio_{window} = iff(requests_{window} == 0, 0.0, "
                          f"todouble(errors_{window}) / requests_{window})")
    for threshold in thresholds:
        if threshold.signal == catalogue.LATENCY:
            # The share of the window's requests slower than the objective, as Prometheus and Datadog count it.
            window = prometheus(threshold.window_minutes)
            recent = f"{naming.TIME} > ago({prometheus(threshold.window_minutes + delay)})"
            slower = f"{naming.DURATION_MS} > {plain((threshold.seconds or 0) * 1000)}"
            aggregates.append(f"{_column(threshold)} = todouble(countif({recent} and {slower})) / "
                              f"countif({recent})")
    alternatives = [" and ".join(f"{_column(t)} {t.comparator} {plain(t.value)}"
                                 for clause in clauses for t in catalogue.expand(clause))
                    for clauses in alert.any_of]
    lines = [naming.served_requests(role, prometheus(lookback + delay), prometheus(delay), probe_paths),
             "| summarize\n    " + ",\n    ".join(aggregates)]
    if ratios:
        lines.append("| extend\n    " + ",\n    ".join(ratios))
    lines.append("| where " + " or ".join(f"({a})" if len(alternatives) > 1 else a for a in alternatives))
    return "\n".join(lines)


def schedule(alert: Alert) -> tuple[str, str]:
    """The rule's evaluation frequency (often enough for its shortest window) and its window (ISO 8601):
    the smallest Azure offers that covers the longest clause window and the ingestion delay."""
    minutes = [t.window_minutes for t in alert.thresholds()]
    needed, shortest = max(minutes) + naming.INGESTION_DELAY_MINUTES, min(minutes)
    window = next((w for w in WINDOWS if w >= needed), None)
    if window is None:
        raise ValueError(f"{alert.name}: no Azure query window covers {prometheus(needed)}")
    frequency = 5 if shortest <= 15 else 15 if shortest <= 60 else 60
    return iso(frequency), iso(window)
