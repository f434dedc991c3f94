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
from model.slo import Objective


class PrometheusAlerting(pulumi.ComponentResource):
    """A PrometheusRule with the service's rule group, and the PodMonitor that feeds it."""

    def __init__(self, name: str, alerts: tuple[Alert, ...], objective: Objective, contract: MetricContract,
                 namespace: str, team: str, metadata: Mapping, pod_selector: Mapping[str, str],
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("ai-observability:prometheus:PrometheusAlerting", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        k8s.apiextensions.CustomResource(
            f"{name}-prometheus-rule", api_version=naming.OPERATOR_API, kind="PrometheusRule", metadata=dict(metadata),
            spec={"groups": [dialect.rule_group(alerts, objective, contract, namespace, team)]}, opts=child)
        k8s.apiextensions.CustomResource(
            f"{name}-pod-monitor", api_version=naming.OPERATOR_API, kind="PodMonitor", metadata=dict(metadata),
            spec=naming.pod_monitor(namespace, pod_selector, {"metrics": False}), opts=child)
        self.register_outputs({})
