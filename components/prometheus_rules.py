"""Prometheus alerting for an inference service, shipped to the Prometheus operator.

The service's catalogue entries become one rule group (model/dialects/prometheus.py); a
PodMonitor makes the operator scrape the service with the labels those rules select on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from model.catalogue import Alert
from model.contract import MetricContract
from model.dialects import prometheus as dialect
from model.naming import prometheus as naming
from model.slo import ServiceSlo


@dataclass(frozen=True, kw_only=True)
class PrometheusAlertingArgs:
    alerts: tuple[Alert, ...]  # the service's catalogue entries its server can measure
    slo: ServiceSlo
    contract: MetricContract
    namespace: str  # the Kubernetes namespace the service's series carry
    team: str
    metadata: Mapping  # the PrometheusRule's and PodMonitors'
    pod_selector: Mapping[str, str]
    metrics_port: str  # the container port's name the PodMonitor scrapes
    azure_managed_prometheus: bool  # also a PodMonitor for the managed Prometheus addon


class PrometheusAlerting(pulumi.ComponentResource):
    """A PrometheusRule with the service's rule group, the PodMonitor that feeds it, and the managed
    Prometheus addon's PodMonitor when Azure alerts on the same series."""

    def __init__(self, name: str, args: PrometheusAlertingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ai-observability:prometheus:PrometheusAlerting", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        metadata = args.metadata
        k8s.apiextensions.CustomResource(
            f"{name}-prometheus-rule", api_version=naming.OPERATOR_API, kind="PrometheusRule", metadata=dict(metadata),
            spec={"groups": [dialect.rule_group(args.alerts, args.slo, args.contract, args.namespace, args.team)]},
            opts=child)
        spec = naming.pod_monitor(args.namespace, args.pod_selector, {args.metrics_port: False})
        k8s.apiextensions.CustomResource(f"{name}-pod-monitor", api_version=naming.OPERATOR_API, kind="PodMonitor",
                                         metadata=dict(metadata), spec=spec, opts=child)
        if args.azure_managed_prometheus:  # the same scrape for the Azure Monitor workspace's Prometheus rules
            k8s.apiextensions.CustomResource(f"{name}-azure-pod-monitor", api_version=naming.AZURE_OPERATOR_API,
                                             kind="PodMonitor", metadata=dict(metadata), spec=spec, opts=child)
        self.register_outputs({})
