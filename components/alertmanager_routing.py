"""Alertmanager routing for the stack's alerts: an AlertmanagerConfig and the Secret its receivers read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from model import routing

API = "monitoring.coreos.com/v1alpha1"
SECRET_NAME = "alertmanager-receivers"


@dataclass(frozen=True, kw_only=True)
class AlertmanagerRoutingArgs:
    receivers: Mapping[str, str]  # route (page, ticket) -> receiver type
    credentials: Mapping[str, pulumi.Input[str]]  # route -> its receiver's secret (a URL or a key)
    namespace: pulumi.Input[str]
    labels: Mapping[str, str]


class AlertmanagerRouting(pulumi.ComponentResource):
    """Routes `routing: page` and `routing: ticket` alerts to their receivers, a page inhibiting the
    same service's ticket. The operator reads receiver secrets from the config's own namespace."""

    def __init__(self, name: str, args: AlertmanagerRoutingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ai-observability:prometheus:AlertmanagerRouting", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        metadata = {"namespace": args.namespace, "labels": dict(args.labels)}
        secret = k8s.core.v1.Secret(
            f"{name}-secret", metadata={"name": SECRET_NAME, **metadata}, type="Opaque",
            string_data={route: pulumi.Output.secret(args.credentials[route]) for route in args.receivers}, opts=child)
        k8s.apiextensions.CustomResource(
            f"{name}-config", api_version=API, kind="AlertmanagerConfig", metadata={"name": name, **metadata},
            spec=routing.alertmanager_config(args.receivers, SECRET_NAME),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[secret]))
        self.register_outputs({})
