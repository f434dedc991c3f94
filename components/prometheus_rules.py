"""Prometheus alerting for an inference service, shipped to the Prometheus operator.

Sloth-style recording rules give the error ratio over every window the burn-rate
alerts use; the alerts are multi-window multi-burn-rate (page and ticket, Google
SRE workbook) beside the seeds' signal alerts. A PodMonitor scrapes the service
with `job` set to its name, which is what the rules select on.
"""

from __future__ import annotations

from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from components import slo, workloads
from components.settings import InferenceService, Settings

INTERVAL = "1m"  # rule evaluation; detection times add at most one of these
SLO_NAME = "availability"
SCRAPE_INTERVAL = "30s"


def rule_groups(settings: Settings, service: InferenceService) -> list[dict]:
    """The service's rule groups, exactly as promtool and the operator read them."""
    contract, objective = service.metrics, service.slo.objective
    selector = {"job": service.name, "namespace": settings.kubernetes.namespace}
    slo_labels = {"service": service.name, "slo": SLO_NAME}
    windows = slo.SRE_WORKBOOK
    recorded = sorted({m for w in windows for m in (w.long_minutes, w.short_minutes)})
    recordings = [{"record": slo.recorded_error_ratio(minutes), "expr": slo.error_ratio(contract, selector, minutes),
                   "labels": dict(slo_labels)} for minutes in recorded]
    recordings += [
        {"record": "slo:objective:ratio", "expr": f"vector({slo.number(objective.target)})", "labels": dict(slo_labels)},
        {"record": "slo:error_budget:ratio", "expr": f"vector({slo.number(objective.error_budget)})",
         "labels": dict(slo_labels)},
    ]

    name, target = service.name, f"{objective.target * 100:g}%"
    period = f"{objective.period_days}d"
    page = tuple(w for w in windows if w.route == "page")
    ticket = tuple(w for w in windows if w.route == "ticket")
    ratio_5m = f"{slo.recorded_error_ratio(5)}{{{slo.matchers(slo_labels)}}}"
    requests, cost = (f"{metric}{{{slo.matchers(selector)}}}" for metric in (contract.requests, contract.cost))
    p95, p99 = service.slo.p95_seconds, service.slo.p99_seconds

    def alert(alert_name: str, expr: str, duration: str, severity: str, summary: str, description: str) -> dict:
        return {
            "alert": alert_name,
            "expr": expr,
            "for": duration,
            "labels": {"severity": severity, "routing": service.slo.routing[severity], "service": name,
                       "team": settings.team},
            "annotations": {"summary": summary, "description": description,
                            "runbook_url": settings.runbook(alert_name)},
        }

    alerts = [
        alert("AIInferenceSLOBurnRatePage", slo.burn_rate_condition(objective, page, slo_labels), "2m", "critical",
              f"{name} is burning its error budget fast",
              f"{name} is failing requests fast enough to spend its {period} error budget (target {target}) "
              f"within days: " + "; ".join(f"{slo.number(objective.burn_rate(w))}x over {w.name}" for w in page)
              + "."),
        alert("AIInferenceSLOBurnRateTicket", slo.burn_rate_condition(objective, ticket, slo_labels), "15m", "warning",
              f"{name} is burning its error budget steadily",
              f"{name} is failing requests faster than its {period} error budget (target {target}) allows: "
              + "; ".join(f"{slo.number(objective.burn_rate(w))}x over {w.name}" for w in ticket) + "."),
        alert("AIInferenceErrorRateHigh", f"{ratio_5m} > {slo.number(service.slo.error_rate)}", "2m", "warning",
              f"{name} error rate is above {service.slo.error_rate:.0%}",
              f"More than {service.slo.error_rate:.0%} of {name} requests failed over the last 5 minutes."),
        alert("AIInferenceLatencyP95High",
              f"{slo.latency_quantile(contract, selector, 0.95, 5)} > {slo.number(p95)}", "5m", "warning",
              f"{name} P95 latency is above {p95:g}s",
              f"{name} P95 latency has been above {p95:g}s for 5 minutes."),
        alert("AIInferenceLatencyP99High",
              f"{slo.latency_quantile(contract, selector, 0.99, 5)} > {slo.number(p99)}", "3m", "critical",
              f"{name} P99 latency is above {p99:g}s",
              f"{name} P99 latency has been above {p99:g}s for 3 minutes."),
        alert("AIInferenceMetricsEndpointDown", f"up{{{slo.matchers(selector)}}} == 0", "2m", "critical",
              f"{name} metrics endpoint is down",
              f"Prometheus cannot scrape {name} pod {{{{ $labels.pod }}}}; its alerts are blind."),
        alert("AIInferenceNoRequests", f"sum(rate({requests}[5m])) == 0\nor\nabsent({requests})", "5m", "warning",
              f"{name} receives no requests",
              f"{name} has served no requests for 10 minutes."),
        alert("AIInferenceCostBudgetExceeded",
              f"sum(increase({cost}[1h])) > {slo.number(service.slo.cost_per_hour)}", "5m", "warning",
              f"{name} inference cost is over budget",
              f"{name} spent more than ${service.slo.cost_per_hour:g} on inference in the last hour."),
    ]
    # One group: Prometheus runs a group's rules in order at one timestamp, so each alert reads
    # the error ratios recorded just before it, not the previous evaluation's.
    return [{"name": f"{name}-slo", "interval": INTERVAL, "rules": recordings + alerts}]


class PrometheusAlerting(pulumi.ComponentResource):
    """A PrometheusRule with the service's rule groups, and the PodMonitor that feeds them."""

    def __init__(self, name: str, settings: Settings, service: InferenceService, namespace: pulumi.Input[str],
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("ai-observability:prometheus:PrometheusAlerting", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        labels = {**workloads.labels(service.name, settings.stack, service.version, "monitoring",
                                     settings.application), **settings.prometheus.rule_labels}
        metadata = workloads.metadata(service.name, namespace, labels)
        k8s.apiextensions.CustomResource(
            f"{name}-prometheus-rule", api_version="monitoring.coreos.com/v1", kind="PrometheusRule",
            metadata=metadata, spec={"groups": rule_groups(settings, service)}, opts=child)
        k8s.apiextensions.CustomResource(
            f"{name}-pod-monitor", api_version="monitoring.coreos.com/v1", kind="PodMonitor",
            metadata=metadata,
            spec={
                # job = the service's name, which every rule selects on.
                "jobLabel": "app.kubernetes.io/name",
                "selector": {"matchLabels": workloads.selector(service.name, settings.stack)},
                "namespaceSelector": {"matchNames": [settings.kubernetes.namespace]},
                "podMetricsEndpoints": [{"port": "metrics", "path": "/metrics", "interval": SCRAPE_INTERVAL}],
            },
            opts=child,
        )
        self.register_outputs({})
