"""The settings the program uses: frozen, typed, built from a stack file the schema and checks passed.

Defaults that depend on other keys are resolved here (a service's version from its image tag, the
namespace from the application and stack, the collector's exporters from the backends enabled).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from config import limits, schema
from config.values import image_tag
from model import presets
from model.contract import MetricContract
from model.slo import DEFAULT_ROUTING, LATENCY_SLOS, LatencySlo, Objective, Quality, Saturation, ServiceSlo


class SecretValue:
    """A secret from config: readable for validation, masked wherever it could be printed."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "SecretValue([secret])"

    __str__ = __repr__


@dataclass(frozen=True)
class AlertRule:
    """An Azure alert rule's tunables. `threshold` is in the unit the rule documents."""

    threshold: float  # failed locations: 0 when not set, for each test's own (failed_locations_guidance)
    severity: int
    frequency: str
    window: str


@dataclass(frozen=True)
class AzureAlerts:
    request_duration: AlertRule  # average server response time, ms (metric alert)
    failed_requests: AlertRule  # failed request count (metric alert)
    server_exceptions: AlertRule  # server exception count (metric alert)
    availability: AlertRule  # failed test locations (metric alert per availability test)
    daily_cap: AlertRule  # workspace hit its daily cap (log alert; fires on any occurrence)


@dataclass(frozen=True)
class EmailReceiver:
    name: str
    address: str


@dataclass(frozen=True)
class WebhookReceiver:
    name: str
    url: SecretValue


@dataclass(frozen=True)
class AvailabilityTest:
    name: str
    url: str
    frequency_seconds: int
    timeout_seconds: int
    locations: tuple[str, ...]
    failed_locations: int  # how many locations must fail for its alert to fire


def failed_locations_guidance(locations: int) -> int:
    """Microsoft's guidance for an availability test's alert (azure-monitor/app/availability, "Alert location
    threshold"): the number of test locations minus two, so that one region's blip does not fire it."""
    return max(1, locations - 2)


@dataclass(frozen=True)
class AzureSettings:
    subscription_id: str
    location: str
    existing_resource_group: str | None
    retention_days: int
    daily_cap_gb: float | None  # None: no cap
    app_insights_local_auth: bool
    managed_prometheus: bool  # an Azure Monitor workspace, and Prometheus rule groups on it
    action_group_short_name: str
    email_receivers: tuple[EmailReceiver, ...]
    webhook_receivers: tuple[WebhookReceiver, ...]
    availability_tests: tuple[AvailabilityTest, ...]
    alerts: AzureAlerts


@dataclass(frozen=True)
class Resources:
    """Container requests and limits, as Kubernetes quantities."""

    cpu_request: str
    memory_request: str
    cpu_limit: str
    memory_limit: str
    # Extended resources such as nvidia.com/gpu: a limit only, which Kubernetes also requests.
    extended: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))


SERVICE_RESOURCES = Resources("500m", "512Mi", "1", "1Gi")
COLLECTOR_RESOURCES = Resources("200m", "256Mi", "1", "512Mi")


@dataclass(frozen=True)
class ModelCache:
    """Where a model server keeps its weights: an emptyDir of a size, or an existing claim."""

    mount_path: str
    size_limit: str | None
    claim_name: str | None
    read_only: bool


@dataclass(frozen=True)
class Scheduling:
    """Where a service's pods may run, in Kubernetes' own shapes."""

    node_selector: Mapping[str, str]
    tolerations: tuple[Mapping[str, Any], ...]
    affinity: Mapping[str, Any] | None
    runtime_class_name: str | None


@dataclass(frozen=True)
class Autoscaling:
    """What the replica count follows: CPU (an HPA), or the waiting requests per replica through
    KEDA's Prometheus scaler or an HPA on prometheus-adapter's external metric."""

    metric: str  # cpu or queue
    engine: str  # hpa or keda
    target_cpu_utilization: int  # percent, for cpu
    queue_per_replica: float  # waiting requests per replica, for queue


@dataclass(frozen=True)
class RolloutSettings:
    """Canary releases through Argo Rollouts: the steps (weight percent, pause) and how the analysis measures."""

    enabled: bool
    steps: tuple[tuple[int, str], ...]
    analysis_interval: str
    analysis_window: str
    failure_limit: int
    nginx_ingress: str | None  # traffic routing through this Ingress; None: the replica ratio


@dataclass(frozen=True)
class ServiceSettings:
    """One inference service: what it runs, how big, where, and what it is held to."""

    name: str
    image: str
    version: str
    model_name: str
    model_version: str
    min_replicas: int
    max_replicas: int
    resources: Resources
    http_port: int
    metrics_port: int
    termination_grace_seconds: int
    startup_seconds: int
    metrics: MetricContract
    slo: ServiceSlo
    scheduling: Scheduling
    env: Mapping[str, str]  # extra environment, plain values only
    shm_size: str | None  # a memory-backed /dev/shm of this size (counts against the memory limit)
    model_cache: ModelCache | None
    autoscaling: Autoscaling
    rollout: RolloutSettings

    @property
    def metrics_port_name(self) -> str:
        """The container port the metrics are scraped on: `http` for a server that serves /metrics on its
        API port (vLLM, TGI: ports.metrics = ports.http), else its own `metrics` port."""
        return "http" if self.metrics_port == self.http_port else "metrics"

    @property
    def gpus(self) -> int:
        """NVIDIA GPUs per pod: the service gets DCGM's GPU alerts when it has any."""
        return self.resources.extended.get(limits.GPU_RESOURCE, 0)


@dataclass(frozen=True)
class Redaction:
    """What the collector removes before any exporter: GenAI content (drop, truncate or keep) and common PII."""

    enabled: bool
    genai_content: str  # drop, truncate or keep
    truncate_to: int  # characters, with truncate


@dataclass(frozen=True)
class CollectorSettings:
    image: str
    version: str  # the image tag, or the digest's first 12 hex digits
    replicas: int
    resources: Resources
    exporters: tuple[str, ...]
    redaction: Redaction
    sampling_percentage: float  # of the traces neither failed nor slow; 100: no sampling


@dataclass(frozen=True)
class KubernetesSettings:
    version: str  # major.minor, what manifests are validated against
    namespace: str
    context: str | None  # None: the kubeconfig's current context
    kubeconfig: SecretValue | None  # None: the provider's default kubeconfig
    monitoring_namespaces: tuple[str, ...]  # may scrape metrics ports
    client_namespaces: tuple[str, ...]  # may call the services, besides their own namespace


@dataclass(frozen=True)
class DatadogSettings:
    enabled: bool
    site: str
    api_key: SecretValue | None
    app_key: SecretValue | None
    agent_namespace: str
    notify: Mapping[str, tuple[str, ...]]  # route -> notification handles, e.g. @pagerduty-ai-inference
    # Datadog keeps one tag configuration per metric and organization: one stack owns it.
    manage_latency_percentiles: bool

    @property
    def api_url(self) -> str:
        return f"https://api.{self.site}/"

    def credentials(self) -> tuple[SecretValue, SecretValue]:
        """The API and application keys, which the checks require whenever Datadog is enabled."""
        if self.api_key is None or self.app_key is None:
            raise ValueError("Datadog is not enabled: there are no Datadog keys")
        return self.api_key, self.app_key


@dataclass(frozen=True)
class PrometheusSettings:
    rule_labels: Mapping[str, str]  # what the Prometheus operator selects PrometheusRules and PodMonitors by
    url: str | None  # the in-cluster query URL, for KEDA's Prometheus scaler
    keda_authentication: str | None  # the TriggerAuthentication that scaler uses, if any


@dataclass(frozen=True)
class AlertmanagerSettings:
    receivers: Mapping[str, str]  # route -> receiver kind; empty: no AlertmanagerConfig
    credentials: Mapping[str, SecretValue]  # route -> the receiver's URL or routing key


@dataclass(frozen=True)
class StackIdentity:
    """Whose the stack's resources are, and how they are named and tagged."""

    project: str
    stack: str
    production: bool
    name_prefix: str
    application: str
    team: str
    tags: Mapping[str, str]  # every Azure tag: the uniform three plus the stack's extras

    def resource_name(self, what: str) -> str:
        """Physical names follow one pattern, e.g. ai-staging-logs."""
        return f"{self.name_prefix}-{self.stack}-{what}"


@dataclass(frozen=True)
class Settings:
    identity: StackIdentity
    runbook_base_url: str
    azure: AzureSettings
    kubernetes: KubernetesSettings
    datadog: DatadogSettings
    prometheus: PrometheusSettings
    alertmanager: AlertmanagerSettings
    services: tuple[ServiceSettings, ...]
    collector: CollectorSettings


# -- building --------------------------------------------------------------------------------------

def secret_map(text: str | None) -> dict[str, SecretValue]:
    """A secret JSON map of names to strings (the checks made sure it is one)."""
    return {name: SecretValue(value) for name, value in (json.loads(text) if text else {}).items()}


def default_exporters(spec: schema.StackSpec) -> tuple[str, ...]:
    """Every backend the stack sets up: App Insights with key ingestion, Datadog when on, Prometheus."""
    return tuple(backend for backend, on in (("azuremonitor", spec.azure_app_insights_local_auth),
                                             ("datadog", spec.datadog_enabled), ("prometheus", True)) if on)


def contract(metrics: schema.Metrics, model: str) -> MetricContract:
    """The service's metric contract: its preset's names for the model it serves, or the default's, renamed."""
    if metrics.preset != "default":
        found = presets.PRESETS[metrics.preset]
        if found.backend_roles and metrics.backend_model:
            found = replace(found, backend_model=metrics.backend_model)
    else:
        found = presets.default(
            requests=metrics.requests, latency=metrics.latency, tokens=metrics.tokens, cost=metrics.cost,
            model_label=metrics.model_label, status_label=metrics.status_label, error_status=metrics.error_status,
            token_type_label=metrics.token_type_label, latency_buckets=tuple(metrics.latency_buckets))
    return presets.serving(found, model)


def resources(spec: schema.Resources | schema.ServiceResources, defaults: Resources) -> Resources:
    requests, limit = spec.requests, spec.limits
    extended = dict(getattr(limit, "model_extra", None) or {})  # whole devices: checks.py says they are integers
    return Resources(requests.cpu or defaults.cpu_request, requests.memory or defaults.memory_request,
                     limit.cpu or defaults.cpu_limit, limit.memory or defaults.memory_limit,
                     MappingProxyType(extended))


def version(service: schema.Service) -> str:
    tag = image_tag(service.image)
    return service.version or (tag if tag and tag != "latest" else "")


def service_slo(slo: schema.Slo) -> ServiceSlo:
    period = int(slo.period[:-1])
    objectives = slo.latency_objectives
    latency_slos = tuple(
        LatencySlo(name, role, objective.threshold_seconds, Objective(objective.target, period))
        for key, (name, role) in LATENCY_SLOS.items()
        if (objective := getattr(objectives, _snake(key))) is not None)
    return ServiceSlo(
        objective=Objective(slo.availability, period), error_rate=slo.error_rate,
        p95_seconds=slo.latency.p95_seconds, p99_seconds=slo.latency.p99_seconds,
        cost_per_hour=slo.cost_per_hour, tokens_per_hour=slo.tokens_per_hour,
        routing=MappingProxyType({**DEFAULT_ROUTING, **slo.routing}), latency_slos=latency_slos,
        saturation=Saturation(**slo.saturation.model_dump()), quality=Quality(**slo.quality.model_dump()))


def _snake(camel: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in camel)


def service(spec: schema.Service) -> ServiceSettings:
    metrics = contract(spec.metrics, spec.model.name)
    cache, rollout = spec.model_cache, spec.rollout
    return ServiceSettings(
        name=spec.name, image=spec.image, version=version(spec), model_name=spec.model.name,
        model_version=spec.model.version, min_replicas=spec.min_replicas, max_replicas=spec.max_replicas,
        resources=resources(spec.resources, SERVICE_RESOURCES), http_port=spec.ports.http,
        metrics_port=spec.ports.metrics, termination_grace_seconds=spec.termination_grace_period_seconds,
        startup_seconds=spec.startup_seconds, metrics=metrics, slo=service_slo(spec.slo),
        scheduling=Scheduling(
            node_selector=MappingProxyType(dict(spec.node_selector)),
            tolerations=tuple(MappingProxyType(t.model_dump(by_alias=True, exclude_none=True))
                              for t in spec.tolerations),
            affinity=spec.affinity.model_dump(by_alias=True, exclude_none=True) if spec.affinity else None,
            runtime_class_name=spec.runtime_class_name),
        env=MappingProxyType(dict(spec.env)), shm_size=spec.shm_size,
        model_cache=ModelCache(cache.mount_path, cache.size_limit, cache.claim_name, cache.read_only)
        if cache else None,
        autoscaling=Autoscaling(spec.autoscaling.metric, spec.autoscaling.engine, spec.target_cpu_utilization,
                                spec.autoscaling.queue_requests_per_replica),
        rollout=RolloutSettings(
            enabled=rollout.enabled, steps=tuple((step.weight, step.pause) for step in rollout.steps),
            analysis_interval=rollout.analysis_interval, analysis_window=rollout.analysis_window,
            failure_limit=rollout.failure_limit, nginx_ingress=rollout.nginx_ingress))


def _rule(spec: schema.MetricAlertRule | schema.DailyCap, threshold: float) -> AlertRule:
    return AlertRule(threshold, spec.severity, spec.frequency, spec.window)


def azure(spec: schema.StackSpec) -> AzureSettings:
    alerts, failed = spec.azure_alerts, spec.azure_alerts.availability.failed_locations
    urls = secret_map(spec.azure_webhook_urls)
    return AzureSettings(
        subscription_id=spec.azure_subscription_id, location=spec.azure_location,
        existing_resource_group=spec.azure_existing_resource_group or None,
        retention_days=spec.azure_retention_days,
        daily_cap_gb=None if spec.azure_daily_cap_gb == -1 else spec.azure_daily_cap_gb,
        app_insights_local_auth=spec.azure_app_insights_local_auth, managed_prometheus=spec.azure_managed_prometheus,
        action_group_short_name=spec.azure_action_group_short_name,
        email_receivers=tuple(EmailReceiver(name, address) for name, address in spec.azure_email_receivers.items()),
        webhook_receivers=tuple(WebhookReceiver(name, urls[name]) for name in spec.azure_webhook_receivers),
        availability_tests=tuple(AvailabilityTest(
            test.name, test.url, test.frequency_seconds, test.timeout_seconds, tuple(test.locations),
            failed or failed_locations_guidance(len(test.locations))) for test in spec.azure_availability_tests),
        alerts=AzureAlerts(
            request_duration=_rule(alerts.request_duration, alerts.request_duration.threshold_ms),
            failed_requests=_rule(alerts.failed_requests, alerts.failed_requests.threshold),
            server_exceptions=_rule(alerts.server_exceptions, alerts.server_exceptions.threshold),
            availability=_rule(alerts.availability, failed or 0),
            daily_cap=_rule(alerts.daily_cap, 0)))


def build(spec: schema.StackSpec, stack: str, project: str) -> Settings:
    """The settings of a stack file that passed the schema and the checks."""
    collector = spec.collector
    return Settings(
        identity=StackIdentity(
            project=project, stack=stack, production=spec.production, name_prefix=spec.name_prefix,
            application=spec.application, team=spec.team,
            tags=MappingProxyType({"environment": stack, "service": spec.application, "managed-by": "pulumi",
                                   **spec.tags})),
        runbook_base_url=spec.runbook_base_url,
        azure=azure(spec),
        kubernetes=KubernetesSettings(
            version=spec.kubernetes_version,
            namespace=spec.kubernetes_namespace or f"{spec.application}-{stack}",
            context=spec.kubernetes_context or None,
            kubeconfig=SecretValue(spec.kubernetes_kubeconfig) if spec.kubernetes_kubeconfig else None,
            monitoring_namespaces=tuple(spec.kubernetes_monitoring_namespaces),
            client_namespaces=tuple(spec.kubernetes_client_namespaces)),
        datadog=DatadogSettings(
            enabled=spec.datadog_enabled, site=spec.datadog_site,
            api_key=SecretValue(spec.datadog_api_key) if spec.datadog_api_key else None,
            app_key=SecretValue(spec.datadog_app_key) if spec.datadog_app_key else None,
            agent_namespace=spec.datadog_agent_namespace,
            notify=MappingProxyType({"page": tuple(spec.datadog_notify.page),
                                     "ticket": tuple(spec.datadog_notify.ticket)}),
            manage_latency_percentiles=spec.datadog_manage_latency_percentiles),
        prometheus=PrometheusSettings(
            rule_labels=MappingProxyType(dict(spec.prometheus_rule_labels)), url=spec.prometheus_url or None,
            keda_authentication=spec.prometheus_keda_authentication or None),
        alertmanager=AlertmanagerSettings(
            receivers=MappingProxyType(dict(spec.alertmanager_receivers)),
            credentials=MappingProxyType(secret_map(spec.alertmanager_credentials))),
        services=tuple(service(s) for s in spec.services),
        collector=CollectorSettings(
            image=collector.image,
            version=image_tag(collector.image) or collector.image.rsplit("@sha256:", 1)[-1][:12],
            replicas=collector.replicas, resources=resources(collector.resources, COLLECTOR_RESOURCES),
            exporters=tuple(collector.exporters) if collector.exporters is not None else default_exporters(spec),
            redaction=Redaction(collector.redaction.enabled, collector.redaction.genai_content,
                                collector.redaction.truncate_to),
            sampling_percentage=collector.sampling.percentage))
