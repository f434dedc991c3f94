"""Datadog for an inference service: a metric-based SLO, its burn-rate monitors, and signal monitors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_datadog as datadog

from components import datadog_metrics, slo
from components.durations import prometheus
from components.settings import InferenceService, Settings

# Datadog's OpenMetrics check submits every 15 s; a minute's delay keeps the last bucket complete.
EVALUATION_DELAY = 60
RECOVERY = 0.8  # an alert clears once the value falls below 80% of its threshold
# The Prometheus alerts of the same meaning, whose runbooks the burn-rate monitors share.
BURN_RATE_ALERTS = {"page": "AIInferenceSLOBurnRatePage", "ticket": "AIInferenceSLOBurnRateTicket"}


@dataclass(frozen=True)
class Signal:
    """A threshold monitor: above `critical` (or below, for `below`) pages or tickets by route."""

    key: str
    alert: str  # the Prometheus alert of the same meaning; they share a runbook
    title: str
    query: str  # without the comparison
    critical: float
    warning: Optional[float]
    description: str
    below: bool = False
    notify_no_data: bool = False  # most signals: no data is the no-traffic monitor's job
    renotify_minutes: int = 60


def thresholds(signal: Signal) -> datadog.MonitorMonitorThresholdsArgs:
    if signal.below:  # recovery must sit above a "below" threshold
        return datadog.MonitorMonitorThresholdsArgs(critical=slo.number(signal.critical),
                                                    critical_recovery=slo.number(signal.critical * 5))
    return datadog.MonitorMonitorThresholdsArgs(
        critical=slo.number(signal.critical), critical_recovery=slo.number(signal.critical * RECOVERY),
        warning=slo.number(signal.warning), warning_recovery=slo.number(signal.warning * RECOVERY))


def signals(settings: Settings, service: InferenceService) -> list[Signal]:
    contract, objectives = service.metrics, service.slo
    scope = slo.datadog_scope({"env": settings.stack, "service": service.name})
    errors = slo.datadog_scope({"env": settings.stack, "service": service.name,
                                contract.status_label: contract.error_status})
    requests = datadog_metrics.count(contract.requests)
    latency = datadog_metrics.distribution(contract.latency)
    name = service.name
    return [
        Signal("error-rate", "AIInferenceErrorRateHigh", f"{name} error rate above {objectives.error_rate:.0%}",
               f"sum(last_5m):sum:{requests}{errors}.as_count() / sum:{requests}{scope}.as_count()",
               objectives.error_rate, objectives.error_rate / 2,
               f"The share of failed {name} requests over the last 5 minutes is above the threshold.",
               renotify_minutes=30),
        Signal("latency-p95", "AIInferenceLatencyP95High", f"{name} P95 latency above {objectives.p95_seconds:g}s",
               f"percentile(last_5m):p95:{latency}{scope}", objectives.p95_seconds, objectives.p95_seconds * RECOVERY,
               f"{name} P95 latency over the last 5 minutes is above the threshold."),
        Signal("latency-p99", "AIInferenceLatencyP99High", f"{name} P99 latency above {objectives.p99_seconds:g}s",
               f"percentile(last_5m):p99:{latency}{scope}", objectives.p99_seconds, objectives.p99_seconds * RECOVERY,
               f"{name} P99 latency over the last 5 minutes is above the threshold.",
               renotify_minutes=30),
        # No data means no requests reached the metric at all: that is this monitor's alert.
        Signal("no-traffic", "AIInferenceNoRequests", f"{name} receives no requests", f"sum(last_10m):sum:{requests}{scope}.as_count()",
               1, None, f"{name} served no requests in the last 10 minutes.", below=True, notify_no_data=True,
               renotify_minutes=30),
        Signal("token-usage", "AIInferenceTokenUsageHigh", f"{name} token usage above {objectives.tokens_per_hour:,} an hour",
               f"sum(last_1h):sum:{datadog_metrics.count(contract.tokens)}{scope}.as_count()",
               objectives.tokens_per_hour, objectives.tokens_per_hour * 0.8,
               f"{name} used more input and output tokens in the last hour than budgeted.", renotify_minutes=120),
        Signal("cost", "AIInferenceCostBudgetExceeded", f"{name} inference cost above ${objectives.cost_per_hour:g} an hour",
               f"sum(last_1h):sum:{datadog_metrics.count(contract.cost)}{scope}.as_count()",
               objectives.cost_per_hour, objectives.cost_per_hour * 0.8,
               f"{name} spent more on inference in the last hour than budgeted.", renotify_minutes=120),
    ]


def message(settings: Settings, service: InferenceService, summary: str, description: str, runbook: str,
            alert_severity: str = "critical", warning_severity: Optional[str] = "warning") -> str:
    """Summary, runbook, and who is told: the handles of the route each severity takes in this stack."""
    def handles(severity: str) -> str:
        return " ".join(settings.datadog.notify[service.slo.routing[severity]])

    lines = [summary, "", description, "", f"Runbook: {runbook}", "",
             f"{{{{#is_alert}}}}{handles(alert_severity)}{{{{/is_alert}}}}"]
    if warning_severity:
        lines.append(f"{{{{#is_warning}}}}{handles(warning_severity)}{{{{/is_warning}}}}")
    lines.append(f"{{{{#is_recovery}}}}{handles(alert_severity)}{{{{/is_recovery}}}}")
    return "\n".join(lines)


class DatadogMonitoring(pulumi.ComponentResource):
    """A service's SLO with Datadog's recommended burn-rate alerts, and its signal monitors."""

    slo_id: pulumi.Output[str]

    def __init__(self, name: str, settings: Settings, service: InferenceService,
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("ai-observability:datadog:DatadogMonitoring", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        objective = service.slo.objective
        tags = [f"env:{settings.stack}", f"service:{service.name}", f"team:{settings.team}", "managed-by:pulumi"]
        numerator, denominator = slo.datadog_slo_query(service.metrics, {"env": settings.stack, "service": service.name})
        target = round(objective.target * 100, 4)
        warning = round((objective.target + objective.error_budget / 2) * 100, 4)  # a heads-up above the target
        views = sorted({objective.period_days, 7}, reverse=True)  # the SLO's period, and a 7-day view
        objective_resource = datadog.ServiceLevelObjective(
            f"{name}-slo",
            name=f"[{settings.stack}] {service.name} availability",
            type="metric",
            description=f"Share of successful {service.name} inference requests.",
            query=datadog.ServiceLevelObjectiveQueryArgs(numerator=numerator, denominator=denominator),
            thresholds=[datadog.ServiceLevelObjectiveThresholdArgs(timeframe=f"{days}d", target=target,
                                                                   warning=warning) for days in views],
            timeframe=f"{objective.period_days}d",
            target_threshold=target,
            warning_threshold=warning,
            tags=tags,
            opts=child,
        )
        self.slo_id = objective_resource.id

        for window in slo.DATADOG_RECOMMENDED[objective.period_days]:
            severity = "critical" if window.route == "page" else "warning"
            burn = objective.burn_rate(window)
            summary = f"{service.name} is burning its error budget at {slo.number(burn)}x over {window.name}"
            datadog.Monitor(
                f"{name}-burn-rate-{window.name}",
                name=f"[{settings.stack}] {summary}",
                type="slo alert",
                query=objective_resource.id.apply(
                    lambda slo_id, w=window: slo.datadog_burn_rate_query(slo_id, objective, w)),
                message=message(settings, service, summary,
                                f"Sustained over {prometheus(window.long_minutes)}, this burn rate spends "
                                f"{window.budget_share:.0%} of the {objective.period_days}-day error budget "
                                f"(target {target:g}%).",
                                settings.runbook(BURN_RATE_ALERTS[window.route]), severity, None),
                monitor_thresholds=datadog.MonitorMonitorThresholdsArgs(critical=slo.number(burn)),
                notify_no_data=False,  # no data: no requests, so no budget burnt
                renotify_interval=30 if severity == "critical" else 240,
                tags=tags + [f"severity:{severity}", f"routing:{service.slo.routing[severity]}"],
                opts=child,
            )

        for signal in signals(settings, service):
            comparison = "<" if signal.below else ">"
            datadog.Monitor(
                f"{name}-{signal.key}",
                name=f"[{settings.stack}] {signal.title}",
                type="query alert",
                query=f"{signal.query} {comparison} {slo.number(signal.critical)}",
                message=message(settings, service, signal.title, signal.description, settings.runbook(signal.alert),
                                warning_severity="warning" if signal.warning is not None else None),
                monitor_thresholds=thresholds(signal),
                notify_no_data=signal.notify_no_data,
                no_data_timeframe=20 if signal.notify_no_data else None,
                renotify_interval=signal.renotify_minutes,
                evaluation_delay=EVALUATION_DELAY,
                require_full_window=False,  # sparse counters must still be evaluated
                tags=tags,
                opts=child,
            )
        self.register_outputs({"sloId": self.slo_id})
