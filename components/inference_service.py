"""One AI inference service on Kubernetes: Deployment, Service, disruption budget, autoscaler, network policy."""

from __future__ import annotations

import math
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from components import workloads
from components.settings import InferenceService as ServiceSettings
from components.settings import Settings
from components.workload_namespace import APPINSIGHTS_KEY
from model.contract import HEALTH_PATH, METRICS_PATH, READY_PATH
from model.naming import azure as azure_naming
from model.naming import datadog as datadog_naming

CONTAINER = "inference"
HTTP_SERVICE_PORT = 80
STARTUP_PERIOD = 10


def pod_annotations(service: ServiceSettings, datadog: bool) -> dict[str, str]:
    """Scrape annotations for Prometheus, and the Datadog Agent's check for the same endpoint."""
    annotations = {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(service.metrics_port),
        "prometheus.io/path": METRICS_PATH,
    }
    if datadog:
        annotations[f"ad.datadoghq.com/{CONTAINER}.checks"] = datadog_naming.autodiscovery_checks(
            service.metrics, service.metrics_port)
    return annotations


def environment(settings: Settings, service: ServiceSettings, collector_endpoint: pulumi.Input[str],
                secret_name: pulumi.Input[str]) -> list[dict]:
    # The service's name and namespace are what App Insights builds its role name from.
    identity = azure_naming.resource(service.name, settings.application)
    resource_attributes = ",".join(f"{k}={v}" for k, v in (
        ("deployment.environment.name", settings.stack),
        ("service.namespace", identity["service.namespace"]),
        ("service.version", service.version),
        ("ai.model.name", service.model_name),
        ("ai.model.version", service.model_version),
    ))
    env = [
        {"name": "OTEL_SERVICE_NAME", "value": identity["service.name"]},
        {"name": "OTEL_EXPORTER_OTLP_ENDPOINT", "value": collector_endpoint},
        {"name": "OTEL_EXPORTER_OTLP_PROTOCOL", "value": "grpc"},
        {"name": "OTEL_RESOURCE_ATTRIBUTES", "value": resource_attributes},
        *({"name": name, "value": value} for name, value in azure_naming.SEMCONV_OPT_IN.items()),
        {"name": "MODEL_NAME", "value": service.model_name},
        {"name": "MODEL_VERSION", "value": service.model_version},
        workloads.secret_env("APPLICATIONINSIGHTS_CONNECTION_STRING", secret_name, APPINSIGHTS_KEY),
    ]
    if settings.datadog.enabled:
        env += [
            {"name": "DD_ENV", "value": settings.stack},
            {"name": "DD_SERVICE", "value": service.name},
            {"name": "DD_VERSION", "value": service.version},
            {"name": "DD_AGENT_HOST", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}},
        ]
    return env


def container(settings: Settings, service: ServiceSettings, collector_endpoint: pulumi.Input[str],
              secret_name: pulumi.Input[str]) -> dict:
    _, tmp_mount = workloads.scratch_volume()
    return {
        "name": CONTAINER,
        "image": service.image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": service.http_port, "protocol": "TCP"},
                  {"name": "metrics", "containerPort": service.metrics_port, "protocol": "TCP"}],
        "env": environment(settings, service, collector_endpoint, secret_name),
        "resources": workloads.resources(service.resources),
        # Liveness and readiness wait until the model is loaded and /health answers.
        "startupProbe": workloads.http_probe(HEALTH_PATH, "http", period=STARTUP_PERIOD,
                                             failures=math.ceil(service.startup_seconds / STARTUP_PERIOD)),
        "livenessProbe": workloads.http_probe(HEALTH_PATH, "http", period=10, failures=3),
        "readinessProbe": workloads.http_probe(READY_PATH, "http", period=5, failures=3),
        "lifecycle": workloads.pre_stop(),
        "securityContext": workloads.container_security_context(),
        "volumeMounts": [tmp_mount],
    }


class InferenceService(pulumi.ComponentResource):
    """A model server instrumented for Prometheus, Datadog, OpenTelemetry and App Insights."""

    service_name: pulumi.Output[str]

    def __init__(self, name: str, settings: Settings, service: ServiceSettings, namespace: pulumi.Input[str],
                 secret_name: pulumi.Input[str], collector_endpoint: pulumi.Input[str],
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("ai-observability:kubernetes:InferenceService", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        datadog = settings.datadog.enabled
        pod_selector = workloads.selector(service.name, settings.stack)
        labels = workloads.labels(service.name, settings.stack, service.version, "inference", settings.application)
        pod_labels = dict(labels)
        if datadog:  # Datadog's unified service tagging: the env and service tags every monitor scopes by
            pod_labels.update(datadog_naming.unified_service_labels(settings.stack, service.name, service.version))

        def meta(annotations: Optional[dict] = None) -> dict:
            return workloads.metadata(service.name, namespace, labels, annotations)

        account = k8s.core.v1.ServiceAccount(f"{name}-service-account", metadata=meta(),
                                             automount_service_account_token=False, opts=child)
        volume, _ = workloads.scratch_volume()
        deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=meta(),
            spec={
                # No replicas here: the autoscaler owns the count between its bounds, and a
                # replicas field would reset it on every `pulumi up`.
                "selector": {"matchLabels": pod_selector},
                "strategy": workloads.rolling_update(),
                "revisionHistoryLimit": 5,
                "template": {
                    "metadata": {"labels": pod_labels, "annotations": pod_annotations(service, datadog)},
                    "spec": {
                        "serviceAccountName": account.metadata.name,
                        "automountServiceAccountToken": False,
                        "securityContext": workloads.pod_security_context(),
                        "terminationGracePeriodSeconds": service.termination_grace_seconds,
                        "topologySpreadConstraints": workloads.spread(pod_selector),
                        "containers": [container(settings, service, collector_endpoint, secret_name)],
                        "volumes": [volume],
                    },
                },
            },
            opts=child,
        )
        k8s_service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=meta(),
            spec={"type": "ClusterIP", "selector": pod_selector, "ports": [
                {"name": "http", "port": HTTP_SERVICE_PORT, "targetPort": "http", "protocol": "TCP"},
                {"name": "metrics", "port": service.metrics_port, "targetPort": "metrics", "protocol": "TCP"},
            ]},
            opts=child,
        )
        k8s.policy.v1.PodDisruptionBudget(f"{name}-pdb", metadata=meta(),
                                          spec=workloads.disruption_budget(pod_selector), opts=child)
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-hpa",
            metadata=meta(),
            spec={
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment.metadata.name},
                "minReplicas": service.min_replicas,
                "maxReplicas": service.max_replicas,
                "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                    "type": "Utilization", "averageUtilization": service.target_cpu_utilization}}}],
                # Scale down one pod a minute after five calm minutes: model pods are slow to replace.
                "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300,
                                           "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]}},
            },
            opts=child,
        )
        scrapers = list(settings.kubernetes.monitoring_namespaces)
        if datadog:
            scrapers.append(settings.datadog.agent_namespace)
        k8s.networking.v1.NetworkPolicy(
            f"{name}-network-policy",
            metadata=meta(),
            spec={"podSelector": {"matchLabels": pod_selector}, "policyTypes": ["Ingress"], "ingress": [
                # Clients: this namespace and the listed client namespaces; metrics: the scrapers only.
                *workloads.ingress_rule(
                    workloads.SAME_NAMESPACE + workloads.from_namespaces(settings.kubernetes.client_namespaces),
                    ["http"]),
                *workloads.ingress_rule(workloads.from_namespaces(scrapers), ["metrics"]),
            ]},
            opts=child,
        )
        self.service_name = k8s_service.metadata.name
        self.register_outputs({"serviceName": self.service_name})
