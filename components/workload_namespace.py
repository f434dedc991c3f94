"""The namespace the inference services and the collector run in, and their telemetry credentials."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import workloads
from components.workloads import APPINSIGHTS_KEY, DATADOG_API_KEY, SECRET_NAME
from config.settings import KubernetesSettings


@dataclass(frozen=True, kw_only=True)
class WorkloadNamespaceArgs:
    application: str
    kubernetes: KubernetesSettings
    connection_string: pulumi.Input[str]  # App Insights'
    datadog_api_key: pulumi.Input[str] | None  # a secret, when Datadog is on: the collector's exporter reads it


class WorkloadNamespace(pulumi.ComponentResource):
    """A namespace enforcing the Pod Security Standard `restricted`, and one Secret with the
    App Insights connection string (and the Datadog API key when Datadog is on)."""

    name: pulumi.Output[str]
    secret_name: pulumi.Output[str]
    secret_keys: tuple[str, ...]  # the keys the Secret holds, for secretKeyRefs

    def __init__(self, name: str, args: WorkloadNamespaceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ai-observability:kubernetes:WorkloadNamespace", name, None, opts)
        kubernetes = args.kubernetes
        common = workloads.common_labels(args.application)
        level = "restricted"
        namespace = k8s.core.v1.Namespace(
            name,
            metadata={"name": kubernetes.namespace, "labels": {
                **common,
                "pod-security.kubernetes.io/enforce": level,
                "pod-security.kubernetes.io/enforce-version": f"v{kubernetes.version}",
                "pod-security.kubernetes.io/audit": level,
                "pod-security.kubernetes.io/warn": level,
            }},
            opts=pulumi.ResourceOptions(parent=self),
        )
        credentials = {APPINSIGHTS_KEY: pulumi.Output.secret(args.connection_string)}
        if args.datadog_api_key is not None:
            credentials[DATADOG_API_KEY] = pulumi.Output.secret(args.datadog_api_key)
        secret = k8s.core.v1.Secret(
            f"{name}-{SECRET_NAME}",
            metadata={"name": SECRET_NAME, "namespace": namespace.metadata.name, "labels": common},
            type="Opaque",
            string_data=credentials,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.name = namespace.metadata.name
        self.secret_name = secret.metadata.name
        self.secret_keys = tuple(credentials)
        self.register_outputs({"name": self.name, "secretName": self.secret_name})
