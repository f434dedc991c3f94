"""Alertmanager routing for the stack's alerts: an AlertmanagerConfig and the Secret its receivers read."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_kubernetes as k8s

from config.settings import SecretValue
from model import routing

API = "monitoring.coreos.com/v1alpha1"
SECRET_NAME = "alertmanager-receivers"


class AlertmanagerRouting(pulumi.ComponentResource):
    """Routes `routing: page` and `routing: ticket` alerts to their receivers, a page inhibiting the
    same service's ticket. The operator reads receiver secrets from the config's own namespace."""

    def __init__(self, name: str, receivers: Mapping[str, str], credentials: Mapping[str, SecretValue],
                 namespace: pulumi.Input[str], labels: Mapping[str, str],
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("ai-observability:prometheus:AlertmanagerRouting", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        secret = k8s.core.v1.Secret(
            f"{name}-secret", metadata={"name": SECRET_NAME, "namespace": namespace, "labels": dict(labels)},
            type="Opaque", string_data={route: credentials[route].output() for route in receivers}, opts=child)
        k8s.apiextensions.CustomResource(
            f"{name}-config", api_version=API, kind="AlertmanagerConfig",
            metadata={"name": name, "namespace": namespace, "labels": dict(labels)},
            spec=routing.alertmanager_config(receivers, SECRET_NAME),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[secret]))
        self.register_outputs({})
