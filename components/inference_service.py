"""One AI inference service on Kubernetes: Deployment (or an Argo Rollouts Rollout and its analysis),
Service, disruption budget, autoscaler (an HPA on CPU or the queue, or a KEDA ScaledObject), network policy."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import by_type, workloads
from components.workloads import APPINSIGHTS_KEY
from config.settings import (
    DatadogSettings,
    KubernetesSettings,
    PrometheusSettings,
    ServiceSettings,
    StackIdentity,
)
from model import autoscaling, canary, verification
from model.contract import HEALTH_PATH, METRICS_PATH, READY_PATH
from model.naming import azure as azure_naming
from model.naming import datadog as datadog_naming
from model.naming import prometheus as prometheus_naming
from model.verification import Tolerance

CONTAINER = "inference"
HTTP_SERVICE_PORT = 80
STARTUP_PERIOD = 10
SHM, MODEL_CACHE = "dshm", "model-cache"  # volume names
# Scale down one pod a minute after five calm minutes: model pods are slow to replace.
SCALE_DOWN = {"stabilizationWindowSeconds": 300, "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]}


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


def environment(identity: StackIdentity, service: ServiceSettings, datadog: bool,
                collector_endpoint: pulumi.Input[str]) -> list[dict]:
    """What names the service to every backend (settings.PROGRAM_ENV), then the service's own env."""
    # The service's name and namespace are what App Insights builds its role name from.
    resource = azure_naming.resource(service.name, identity.application)
    resource_attributes = ",".join(f"{k}={v}" for k, v in (
        ("deployment.environment.name", identity.stack),
        ("service.namespace", resource["service.namespace"]),
        ("service.version", service.version),
        ("ai.model.name", service.model_name),
        ("ai.model.version", service.model_version),
    ))
    env: list[dict[str, Any]] = [
        {"name": "OTEL_SERVICE_NAME", "value": resource["service.name"]},
        {"name": "OTEL_EXPORTER_OTLP_ENDPOINT", "value": collector_endpoint},
        {"name": "OTEL_EXPORTER_OTLP_PROTOCOL", "value": "grpc"},
        {"name": "OTEL_RESOURCE_ATTRIBUTES", "value": resource_attributes},
        *({"name": name, "value": value} for name, value in azure_naming.SEMCONV_OPT_IN.items()),
        {"name": "MODEL_NAME", "value": service.model_name},
        {"name": "MODEL_VERSION", "value": service.model_version},
        # A path, not the secret: the service reads the file (it exports to App Insights without a collector).
        {"name": "APPLICATIONINSIGHTS_CONNECTION_STRING_FILE", "value": workloads.secret_file(APPINSIGHTS_KEY)},
    ]
    if datadog:
        env += [
            {"name": "DD_ENV", "value": identity.stack},
            {"name": "DD_SERVICE", "value": service.name},
            {"name": "DD_VERSION", "value": service.version},
            {"name": "DD_AGENT_HOST", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}},
        ]
    return env + [{"name": name, "value": value} for name, value in sorted(service.env.items())]


def volumes(service: ServiceSettings, secret_name: pulumi.Input[str]) -> tuple[list[dict], list[dict]]:
    """The pod's volumes and the container's mounts: /tmp, the App Insights connection string as a
    read-only file, and /dev/shm and the model cache when set."""
    scratch, tmp_mount = workloads.scratch_volume()
    secrets, secrets_mounts = workloads.secret_files(secret_name, [APPINSIGHTS_KEY])
    found, mounts = [scratch, *secrets], [tmp_mount, *secrets_mounts]
    if service.shm_size:  # tensor-parallel servers exchange tensors through shared memory
        found.append({"name": SHM, "emptyDir": {"medium": "Memory", "sizeLimit": service.shm_size}})
        mounts.append({"name": SHM, "mountPath": "/dev/shm"})
    cache = service.model_cache
    if cache:
        source = ({"persistentVolumeClaim": {"claimName": cache.claim_name, "readOnly": cache.read_only}}
                  if cache.claim_name else {"emptyDir": {"sizeLimit": cache.size_limit}})
        found.append({"name": MODEL_CACHE, **source})
        mounts.append({"name": MODEL_CACHE, "mountPath": cache.mount_path,
                       **({"readOnly": True} if cache.read_only else {})})
    return found, mounts


def ports(service: ServiceSettings) -> dict[str, int]:
    """The container's named ports: http, and metrics unless the server serves them on http."""
    return {"http": service.http_port, service.metrics_port_name: service.metrics_port}


def container(identity: StackIdentity, service: ServiceSettings, datadog: bool,
              collector_endpoint: pulumi.Input[str], secret_name: pulumi.Input[str]) -> dict:
    _, mounts = volumes(service, secret_name)
    return {
        "name": CONTAINER,
        "image": service.image,
        "imagePullPolicy": workloads.pull_policy(identity.production),
        "ports": [{"name": name, "containerPort": port, "protocol": "TCP"} for name, port in ports(service).items()],
        "env": environment(identity, service, datadog, collector_endpoint),
        "resources": workloads.resources(service.resources),
        # Liveness and readiness wait until the model is loaded and /health answers.
        "startupProbe": workloads.http_probe(HEALTH_PATH, "http", period=STARTUP_PERIOD,
                                             failures=math.ceil(service.startup_seconds / STARTUP_PERIOD)),
        "livenessProbe": workloads.http_probe(HEALTH_PATH, "http", period=10, failures=3),
        "readinessProbe": workloads.http_probe(READY_PATH, "http", period=5, failures=3),
        "lifecycle": workloads.pre_stop(),
        "securityContext": workloads.container_security_context(),
        "volumeMounts": mounts,
    }


def scheduling(service: ServiceSettings) -> dict:
    """Node selector, tolerations, affinity and runtime class, passed on in Kubernetes' own shape."""
    spec = service.scheduling
    fields = {"nodeSelector": dict(spec.node_selector), "tolerations": [dict(t) for t in spec.tolerations],
              "affinity": spec.affinity, "runtimeClassName": spec.runtime_class_name}
    return {key: value for key, value in fields.items() if value}


@dataclass(frozen=True, kw_only=True)
class InferenceServiceArgs:
    identity: StackIdentity
    service: ServiceSettings
    kubernetes: KubernetesSettings
    datadog: DatadogSettings
    prometheus: PrometheusSettings
    namespace: pulumi.Input[str]
    secret_name: pulumi.Input[str]  # the Secret holding the App Insights connection string
    collector_endpoint: pulumi.Input[str]  # where the service sends OTLP


class InferenceService(pulumi.ComponentResource):
    """A model server instrumented for Prometheus, Datadog, OpenTelemetry and App Insights: a Deployment, or
    with `rollout.enabled` an Argo Rollouts Rollout and the AnalysisTemplate that judges its canaries."""

    service_name: pulumi.Output[str]

    def __init__(self, name: str, args: InferenceServiceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ai-observability:kubernetes:InferenceService", name, None, opts)
        identity, service, kubernetes, datadog = args.identity, args.service, args.kubernetes, args.datadog
        self._name, self._service, self._namespace = name, service, args.namespace
        self._child = pulumi.ResourceOptions(parent=self)
        self._pod_selector = workloads.selector(service.name, identity.stack)
        self._labels = workloads.labels(service.name, identity.stack, service.version, "inference",
                                        identity.application)

        template = self._pod_template(identity, datadog.enabled, args.collector_endpoint, args.secret_name)
        k8s_service = self._service_object(f"{name}-service", service.name, routed=bool(service.rollout.nginx_ingress))
        if service.rollout.enabled:
            target = self._rollout(template, args, k8s_service)
        else:
            deployment = by_type.kubernetes("apps/v1", "Deployment", f"{name}-deployment", {
                "metadata": self._meta(), "spec": {
                    # No replicas here: the autoscaler owns the count between its bounds, and a
                    # replicas field would reset it on every `pulumi up`.
                    "selector": {"matchLabels": self._pod_selector}, "strategy": workloads.rolling_update(),
                    "revisionHistoryLimit": 5, "template": template}}, self._child)
            target = {"apiVersion": "apps/v1", "kind": "Deployment",
                      "name": by_type.output(deployment, "metadata")["name"]}
        by_type.kubernetes("policy/v1", "PodDisruptionBudget", f"{name}-pdb", {
            "metadata": self._meta(), "spec": workloads.disruption_budget(self._pod_selector)}, self._child)
        self._autoscaler(target, kubernetes.namespace, args.prometheus)
        scrapers = [*kubernetes.monitoring_namespaces, *([datadog.agent_namespace] if datadog.enabled else [])]
        self._network_policy(kubernetes.client_namespaces, scrapers)
        self.service_name = by_type.output(k8s_service, "metadata")["name"]
        self.register_outputs({"serviceName": self.service_name})

    def _service_object(self, resource_name: str, name: str, routed: bool = False) -> pulumi.CustomResource:
        """`routed`: a Service Argo Rollouts points at one version's pods (it adds the pod template hash to the
        selector, which it then owns): labelled without the version, so a release does not make Pulumi apply it
        again, and its selector left to Argo after creation."""
        service = self._service
        labels = {k: v for k, v in self._labels.items() if k not in workloads.VERSION_LABELS} if routed else \
            self._labels
        return by_type.kubernetes("v1", "Service", resource_name, {
            "metadata": workloads.metadata(name, self._namespace, labels),
            "spec": {"type": "ClusterIP", "selector": self._pod_selector, "ports": [
                {"name": "http", "port": HTTP_SERVICE_PORT, "targetPort": "http", "protocol": "TCP"},
                *([{"name": "metrics", "port": service.metrics_port, "targetPort": "metrics", "protocol": "TCP"}]
                  if "metrics" in ports(service) else []),
            ]},
        }, pulumi.ResourceOptions.merge(self._child, pulumi.ResourceOptions(
            ignore_changes=["spec.selector"] if routed else None)))

    def _rollout(self, template: dict, args: InferenceServiceArgs, stable: pulumi.CustomResource) -> dict:
        """The Rollout owns the pods (no Deployment: see docs/delivery.md), and its canaries are judged by an
        AnalysisTemplate built from the gate's checks; with an NGINX Ingress, a canary Service beside the
        stable one (Argo points each at its version's pods) carries the canary's share of the traffic."""
        service, rollout = self._service, self._service.rollout
        found = canary.prometheus_metrics(service.metrics, service.slo, service.name, args.kubernetes.namespace,
                                          rollout.analysis_window, Tolerance(), verification.MIN_REQUESTS)
        datadog = (canary.datadog_queries(service.metrics, args.identity.stack, service.name)
                   if args.prometheus.url is None else None)
        analysis = k8s.apiextensions.CustomResource(
            f"{self._name}-analysis", api_version=canary.API_VERSION, kind="AnalysisTemplate", metadata=self._meta(),
            spec=canary.analysis_template(
                found, {"address": args.prometheus.url or ""}, datadog=datadog, interval=rollout.analysis_interval,
                window=rollout.analysis_window, failure_limit=rollout.failure_limit),
            opts=self._child)
        traffic: dict[str, Any] | None = None  # the Services' names: outputs the SDK resolves in the spec
        if rollout.nginx_ingress:
            canary_service = self._service_object(f"{self._name}-canary-service", f"{service.name}-canary",
                                                  routed=True)
            traffic = {"stable": by_type.output(stable, "metadata")["name"],
                       "canary": by_type.output(canary_service, "metadata")["name"], "ingress": rollout.nginx_ingress}
        workload = k8s.apiextensions.CustomResource(
            f"{self._name}-rollout", api_version=canary.API_VERSION, kind="Rollout", metadata=self._meta(),
            spec={"selector": {"matchLabels": self._pod_selector}, "revisionHistoryLimit": 5, "template": template,
                  # Surge as the Deployments roll: never below the desired pods.
                  "strategy": {"canary": analysis.metadata["name"].apply(lambda name: {
                      **workloads.rolling_update()["rollingUpdate"],
                      **canary.canary_strategy(rollout.steps, name, service.version, traffic)})}},
            opts=self._child)
        return {"apiVersion": canary.API_VERSION, "kind": "Rollout", "name": workload.metadata["name"]}

    def _autoscaler(self, target: dict, namespace: str, prometheus: PrometheusSettings) -> None:
        """CPU or queue through an HPA, or the queue through KEDA, which then owns the HPA."""
        service, scaling = self._service, self._service.autoscaling
        selector = prometheus_naming.selector(service.name, namespace)
        if scaling.engine == "keda":
            server = prometheus.url
            if server is None:
                raise ValueError("KEDA's Prometheus scaler needs prometheus.url")  # settings require it
            k8s.apiextensions.CustomResource(
                f"{self._name}-scaled-object", api_version=autoscaling.KEDA_API, kind="ScaledObject",
                metadata=self._meta(), spec=pulumi.Output.from_input(target).apply(
                    lambda ref: autoscaling.scaled_object(
                        ref, service.min_replicas, service.max_replicas, {"scaleDown": SCALE_DOWN}, server,
                        autoscaling.queue_query(service.metrics, selector), scaling.queue_per_replica,
                        prometheus.keda_authentication)),
                opts=self._child)
            return
        metric = (autoscaling.external_metric(service.metrics, selector, scaling.queue_per_replica)
                  if scaling.metric == "queue" else
                  {"type": "Resource", "resource": {"name": "cpu", "target": {
                      "type": "Utilization", "averageUtilization": scaling.target_cpu_utilization}}})
        by_type.kubernetes("autoscaling/v2", "HorizontalPodAutoscaler", f"{self._name}-hpa", {
            "metadata": self._meta(),
            "spec": {
                "scaleTargetRef": target,
                "minReplicas": service.min_replicas,
                "maxReplicas": service.max_replicas,
                "metrics": [metric],
                "behavior": {"scaleDown": SCALE_DOWN},
            },
        }, self._child)

    def _meta(self) -> dict:
        return workloads.metadata(self._service.name, self._namespace, self._labels)

    def _pod_template(self, identity: StackIdentity, datadog: bool, collector_endpoint: pulumi.Input[str],
                      secret_name: pulumi.Input[str]) -> dict:
        service = self._service
        pod_labels = dict(self._labels)
        if datadog:  # Datadog's unified service tagging: the env and service tags every monitor scopes by
            pod_labels.update(datadog_naming.unified_service_labels(identity.stack, service.name, service.version))
        account = by_type.kubernetes("v1", "ServiceAccount", f"{self._name}-service-account", {
            "metadata": self._meta(), "automountServiceAccountToken": False}, self._child)
        pod_volumes, _ = volumes(service, secret_name)
        # Each version's pods spread on their own: a Deployment's carry pod-template-hash, a Rollout's Argo's label.
        version_label = canary.HASH_LABEL if service.rollout.enabled else "pod-template-hash"
        return {
            "metadata": {"labels": pod_labels, "annotations": pod_annotations(service, datadog)},
            "spec": {
                "serviceAccountName": by_type.output(account, "metadata")["name"],
                "automountServiceAccountToken": False,
                "securityContext": workloads.pod_security_context(),
                "terminationGracePeriodSeconds": service.termination_grace_seconds,
                "topologySpreadConstraints": workloads.spread(self._pod_selector, version_label),
                **scheduling(service),
                "containers": [container(identity, service, datadog, collector_endpoint, secret_name)],
                "volumes": pod_volumes,
            },
        }

    def _network_policy(self, client_namespaces: tuple[str, ...], scrapers: list[str]) -> None:
        """Clients: this namespace and the listed client namespaces; metrics: the scrapers only."""
        by_type.kubernetes("networking.k8s.io/v1", "NetworkPolicy", f"{self._name}-network-policy", {
            "metadata": self._meta(),
            "spec": {"podSelector": {"matchLabels": self._pod_selector}, "policyTypes": ["Ingress"], "ingress": [
                *workloads.ingress_rule(workloads.SAME_NAMESPACE + workloads.from_namespaces(client_namespaces),
                                        ["http"]),
                *workloads.ingress_rule(workloads.from_namespaces(scrapers), [self._service.metrics_port_name]),
            ]},
        }, self._child)
