"""Prometheus alerting for an inference service, shipped to the Prometheus operator.

The service's catalogue entries become one rule group (model/dialects/prometheus.py); a
PodMonitor makes the operator scrape the service with the labels those rules select on.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_kubernetes as k8s

from model.catalogue import Alert
from model.contract import MetricContract
from model.dialects import prometheus as dialect
from model.naming import prometheus as naming
from model.slo import ServiceSlo


class PrometheusAlerting(pulumi.ComponentResource):
    """A PrometheusRule with the service's rule group, the PodMonitor that feeds it, and the managed
    Prometheus addon's PodMonitor when Azure alerts on the same series."""

    def __init__(self, name: str, alerts: tuple[Alert, ...], slo: ServiceSlo, contract: MetricContract,
                 namespace: str, team: str, metadata: Mapping, pod_selector: Mapping[str, str],
                 metrics_port: str = "metrics", azure_managed_prometheus: bool = False,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("ai-observability:prometheus:PrometheusAlerting", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        k8s.apiextensions.CustomResource(
            f"{name}-prometheus-rule", api_version=naming.OPERATOR_API, kind="PrometheusRule", metadata=dict(metadata),
            spec={"groups": [dialect.rule_group(alerts, slo, contract, namespace, team)]}, opts=child)
        spec = naming.pod_monitor(namespace, pod_selector, {metrics_port: False})
        k8s.apiextensions.CustomResource(f"{name}-pod-monitor", api_version=naming.OPERATOR_API, kind="PodMonitor",
                                         metadata=dict(metadata), spec=spec, opts=child)
        if azure_managed_prometheus:  # the same scrape for the Azure Monitor workspace's Prometheus rules
            k8s.apiextensions.CustomResource(f"{name}-azure-pod-monitor", api_version=naming.AZURE_OPERATOR_API,
                                             kind="PodMonitor", metadata=dict(metadata), spec=spec, opts=child)
        self.register_outputs({})
