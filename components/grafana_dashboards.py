"""A service's Grafana dashboard as a ConfigMap the Grafana sidecar loads (model/naming/kubernetes.py says
how it finds it); the dashboard itself is model/dashboards/grafana.py."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from model.dashboards import grafana
from model.naming.kubernetes import GRAFANA_DASHBOARD_LABEL


@dataclass(frozen=True, kw_only=True)
class GrafanaDashboardArgs:
    dashboard: grafana.DashboardInputs
    metadata: Mapping  # the ConfigMap's; the sidecar's label is added here


class GrafanaDashboard(pulumi.ComponentResource):
    def __init__(self, name: str, args: GrafanaDashboardArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ai-observability:grafana:GrafanaDashboard", name, None, opts)
        inputs, metadata = args.dashboard, args.metadata
        meta = {**metadata, "labels": {**metadata.get("labels", {}), **GRAFANA_DASHBOARD_LABEL}}
        k8s.core.v1.ConfigMap(
            f"{name}-config-map", metadata=meta,
            data={f"{grafana.uid(inputs.stack, inputs.service)}.json":
                  json.dumps(grafana.service_dashboard(inputs), indent=1, sort_keys=True)},
            opts=pulumi.ResourceOptions(parent=self))
        self.register_outputs({})
