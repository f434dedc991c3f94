"""The OpenTelemetry Collector on Kubernetes: config, RBAC for k8sattributes, a hardened Deployment, its Service;
with tail sampling, a second tier that samples whole traces, which the first balances by trace id."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import yaml

from components import workloads
from components.collector_config import (
    CREDENTIALS,
    HEALTH_PATH,
    PORTS,
    collector_config,
    memory_limits,
    sampler_config,
    sampling_policies,
)
from config.limits import TRACE_BACKENDS
from config.settings import CollectorSettings, KubernetesSettings, StackIdentity
from model.catalogue import Alert
from model.contract import METRICS_PATH
from model.dialects import prometheus as prometheus_dialect
from model.naming import kubernetes as kubernetes_naming
from model.naming import prometheus as prometheus_naming
from model.quantities import mebibytes

NAME = "otel-collector"
SAMPLER = f"{NAME}-sampler"  # the sampling tier, and its headless Service
CONFIG_FILE = "config.yaml"
OTLP_PORTS = ("otlp-grpc", "otlp-http")
GRACE_SECONDS = 30  # long enough to flush the batch processor's last batch


def config_yaml(collector: CollectorSettings, datadog_site: str, sampler: str | None = None) -> str:
    config = collector_config(collector.exporters, datadog_site, mebibytes(collector.resources.memory_limit),
                              collector.redaction, sampler)
    return yaml.safe_dump(config, sort_keys=False)


def samples(collector: CollectorSettings) -> bool:
    """Tail sampling: a share of the traces below 100%, and a backend that takes traces."""
    return collector.sampling_percentage < 100 and bool(set(TRACE_BACKENDS) & set(collector.exporters))


def scraped_ports(collector: CollectorSettings) -> list[str]:
    """Its own metrics, and the Prometheus exporter's when enabled."""
    return ["metrics", *(["prometheus"] if "prometheus" in collector.exporters else [])]


@dataclass(frozen=True, kw_only=True)
class OtelCollectorArgs:
    identity: StackIdentity
    collector: CollectorSettings
    kubernetes: KubernetesSettings
    datadog_site: str  # where the datadog exporter sends, when it is on
    rule_labels: Mapping[str, str]  # the labels the Prometheus operator selects rules and monitors by
    namespace: pulumi.Input[str]
    secret_name: pulumi.Input[str]  # the Secret holding the exporters' credentials
    alerts: tuple[Alert, ...]  # the pipeline's own (catalogue.pipeline_alerts), on the metrics it exposes
    slow_after: Mapping[str, float]  # per service.name, the latency above which tail sampling keeps a trace


class OtelCollector(pulumi.ComponentResource):
    """Receives OTLP from the services and exports to the enabled backends."""

    otlp_grpc_endpoint: pulumi.Output[str]  # http://<service>.<namespace>.svc.cluster.local:4317
    service_name: pulumi.Output[str]

    def __init__(self, name: str, args: OtelCollectorArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ai-observability:kubernetes:OtelCollector", name, None, opts)
        identity, collector, kubernetes, namespace = args.identity, args.collector, args.kubernetes, args.namespace
        secret_name = args.secret_name
        self._name, self._collector, self._namespace = name, collector, namespace
        self._child = pulumi.ResourceOptions(parent=self)
        self._pod_selector = workloads.selector(NAME, identity.stack)
        self._labels = workloads.labels(NAME, identity.stack, collector.version, "collector", identity.application)

        # No token by default: the Deployment mounts a short-lived one for k8sattributes explicitly.
        account = k8s.core.v1.ServiceAccount(f"{name}-service-account", metadata=self._meta(),
                                             automount_service_account_token=False, opts=self._child)
        self._rbac(account, kubernetes.namespace)
        sampler = f"{SAMPLER}.{kubernetes.namespace}.svc.cluster.local" if samples(collector) else None
        config_map = self._config_map(name, NAME, config_yaml(collector, args.datadog_site, sampler))
        self._deployment(f"{name}-deployment", NAME, self._pod_selector, self._labels, account, config_map,
                         secret_name, identity.production, list(collector.exporters), api_token=True)
        service = k8s.core.v1.Service(
            f"{name}-service",
            # For Prometheus servers that discover by annotation; the operator's uses the PodMonitor below.
            metadata=workloads.metadata(NAME, namespace, self._labels, {
                "prometheus.io/scrape": "true", "prometheus.io/port": str(PORTS["metrics"]),
                "prometheus.io/path": METRICS_PATH}),
            spec={"type": "ClusterIP", "selector": self._pod_selector,
                  "ports": [{"name": p, "port": PORTS[p], "targetPort": p, "protocol": "TCP"}
                            for p in (*OTLP_PORTS, *scraped_ports(collector))]},
            opts=self._child)
        self._monitoring(name, NAME, self._labels, self._pod_selector, scraped_ports(collector), args)
        k8s.policy.v1.PodDisruptionBudget(f"{name}-pdb", metadata=self._meta(),
                                          spec=workloads.disruption_budget(self._pod_selector), opts=self._child)
        k8s.networking.v1.NetworkPolicy(
            f"{name}-network-policy",
            metadata=self._meta(),
            spec={"podSelector": {"matchLabels": self._pod_selector}, "policyTypes": ["Ingress"], "ingress": [
                # OTLP only from workloads in this namespace; metrics only from the scrapers.
                *workloads.ingress_rule(workloads.SAME_NAMESPACE, list(OTLP_PORTS)),
                *workloads.ingress_rule(workloads.from_namespaces(kubernetes.monitoring_namespaces),
                                        scraped_ports(collector)),
            ]},
            opts=self._child,
        )
        if sampler:
            self._sampling_tier(args, account)
        self.service_name = service.metadata.name
        self.otlp_grpc_endpoint = pulumi.Output.all(service.metadata.name, service.metadata.namespace).apply(
            lambda parts: f"http://{parts[0]}.{parts[1]}.svc.cluster.local:{PORTS['otlp-grpc']}")
        self.register_outputs({"otlpGrpcEndpoint": self.otlp_grpc_endpoint})

    def _meta(self) -> dict:
        return workloads.metadata(NAME, self._namespace, self._labels)

    def _monitoring(self, resource_name: str, name: str, labels: Mapping[str, str], selector: Mapping[str, str],
                    ports: list[str], args: OtelCollectorArgs) -> None:
        """A tier's PodMonitor and the pipeline's alerts on its own metrics. The operator's Prometheus ignores
        prometheus.io/* annotations: the PodMonitor makes it scrape the collector's own metrics and, with
        honorLabels, the job and instance the prometheus exporter gives each series."""
        namespace, metadata = args.kubernetes.namespace, workloads.metadata(name, self._namespace,
                                                                            {**labels, **args.rule_labels})
        k8s.apiextensions.CustomResource(
            f"{resource_name}-pod-monitor", api_version=prometheus_naming.OPERATOR_API, kind="PodMonitor",
            metadata=metadata, spec=prometheus_naming.pod_monitor(namespace, dict(selector),
                                                                  {port: port == "prometheus" for port in ports}),
            opts=self._child)
        if args.alerts:
            k8s.apiextensions.CustomResource(
                f"{resource_name}-prometheus-rule", api_version=prometheus_naming.OPERATOR_API, kind="PrometheusRule",
                metadata=metadata, spec={"groups": [prometheus_dialect.pipeline_rule_group(
                    args.alerts, name, namespace, args.identity.team)]},
                opts=self._child)

    def _config_map(self, resource_name: str, name: str, config: str) -> k8s.core.v1.ConfigMap:
        # Named by its content, as kustomize's configMapGenerator does: a new config is a new ConfigMap, created
        # before the old one is deleted, and the Deployment rolls onto it; no pod ever mounts a missing one.
        return k8s.core.v1.ConfigMap(
            f"{resource_name}-config", metadata={**workloads.metadata(name, self._namespace, self._labels),
                                                 "name": kubernetes_naming.content_named(name, config)},
            data={CONFIG_FILE: config}, opts=self._child)

    def _sampling_tier(self, args: OtelCollectorArgs, account: k8s.core.v1.ServiceAccount) -> None:
        """The samplers: OTLP from the first tier only (each trace's spans to one sampler: the headless Service
        lists every sampler pod, the load balancer hashes trace ids over them), tail sampling, the traces
        backends. As many as the first tier, hardened alike, with no API token (no k8sattributes here)."""
        collector, identity = args.collector, args.identity
        selector = workloads.selector(SAMPLER, identity.stack)
        labels = workloads.labels(SAMPLER, identity.stack, collector.version, "collector", identity.application)
        meta = workloads.metadata(SAMPLER, self._namespace, labels)
        config = sampler_config(collector.exporters, args.datadog_site, mebibytes(collector.resources.memory_limit),
                                sampling_policies(args.slow_after, collector.sampling_percentage))
        config_map = self._config_map(f"{self._name}-sampler", SAMPLER, yaml.safe_dump(config, sort_keys=False))
        backends = [b for b in collector.exporters if b in TRACE_BACKENDS]
        self._deployment(f"{self._name}-sampler-deployment", SAMPLER, selector, labels, account, config_map,
                         args.secret_name, identity.production, backends, api_token=False)
        k8s.core.v1.Service(
            f"{self._name}-sampler-service", metadata=meta,
            spec={"clusterIP": "None", "selector": selector, "ports": [
                {"name": "otlp-grpc", "port": PORTS["otlp-grpc"], "targetPort": "otlp-grpc", "protocol": "TCP"}]},
            opts=self._child)
        k8s.policy.v1.PodDisruptionBudget(f"{self._name}-sampler-pdb", metadata=meta,
                                          spec=workloads.disruption_budget(selector), opts=self._child)
        self._monitoring(f"{self._name}-sampler", SAMPLER, labels, selector, ["metrics"], args)
        k8s.networking.v1.NetworkPolicy(
            f"{self._name}-sampler-network-policy", metadata=meta,
            spec={"podSelector": {"matchLabels": selector}, "policyTypes": ["Ingress"], "ingress": [
                *workloads.ingress_rule([{"podSelector": {"matchLabels": self._pod_selector}}], ["otlp-grpc"]),
                *workloads.ingress_rule(workloads.from_namespaces(args.kubernetes.monitoring_namespaces),
                                        ["metrics"]),
            ]},
            opts=self._child)

    def _rbac(self, account: k8s.core.v1.ServiceAccount, namespace: str) -> None:
        """k8sattributes reads pod metadata, and the ReplicaSet to name the Deployment: nothing more."""
        role_name = f"{NAME}-{namespace}"  # cluster-wide: one per namespace the collector runs in
        role = k8s.rbac.v1.ClusterRole(
            f"{self._name}-cluster-role",
            metadata={"name": role_name, "labels": self._labels},
            rules=[{"apiGroups": [""], "resources": ["pods", "namespaces"], "verbs": ["get", "list", "watch"]},
                   {"apiGroups": ["apps"], "resources": ["replicasets"], "verbs": ["get", "list", "watch"]}],
            opts=self._child,
        )
        k8s.rbac.v1.ClusterRoleBinding(
            f"{self._name}-cluster-role-binding",
            metadata={"name": role_name, "labels": self._labels},
            role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role.metadata.name},
            subjects=[{"kind": "ServiceAccount", "name": account.metadata.name, "namespace": self._namespace}],
            opts=self._child,
        )

    def _deployment(self, resource_name: str, name: str, selector: Mapping[str, str], labels: Mapping[str, str],
                    account: k8s.core.v1.ServiceAccount, config_map: k8s.core.v1.ConfigMap,
                    secret_name: pulumi.Input[str], production: bool, backends: list[str],
                    api_token: bool) -> k8s.apps.v1.Deployment:
        """A collector tier's pods; `api_token`: the short-lived token k8sattributes reads pod metadata with."""
        collector = self._collector
        limiter_mib, _ = memory_limits(mebibytes(collector.resources.memory_limit))
        env = [{"name": "MY_POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
               # Go's garbage collector works to stay under the memory limiter's limit.
               {"name": "GOMEMLIMIT", "value": f"{limiter_mib}MiB"}]
        scratch, tmp_mount = workloads.scratch_volume()
        secrets, secrets_mounts = workloads.secret_files(
            secret_name, [key for backend, key in CREDENTIALS.items() if backend in backends])
        token, token_mount = workloads.api_token()
        container = {
            "name": NAME,
            "image": collector.image,
            "imagePullPolicy": workloads.pull_policy(production),
            "args": [f"--config=/conf/{CONFIG_FILE}"],
            "ports": [{"name": port, "containerPort": number, "protocol": "TCP"} for port, number in PORTS.items()],
            "env": env,
            "resources": workloads.resources(collector.resources),
            "livenessProbe": workloads.http_probe(HEALTH_PATH, "health", period=10, failures=3),
            "readinessProbe": workloads.http_probe(HEALTH_PATH, "health", period=5, failures=3),
            "securityContext": workloads.container_security_context(),
            "volumeMounts": [{"name": "config", "mountPath": "/conf", "readOnly": True}, tmp_mount, *secrets_mounts,
                             *([token_mount] if api_token else [])],
        }
        return k8s.apps.v1.Deployment(
            resource_name,
            metadata=workloads.metadata(name, self._namespace, labels),
            spec={
                "replicas": collector.replicas,
                "selector": {"matchLabels": dict(selector)},
                "strategy": workloads.rolling_update(),
                "template": {
                    "metadata": {"labels": dict(labels)},
                    "spec": {
                        "serviceAccountName": account.metadata.name,
                        "automountServiceAccountToken": False,  # the token k8sattributes needs is mounted below
                        "securityContext": workloads.pod_security_context(),
                        "topologySpreadConstraints": workloads.spread(selector),
                        "terminationGracePeriodSeconds": GRACE_SECONDS,
                        "containers": [container],
                        "volumes": [{"name": "config", "configMap": {"name": config_map.metadata.name}}, scratch,
                                    *secrets, *([token] if api_token else [])],
                    },
                },
            },
            opts=self._child,
        )
