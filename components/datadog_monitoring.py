"""Datadog for an inference service: a metric-based SLO and the catalogue's monitors.

Also the stack's metric tag configurations: a distribution offers percentiles only once
one is switched on for it (docs.datadoghq.com/metrics/distributions).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi

from components import by_type
from model import catalogue
from model.catalogue import Alert
from model.contract import HISTOGRAM_ROLES, Histogram, MetricContract
from model.dashboards import datadog as dashboards
from model.dialects import datadog as dialect
from model.naming import datadog as naming
from model.numbers import plain
from model.slo import AVAILABILITY, Objective, ServiceSlo

# Registered by type token (by_type.py): the Datadog SDK is never imported.
MONITOR = "datadog:index/monitor:Monitor"
SLO = "datadog:index/serviceLevelObjective:ServiceLevelObjective"
DASHBOARD = "datadog:index/dashboardJson:DashboardJson"
TAG_CONFIGURATION = "datadog:index/metricTagConfiguration:MetricTagConfiguration"
# The OpenMetrics check submits every 15 s; a minute's delay keeps the last bucket complete.
EVALUATION_DELAY = 60
RENOTIFY_MINUTES = {"critical": 30, "warning": 240}


def message(alert: Alert, handles: Sequence[str], monitor: dialect.Monitor, composite: str = "") -> str:
    """Summary, description, runbook, and who is told: the handles of the alert's route, in every state the
    monitor alerts in (No Data is its own state, with its own {{#is_no_data}} block)."""
    if not monitor.notifies:
        return (f"Part of the composite monitor \"{composite}\", which notifies for it; this part notifies nobody.\n\n"
                f"Runbook: {alert.runbook_url}")
    who = " ".join(handles)
    states = ["is_alert", "is_recovery", *(["is_no_data"] if monitor.no_data_minutes else [])]
    return "\n".join([alert.summary, "", alert.description, "", f"Runbook: {alert.runbook_url}", "",
                      *(f"{{{{#{state}}}}}{who}{{{{/{state}}}}}" for state in states)])


def thresholds(monitor: dialect.Monitor) -> dict[str, str] | None:
    if monitor.critical is None:
        return None
    levels = {"critical": monitor.critical, "criticalRecovery": monitor.recovery, "ok": monitor.ok}
    return {level: plain(value) for level, value in levels.items() if value is not None}


@dataclass(frozen=True, kw_only=True)
class DatadogMonitoringArgs:
    alerts: tuple[Alert, ...]  # the service's catalogue entries its server can measure
    slo: ServiceSlo
    contract: MetricContract
    env: str
    team: str
    namespace: str  # the Kubernetes namespace the service's series carry
    notify: Mapping[str, Sequence[str]]  # route -> the @-handles it notifies
    # The stack's tag configurations, when it manages them: the SLOs' threshold queries and the latency
    # monitors read nothing until percentiles are on, so they are created after them.
    percentiles: pulumi.Resource | None


@dataclass(frozen=True, kw_only=True)
class DatadogLatencyPercentilesArgs:
    contracts: tuple[MetricContract, ...]  # every service's


class DatadogMonitoring(pulumi.ComponentResource):
    """A service's SLO, its burn-rate monitors on that SLO, its signal monitors, and its dashboard."""

    slo_id: pulumi.Output[str]

    def __init__(self, name: str, args: DatadogMonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ai-observability:datadog:DatadogMonitoring", name, None, opts)
        alerts, service_slo, contract, env, team = args.alerts, args.slo, args.contract, args.env, args.team
        namespace, notify, percentiles = args.namespace, args.notify, args.percentiles
        objective = service_slo.objective
        child = pulumi.ResourceOptions(parent=self, depends_on=[percentiles] if percentiles else None)
        service = alerts[0].service
        tags = [f"env:{env}", f"service:{service}", f"team:{team}", "managed-by:pulumi"]
        # One SLO per objective whose alerts survived: availability, and each latency SLO.
        used = set(catalogue.ratio_windows(alerts))
        specs: dict[str, tuple[Objective, str, tuple[str, str]]] = {}
        if AVAILABILITY in used:
            specs[AVAILABILITY] = (objective, f"Share of successful {service} inference requests.",
                                   dialect.slo_query(contract, env, service))
        for latency_slo in service_slo.latency_slos:
            if latency_slo.name in used:
                specs[latency_slo.name] = (
                    latency_slo.objective, f"Share of {service} requests within "
                    f"{plain(latency_slo.threshold_seconds)}s of {latency_slo.name.replace('-', ' ')}.",
                    dialect.latency_slo_query(latency_slo, contract, env, service))
        slos = {slo_name: self._slo(name, slo_name, service, env, of, description, query, tags, child)
                for slo_name, (of, description, query) in specs.items()}
        self.slo_id = slos[AVAILABILITY].id if AVAILABILITY in slos else pulumi.Output.from_input("")
        slo_ids = pulumi.Output.all(**{slo_name: slo.id for slo_name, slo in slos.items()})

        for alert in alerts:
            created: dict[str, pulumi.CustomResource] = {}
            for monitor in dialect.monitors(alert, objective, contract, env, namespace):
                if monitor.parts:
                    query = pulumi.Output.all(*(created[part].id for part in monitor.parts)).apply(" && ".join)
                elif dialect.SLO_REFERENCE.search(monitor.query):
                    query = slo_ids.apply(functools.partial(dialect.with_slo_ids, monitor.query))
                else:
                    query = pulumi.Output.from_input(monitor.query)
                inputs = {
                    "name": f"[{env}] {monitor.title}",
                    "type": monitor.type,
                    "query": query,
                    "message": message(alert, notify.get(alert.route, ()), monitor, f"[{env}] {alert.summary}"),
                    "monitorThresholds": thresholds(monitor),
                    "notifyNoData": monitor.no_data_minutes is not None,
                    "noDataTimeframe": monitor.no_data_minutes,
                    "renotifyInterval": RENOTIFY_MINUTES[alert.severity] if monitor.notifies else None,
                    "evaluationDelay": EVALUATION_DELAY if monitor.type == "query alert" else None,
                    "requireFullWindow": False if monitor.type == "query alert" else None,  # sparse counters count
                    "tags": tags + [f"alert:{alert.name}", f"severity:{alert.severity}", f"routing:{alert.route}"],
                }
                created[monitor.key] = by_type.register(MONITOR, f"{name}-{monitor.key}", inputs, child)
        by_type.register(DASHBOARD, f"{name}-dashboard", {"dashboard": slo_ids.apply(lambda ids: json.dumps(
            dashboards.service_dashboard(env, service, contract, service_slo, ids), sort_keys=True))}, child)
        self.register_outputs({"sloId": self.slo_id})

    @staticmethod
    def _slo(name: str, slo_name: str, service: str, env: str, objective: Objective, description: str,
             query: tuple[str, str], tags: list[str], child: pulumi.ResourceOptions) -> pulumi.CustomResource:
        numerator, denominator = query
        target, warning = dialect.slo_percent(objective)  # the warning: a heads-up halfway through the budget
        views = sorted({objective.period_days, 7}, reverse=True)  # the SLO's period, and a 7-day view
        # The availability SLO keeps its first resource name, so existing stacks do not replace it.
        suffix = "slo" if slo_name == AVAILABILITY else f"{slo_name}-slo"
        return by_type.register(SLO, f"{name}-{suffix}", {
            "name": f"[{env}] {service} {slo_name}",
            "type": "metric",
            "description": description,
            "query": {"numerator": numerator, "denominator": denominator},
            "thresholds": [{"timeframe": f"{days}d", "target": target, "warning": warning} for days in views],
            "timeframe": f"{objective.period_days}d",
            "targetThreshold": target,
            "warningThreshold": warning,
            "tags": tags + [f"slo:{slo_name}"],
        }, child)


class DatadogLatencyPercentiles(pulumi.ComponentResource):
    """Percentiles on each latency distribution the services' monitors, SLOs and dashboards query: p95 and
    p99, and the threshold queries (`count(v: v<=x)`) of the latency SLOs, which need them on."""

    def __init__(self, name: str, args: DatadogLatencyPercentilesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ai-observability:datadog:DatadogLatencyPercentiles", name, None, opts)
        distributions: dict[str, set[str]] = {}
        for contract in args.contracts:
            for role in HISTOGRAM_ROLES:
                histogram = contract.role(role)
                if isinstance(histogram, Histogram):
                    distributions.setdefault(naming.distribution(histogram.metric), set()).update(
                        naming.percentile_tags(contract))
        for metric, tags in sorted(distributions.items()):
            by_type.register(TAG_CONFIGURATION, f"{name}-{metric}", {
                "metricName": metric, "metricType": "distribution", "tags": sorted(tags), "includePercentiles": True,
            }, pulumi.ResourceOptions(parent=self))
        self.register_outputs({})
