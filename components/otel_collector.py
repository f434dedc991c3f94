"""The OpenTelemetry Collector on Kubernetes: config, RBAC for k8sattributes, a hardened Deployment, its Service."""

from __future__ import annotations

import hashlib
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s
import yaml

from components import workloads
from components.collector_config import (APPINSIGHTS_ENV, DATADOG_API_KEY_ENV, HEALTH_PATH, PORTS,
                                         collector_config)
from components.quantities import mebibytes
from components.settings import Settings
from components.workload_namespace import APPINSIGHTS_KEY, DATADOG_API_KEY
from model.naming import prometheus as prometheus_naming

NAME = "otel-collector"
CONFIG_FILE = "config.yaml"
# Ports the Service exposes: OTLP for the services, the collector's own metrics and the
# Prometheus exporter's (when enabled) for scraping.
SERVICE_PORTS = ("otlp-grpc", "otlp-http", "metrics", "prometheus")


def config_yaml(settings: Settings) -> str:
    collector = settings.collector
    config = collector_config(collector.exporters, settings.datadog.site, mebibytes(collector.resources.memory_limit))
    return yaml.safe_dump(config, sort_keys=False)


class OtelCollector(pulumi.ComponentResource):
    """Receives OTLP from the services and exports to the enabled backends."""

    otlp_grpc_endpoint: pulumi.Output[str]  # http://<service>.<namespace>.svc.cluster.local:4317
    service_name: pulumi.Output[str]

    def __init__(self, name: str, settings: Settings, namespace: pulumi.Input[str], secret_name: pulumi.Input[str],
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("ai-observability:kubernetes:OtelCollector", name, None, opts)
        collector = settings.collector
        child = pulumi.ResourceOptions(parent=self)
        pod_selector = workloads.selector(NAME, settings.stack)
        labels = workloads.labels(NAME, settings.stack, collector.version, "collector", settings.application)

        def meta(object_name: str, annotations: Optional[dict] = None) -> dict:
            return workloads.metadata(object_name, namespace, labels, annotations)

        account = k8s.core.v1.ServiceAccount(f"{name}-service-account", metadata=meta(NAME),
                                             automount_service_account_token=True, opts=child)
        # k8sattributes reads pod metadata, and the ReplicaSet to name the Deployment: nothing more.
        role_name = f"{NAME}-{settings.kubernetes.namespace}"
        role = k8s.rbac.v1.ClusterRole(
            f"{name}-cluster-role",
            metadata={"name": role_name, "labels": labels},
            rules=[{"apiGroups": [""], "resources": ["pods", "namespaces"], "verbs": ["get", "list", "watch"]},
                   {"apiGroups": ["apps"], "resources": ["replicasets"], "verbs": ["get", "list", "watch"]}],
            opts=child,
        )
        k8s.rbac.v1.ClusterRoleBinding(
            f"{name}-cluster-role-binding",
            metadata={"name": role_name, "labels": labels},
            role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role.metadata.name},
            subjects=[{"kind": "ServiceAccount", "name": account.metadata.name, "namespace": namespace}],
            opts=child,
        )
        config = config_yaml(settings)
        config_map = k8s.core.v1.ConfigMap(f"{name}-config", metadata=meta(NAME), data={CONFIG_FILE: config},
                                           opts=child)

        env = [{"name": "MY_POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
               # Go's garbage collector works to stay under the memory limiter's limit.
               {"name": "GOMEMLIMIT", "value": f"{mebibytes(collector.resources.memory_limit) * 80 // 100}MiB"}]
        if "azuremonitor" in collector.exporters:
            env.append(workloads.secret_env(APPINSIGHTS_ENV, secret_name, APPINSIGHTS_KEY))
        if "datadog" in collector.exporters:
            env.append(workloads.secret_env(DATADOG_API_KEY_ENV, secret_name, DATADOG_API_KEY))
        volume, tmp_mount = workloads.scratch_volume()
        container = {
            "name": "otel-collector",
            "image": collector.image,
            "imagePullPolicy": "IfNotPresent",
            "args": [f"--config=/conf/{CONFIG_FILE}"],
            "ports": [{"name": port, "containerPort": number, "protocol": "TCP"} for port, number in PORTS.items()],
            "env": env,
            "resources": workloads.resources(collector.resources),
            "livenessProbe": workloads.http_probe(HEALTH_PATH, "health", period=10, failures=3),
            "readinessProbe": workloads.http_probe(HEALTH_PATH, "health", period=5, failures=3),
            "securityContext": workloads.container_security_context(),
            "volumeMounts": [{"name": "config", "mountPath": "/conf", "readOnly": True}, tmp_mount],
        }
        k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=meta(NAME),
            spec={
                "replicas": collector.replicas,
                "selector": {"matchLabels": pod_selector},
                "strategy": workloads.rolling_update(),
                "template": {
                    # A config change changes this hash, which rolls the pods onto the new config.
                    "metadata": {"labels": labels,
                                 "annotations": {"checksum/config": hashlib.sha256(config.encode()).hexdigest()}},
                    "spec": {
                        "serviceAccountName": account.metadata.name,
                        "automountServiceAccountToken": True,  # k8sattributes calls the API
                        "securityContext": workloads.pod_security_context(),
                        "topologySpreadConstraints": workloads.spread(pod_selector),
                        "terminationGracePeriodSeconds": 30,
                        "containers": [container],
                        "volumes": [{"name": "config", "configMap": {"name": config_map.metadata.name}}, volume],
                    },
                },
            },
            opts=child,
        )
        exposed = [p for p in SERVICE_PORTS if p != "prometheus" or "prometheus" in collector.exporters]
        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=meta(NAME, {"prometheus.io/scrape": "true", "prometheus.io/port": str(PORTS["metrics"]),
                                 "prometheus.io/path": "/metrics"}),
            spec={"type": "ClusterIP", "selector": pod_selector,
                  "ports": [{"name": p, "port": PORTS[p], "targetPort": p, "protocol": "TCP"} for p in exposed]},
            opts=child,
        )
        # The operator's Prometheus ignores prometheus.io/* annotations: this makes it scrape the collector's
        # own metrics and, with honorLabels, the job and instance the prometheus exporter gives each series.
        scraped = {"metrics": False, **({"prometheus": True} if "prometheus" in collector.exporters else {})}
        k8s.apiextensions.CustomResource(
            f"{name}-pod-monitor", api_version=prometheus_naming.OPERATOR_API, kind="PodMonitor",
            metadata=workloads.metadata(NAME, namespace, {**labels, **settings.prometheus.rule_labels}),
            spec=prometheus_naming.pod_monitor(settings.kubernetes.namespace, pod_selector, scraped), opts=child)
        k8s.policy.v1.PodDisruptionBudget(f"{name}-pdb", metadata=meta(NAME),
                                          spec=workloads.disruption_budget(pod_selector), opts=child)
        otlp = ["otlp-grpc", "otlp-http"]
        k8s.networking.v1.NetworkPolicy(
            f"{name}-network-policy",
            metadata=meta(NAME),
            spec={"podSelector": {"matchLabels": pod_selector}, "policyTypes": ["Ingress"],
                  "ingress": [
                      # OTLP only from workloads in this namespace; metrics only from the scrapers.
                      *workloads.ingress_rule(workloads.SAME_NAMESPACE, otlp),
                      *workloads.ingress_rule(workloads.from_namespaces(settings.kubernetes.monitoring_namespaces),
                                              [p for p in exposed if p not in otlp]),
                  ]},
            opts=child,
        )
        self.service_name = service.metadata.name
        self.otlp_grpc_endpoint = pulumi.Output.all(service.metadata.name, service.metadata.namespace).apply(
            lambda parts: f"http://{parts[0]}.{parts[1]}.svc.cluster.local:{PORTS['otlp-grpc']}")
        self.register_outputs({"otlpGrpcEndpoint": self.otlp_grpc_endpoint})

