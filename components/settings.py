"""Stack config -> frozen, typed settings. Every check on config lives here.

Top-level scalar keys are declared, typed and defaulted in Pulumi.yaml (the CLI
applies those defaults, and so does the offline render). Fields inside object
keys (alert rules, receivers, tests) are defaulted and checked here.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any
from urllib.parse import urlparse

from components import kubernetes_shapes
from components.config_reader import REQUIRED, Check, ConfigReader, SecretValue, Section
from model.quantities import mebibytes, memory_bytes, millicores
from model import burn_rate, presets, routing
from model.contract import Histogram, MetricContract
from model.durations import iso_minutes
from model.numbers import plain
from model.slo import (
    DEFAULT_ROUTING,
    LATENCY_SLOS,
    ROUTES,
    SEVERITIES,
    LatencySlo,
    Objective,
    Quality,
    Saturation,
    ServiceSlo,
)

PROJECT = "ai-observability"

# Azure's own limits (Microsoft.Insights metricAlerts / scheduledQueryRules, Log Analytics).
METRIC_ALERT_FREQUENCIES = ("PT1M", "PT5M", "PT15M", "PT30M", "PT1H")
METRIC_ALERT_WINDOWS = ("PT1M", "PT5M", "PT15M", "PT30M", "PT1H", "PT6H", "PT12H", "P1D")
LOG_ALERT_FREQUENCIES = ("PT1M", "PT5M", "PT10M", "PT15M", "PT30M", "PT45M",
                         "PT1H", "PT2H", "PT3H", "PT4H", "PT5H", "PT6H", "P1D")
LOG_ALERT_WINDOWS = ("PT1M", "PT5M", "PT10M", "PT15M", "PT30M", "PT45M",
                     "PT1H", "PT2H", "PT3H", "PT4H", "PT5H", "PT6H", "P1D", "P2D")
RETENTION_DAYS = (30, 730)
AZURE_SEVERITIES = (0, 4)
ACTION_GROUP_SHORT_NAME_MAX = 12
WEBTEST_FREQUENCIES = (300, 600, 900)
WEBTEST_LOCATIONS = (
    "us-il-ch1-azr", "us-ca-sjc-azr", "us-tx-sn1-azr", "us-va-ash-azr", "us-fl-mia-edge",
    "apac-sg-sin-azr", "emea-se-sto-edge", "emea-ru-msa-edge", "emea-nl-ams-azr",
    "apac-jp-kaw-edge", "emea-gb-db3-azr", "apac-hk-hkn-azr", "emea-fr-pra-edge",
    "emea-ch-zrh-edge", "latam-br-gru-edge", "emea-au-syd-edge",
)
RESERVED_TAGS = ("environment", "service", "managed-by")

# The cluster side.
KUBERNETES_MIN_MINOR = 30  # preStop sleep hooks and PDB unhealthyPodEvictionPolicy are used
KUBERNETES_MAX_MINOR = 37  # the newest release manifests are validated against (kubernetes-validate 1.37)
# The official Helm chart's appVersion, by the digest public pins of it agree on (production needs one).
COLLECTOR_IMAGE = ("otel/opentelemetry-collector-contrib:0.153.0"
                   "@sha256:93aad750175cbf1a973ae1c5886c3371f4d800f61be25cdd26870b8441ffe9fa")
COLLECTOR_EXPORTERS = ("azuremonitor", "datadog", "prometheus")
DATADOG_SITES = ("datadoghq.com", "us3.datadoghq.com", "us5.datadoghq.com", "datadoghq.eu",
                 "ap1.datadoghq.com", "ap2.datadoghq.com", "ddog-gov.com")
UNPRIVILEGED_PORTS = (1024, 65535)  # restricted pods drop every capability, so no low ports
RESERVED_MOUNTS = ("/", "/tmp", "/dev/shm")  # the root, the scratch volume, shared memory
GPU_RESOURCE = "nvidia.com/gpu"  # NVIDIA's device plugin
AUTOSCALING_METRICS, AUTOSCALING_ENGINES = ("cpu", "queue"), ("hpa", "keda")
# The environment the program gives every service; a service's env may not override it. The App
# Insights connection string reaches a service as a file: its variable is reserved so no stack file
# puts the secret in a plain environment variable instead.
PROGRAM_ENV = ("OTEL_SERVICE_NAME", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL",
               "OTEL_RESOURCE_ATTRIBUTES", "OTEL_SEMCONV_STABILITY_OPT_IN", "MODEL_NAME", "MODEL_VERSION",
               "APPLICATIONINSIGHTS_CONNECTION_STRING_FILE", "APPLICATIONINSIGHTS_CONNECTION_STRING",
               "DD_ENV", "DD_SERVICE", "DD_VERSION", "DD_AGENT_HOST")

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS_LABEL_HINT = "must be lowercase letters, digits and hyphens, starting and ending with a letter or digit"
RECEIVER_NAME = r"[A-Za-z0-9][A-Za-z0-9 _-]{0,127}"
EMAIL = r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}"
DNS_1035 = r"[a-z]([-a-z0-9]*[a-z0-9])?"  # Service names must start with a letter
DNS_SUBDOMAIN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
LABEL_VALUE = r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
LABEL_VALUE_HINT = "must be at most 63 letters, digits, - _ . starting and ending with a letter or digit"
PROMETHEUS_METRIC = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
PROMETHEUS_LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
IMAGE = (r"[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*"
         r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?")


# -- settings objects ------------------------------------------------------


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

    @property
    def metrics_port_name(self) -> str:
        """The container port the metrics are scraped on: `http` for a server that serves /metrics on its
        API port (vLLM, TGI: ports.metrics = ports.http), else its own `metrics` port."""
        return "http" if self.metrics_port == self.http_port else "metrics"

    @property
    def gpus(self) -> int:
        """NVIDIA GPUs per pod: the service gets DCGM's GPU alerts when it has any."""
        return self.resources.extended.get(GPU_RESOURCE, 0)


@dataclass(frozen=True)
class CollectorSettings:
    image: str
    version: str  # the image tag, or the digest's first 12 hex digits
    replicas: int
    resources: Resources
    exporters: tuple[str, ...]


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
        """The API and application keys, which settings require whenever Datadog is enabled."""
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


# -- reading ---------------------------------------------------------------


def load(values: Mapping[str, str], secret_keys: Iterable[str], stack: str,
         project: str = PROJECT) -> Settings:
    """Reads and checks the whole stack config; raises SettingsError listing every problem."""
    # Providers are explicit resources configured from our own keys, so e.g. azure-native:location
    # would be silently ignored; the reader reports every namespace but ours and pulumi:.
    reader = ConfigReader(project, stack, values, secret_keys)
    settings = read(reader)
    reader.finish()
    return settings


def read(reader: ConfigReader) -> Settings:
    """Settings from `reader`, whose problems the caller raises with `reader.finish()`."""
    root = reader.root
    stack = reader.stack
    if not re.fullmatch(DNS_LABEL, stack):
        reader.report_other("the stack name", "must be lowercase letters, digits and hyphens; "
                            "it is part of resource names and the environment tag")

    name_prefix = root.text("namePrefix", pattern=r"[a-z][a-z0-9-]{0,14}[a-z0-9]|[a-z]",
                            hint="must be 1-16 lowercase letters, digits or hyphens, starting with a letter")
    application = root.text("application", pattern=DNS_LABEL, max_length=63, hint=DNS_LABEL_HINT)
    extra_tags = root.mapping("tags", key=_tag_key, value=_tag_value)
    tags = {"environment": stack, "service": application or "", "managed-by": "pulumi", **extra_tags}
    if len(tags) > 50:
        root.report("tags", extra_tags, "Azure allows at most 50 tags per resource, including the 3 reserved ones")

    production = root.boolean("production")
    azure = _azure(root)
    services = _services(root, production)
    datadog = _datadog(root, services)
    # By default the collector exports to every backend the stack sets up.
    backends = [b for b, on in (("azuremonitor", azure.app_insights_local_auth), ("datadog", datadog.enabled),
                                ("prometheus", True)) if on]
    collector = _collector(root, production, tuple(backends))
    if "datadog" in collector.exporters and not datadog.enabled:
        root.report("collector.exporters", list(collector.exporters),
                    "may list datadog only when datadog.enabled is true")
    if "azuremonitor" in collector.exporters and not azure.app_insights_local_auth:
        root.report("collector.exporters", list(collector.exporters),
                    "lists azuremonitor, whose exporter authenticates with the instrumentation key only; "
                    "set azure.appInsightsLocalAuth to true, or drop azuremonitor")
    return Settings(
        identity=StackIdentity(
            project=reader.namespace,
            stack=stack,
            production=bool(production),
            name_prefix=name_prefix,
            application=application,
            team=root.text("team", pattern=DNS_LABEL, hint=DNS_LABEL_HINT),
            tags=MappingProxyType(tags),
        ),
        runbook_base_url=root.text("runbookBaseUrl", check=_https_url),
        azure=azure,
        kubernetes=_kubernetes(root, f"{application}-{stack}"),
        datadog=datadog,
        prometheus=_prometheus(root, services),
        alertmanager=_alertmanager(root, services),
        services=services,
        collector=collector,
    )


def _azure(root: Section) -> AzureSettings:
    existing_group = root.text("azure.existingResourceGroup", pattern=r"[-\w.()]{0,89}[-\w()]|",
                               hint="must be a resource group name: up to 90 letters, digits, "
                                    "- _ . ( ), not ending in a period")
    daily_cap = root.number("azure.dailyCapGb", check=_daily_cap)
    short_name = root.text("azure.actionGroupShortName", max_length=ACTION_GROUP_SHORT_NAME_MAX,
                           pattern=r"[A-Za-z0-9][A-Za-z0-9 _-]*",
                           hint="must be letters, digits, spaces, hyphens or underscores")
    emails = root.mapping("azure.emailReceivers", key=_receiver_name, value=_email)
    webhooks = _webhooks(root)
    names = list(emails) + [hook.name for hook in webhooks]
    for name in {n for n in names if names.count(n) > 1}:
        root.report("azure.webhookReceivers", name,
                    "receiver names must be unique across e-mail and webhook receivers")
    if not emails and not webhooks:
        root.report("azure.emailReceivers", {}, "the action group needs at least one e-mail or webhook receiver")
    alerts = _azure_alerts(root.section("azure.alerts"))
    failed = alerts.availability.threshold
    tests = _availability_tests(root, int(failed) if failed else None)
    fewest_locations = min((len(test.locations) for test in tests), default=None)
    if failed and fewest_locations is not None and failed > fewest_locations:
        root.report("azure.alerts.availability.failedLocations", failed,
                    f"must not exceed the locations of every availability test ({fewest_locations})")
    return AzureSettings(
        subscription_id=root.text("azure.subscriptionId", pattern=UUID,
                                  hint="must be a subscription id: a lowercase GUID like "
                                       "00000000-0000-0000-0000-000000000000"),
        location=root.text("azure.location", pattern=r"[a-z][a-z0-9]+",
                           hint="must be an Azure region name like westeurope or eastus2"),
        existing_resource_group=existing_group or None,
        retention_days=root.integer("azure.retentionDays", minimum=RETENTION_DAYS[0], maximum=RETENTION_DAYS[1]),
        daily_cap_gb=None if daily_cap in (None, -1) else daily_cap,
        app_insights_local_auth=root.boolean("azure.appInsightsLocalAuth"),
        managed_prometheus=bool(root.boolean("azure.managedPrometheus")),
        action_group_short_name=short_name,
        email_receivers=tuple(EmailReceiver(name, address) for name, address in emails.items()),
        webhook_receivers=webhooks,
        availability_tests=tests,
        alerts=alerts,
    )


def _webhooks(root: Section) -> tuple[WebhookReceiver, ...]:
    """Names are plain config (reviewable); each URL comes from the secret azure.webhookUrls."""
    names = root.text_list("azure.webhookReceivers", item=_receiver_name)
    how = ("pulumi config set --secret azure.webhookUrls '{"
           + ", ".join(f'"{name}": "https://…"' for name in names or ["slack"]) + "}'")
    if not root.has("azure.webhookUrls"):
        root.secret("azure.webhookUrls")
        if names:
            root.reader.report_key("azure.webhookUrls", f"is required for webhook receivers {', '.join(names)}; "
                                   f"set it with: {how}")
        return ()
    urls = root.secret_mapping("azure.webhookUrls", value=_https_url)
    if urls is None:
        return ()  # already reported: not a secret, or not a map
    missing = [name for name in names if name not in urls]
    if missing:
        root.reader.report_key("azure.webhookUrls", f"has no URL for webhook receiver(s) {', '.join(missing)}; "
                               f"set the whole map with: {how}")
    for name in urls:
        if name not in names:
            root.reader.report_key("azure.webhookUrls",
                                   f'has a URL for "{name}", which azure.webhookReceivers does not list')
    return tuple(WebhookReceiver(name, urls[name]) for name in names if name in urls)


def _availability_tests(root: Section, failed_locations: int | None) -> tuple[AvailabilityTest, ...]:
    """The tests; each alerts when `failed_locations` fail, by default its locations minus two."""
    tests = []
    for test in root.sections("azure.availabilityTests"):
        frequency = test.integer("frequencySeconds", 300,
                                 check=lambda v: None if v in WEBTEST_FREQUENCIES
                                 else "must be one of 300, 600, 900")
        timeout = test.integer("timeoutSeconds", 30, minimum=5, maximum=120)
        locations = test.text_list(
            "locations", ("emea-nl-ams-azr", "emea-gb-db3-azr", "emea-fr-pra-edge",
                          "us-va-ash-azr", "us-ca-sjc-azr"),
            item=lambda v: None if v in WEBTEST_LOCATIONS else
            f"must be an availability test location id: {', '.join(WEBTEST_LOCATIONS)}")
        if len(locations) < 1:
            test.report("locations", list(locations), "must list at least one location (Azure recommends five)")
        tests.append(AvailabilityTest(
            name=test.text("name", pattern=DNS_LABEL, max_length=40, hint=DNS_LABEL_HINT),
            url=test.text("url", check=_https_url),
            frequency_seconds=frequency,
            timeout_seconds=timeout,
            locations=locations,
            failed_locations=failed_locations or failed_locations_guidance(len(locations)),
        ))
    names = [t.name for t in tests]
    if len(set(names)) != len(names):
        root.report("azure.availabilityTests", names, "test names must be unique")
    return tuple(tests)


# Defaults follow the seeds: average response time above 1 s, P95 under 1 s, AMBA's daily cap rule.
_ALERT_DEFAULTS = {
    "requestDuration": ("thresholdMs", 1000, 2, "PT1M", "PT5M"),
    "failedRequests": ("threshold", 10, 2, "PT1M", "PT5M"),
    "serverExceptions": ("threshold", 10, 2, "PT1M", "PT5M"),
    "availability": ("failedLocations", 0, 1, "PT1M", "PT5M"),  # 0: each test's locations - 2
    "dailyCap": (None, 0, 2, "PT1H", "P1D"),
}
_LOG_ALERTS = ("dailyCap",)


def _azure_alerts(alerts: Section) -> AzureAlerts:
    rules = {name: _alert_rule(alerts.section(name), name) for name in _ALERT_DEFAULTS}
    alerts.retired("p95Duration", "each service's P95 alert now takes its threshold from "
                                  "services[].slo.latency.p95Seconds, in Azure as in Prometheus and Datadog")
    return AzureAlerts(
        request_duration=rules["requestDuration"],
        failed_requests=rules["failedRequests"],
        server_exceptions=rules["serverExceptions"],
        availability=rules["availability"],
        daily_cap=rules["dailyCap"],
    )


def _alert_rule(rule: Section, name: str) -> AlertRule:
    threshold_key, threshold, severity, frequency, window = _ALERT_DEFAULTS[name]
    is_log = name in _LOG_ALERTS
    frequencies = LOG_ALERT_FREQUENCIES if is_log else METRIC_ALERT_FREQUENCIES
    windows = LOG_ALERT_WINDOWS if is_log else METRIC_ALERT_WINDOWS
    if threshold_key == "failedLocations":
        threshold = rule.integer(threshold_key, threshold, minimum=1)
    elif threshold_key:
        threshold = rule.number(threshold_key, threshold, above=0)
    severity = rule.integer("severity", severity, minimum=AZURE_SEVERITIES[0], maximum=AZURE_SEVERITIES[1])
    frequency = rule.text("frequency", frequency, choices=frequencies)
    window = rule.text("window", window, choices=windows)
    if iso_minutes(window) < iso_minutes(frequency):
        rule.report("window", window, f"must be at least the evaluation frequency ({frequency})")
    elif is_log and frequency == "PT1M" and iso_minutes(window) > 360:
        rule.report("window", window, "must be at most PT6H when the frequency is PT1M")
    elif is_log and frequency != "PT1M" and window == "PT1M":
        rule.report("window", window, "may be PT1M only when the frequency is PT1M")
    return AlertRule(threshold=threshold, severity=severity, frequency=frequency, window=window)


# -- the cluster side --------------------------------------------------------


def _kubernetes(root: Section, default_namespace: str) -> KubernetesSettings:
    # Per stack by default: two stacks in one cluster must not share, and fight over, one namespace.
    namespace = root.text("kubernetes.namespace", default_namespace, pattern=DNS_LABEL, max_length=63,
                          hint=DNS_LABEL_HINT)
    if not root.has("kubernetes.namespace") and len(default_namespace) > 63:
        root.reader.report_key("kubernetes.namespace", f"defaults to {default_namespace} (<application>-<stack>), "
                                                       "longer than Kubernetes' 63 characters; set it")
    return KubernetesSettings(
        version=root.text("kubernetes.version", pattern=r"1\.\d{1,2}", check=_kubernetes_version,
                          hint="must be a Kubernetes minor version like 1.34"),
        namespace=namespace,
        context=root.text("kubernetes.context") or None,
        kubeconfig=root.secret("kubernetes.kubeconfig"),
        monitoring_namespaces=root.text_list("kubernetes.monitoringNamespaces", item=_dns_label),
        client_namespaces=root.text_list("kubernetes.clientNamespaces", item=_dns_label),
    )


def _datadog(root: Section, services: tuple[ServiceSettings, ...]) -> DatadogSettings:
    enabled = root.boolean("datadog.enabled")
    keys = {}
    for key, what, digits in (("apiKey", "API key", 32), ("appKey", "application key", 40)):
        value = root.secret(f"datadog.{key}")
        if value is not None and not re.fullmatch(f"[0-9a-f]{{{digits}}}", value.reveal()):
            root.report(f"datadog.{key}", None, f"must be a Datadog {what}: {digits} hexadecimal characters")
        if enabled and not root.has(f"datadog.{key}"):
            root.reader.report_key(f"datadog.{key}", "is required when datadog.enabled is true; "
                                                     f"set it with: pulumi config set --secret datadog.{key} <key>")
        keys[key] = value
    notify = root.section("datadog.notify")
    handles = {route: notify.text_list(route, item=lambda v: None if re.fullmatch(r"@[\w.@+-]+", v)
                                       else "must be a Datadog handle like @slack-ai-alerts or @pagerduty-ai")
               for route in ROUTES}
    if enabled:
        _check_datadog_targets(root, services)
        for route, senders in _routed(root, services).items():
            if not handles[route]:
                notify.report(route, [], f"must list at least one handle: {senders}; add a Datadog handle here "
                                         "(@pagerduty-…, @slack-…), or route them elsewhere with their slo.routing")
    return DatadogSettings(
        enabled=bool(enabled),
        site=root.text("datadog.site", choices=DATADOG_SITES),
        api_key=keys["apiKey"],
        app_key=keys["appKey"],
        agent_namespace=root.text("datadog.agentNamespace", pattern=DNS_LABEL, hint=DNS_LABEL_HINT),
        notify=MappingProxyType(handles),
        manage_latency_percentiles=bool(root.boolean("datadog.manageLatencyPercentiles")),
    )


def _check_datadog_targets(root: Section, services: tuple[ServiceSettings, ...]) -> None:
    """Datadog takes an SLO target as a percentage of at most three decimals (service_level_objectives: "up to
    three decimal places are allowed" for metric-based SLOs): 0.99999 is 99.999%, 0.999995 cannot be one."""
    paths = {name: path for path, name in root.reader.item_names.items() if path.startswith("services[")}
    for service in services:
        path = paths.get(service.name, "services[]")
        targets = [(f"{path}.slo.availability", service.slo.objective.target)]
        targets += [(f"{path}.slo.latencyObjectives.{key}.target", s.objective.target)
                    for s in service.slo.latency_slos for key, (name, _) in LATENCY_SLOS.items() if name == s.name]
        for key, target in targets:
            if not math.isclose(round(target * 100, 3), target * 100, abs_tol=1e-9):
                root.reader.report(key, target, f"has more decimals than a Datadog SLO keeps: {plain(target * 100)}% "
                                                "has more than three after the point; use at most five in the "
                                                "fraction (0.99999), or turn datadog.enabled off")


def _routed(root: Section, services: tuple[ServiceSettings, ...]) -> dict[str, str]:
    """Each route some service's alerts take, with who sends which severities there, for a message:
    `services[1] (embeddings) sends its critical alerts to page (slo.routing, by default critical: page)`."""
    paths = {name: path for path, name in root.reader.item_names.items() if path.startswith("services[")}
    found: dict[str, list[str]] = {}
    for service in services:
        for route in sorted(set(service.slo.routing.values())):
            severities = [s for s, r in service.slo.routing.items() if r == route]
            found.setdefault(route, []).append(f"{paths.get(service.name, 'services[]')} ({service.name}) sends its "
                                               f"{' and '.join(severities)} alerts to {route}")
    default = ", ".join(f"{severity}: {route}" for severity, route in DEFAULT_ROUTING.items())
    return {route: "; ".join(senders) + f" (slo.routing, by default {default})" for route, senders in found.items()}


def _prometheus(root: Section, services: tuple[ServiceSettings, ...]) -> PrometheusSettings:
    url = root.text("prometheus.url", "", check=_http_url) or None
    scaled = [s.name for s in services if s.autoscaling.engine == "keda"]
    if scaled and url is None:
        root.reader.report_key("prometheus.url", f"is required: {', '.join(scaled)} scale(s) with KEDA's Prometheus "
                                                 "scaler, which queries it; set the in-cluster Prometheus URL")
    return PrometheusSettings(
        rule_labels=MappingProxyType(root.mapping("prometheus.ruleLabels", {"release": "kube-prometheus-stack"},
                                                  key=_label_key, value=_label_value)),
        url=url,
        keda_authentication=root.text("prometheus.kedaAuthentication", "", pattern=DNS_SUBDOMAIN + "|",
                                      max_length=253, hint="must be a TriggerAuthentication name") or None)


def _alertmanager(root: Section, services: tuple[ServiceSettings, ...]) -> AlertmanagerSettings:
    """Receivers are plain config (reviewable); each one's URL or key comes from the secret credentials."""
    receivers = root.mapping(
        "alertmanager.receivers",
        key=lambda v: None if v in ROUTES else f"is not a route; routes are {', '.join(ROUTES)}",
        value=lambda v: None if v in routing.RECEIVER_KINDS else f"must be one of {', '.join(routing.RECEIVER_KINDS)}")
    example = ", ".join(f'"{route}": "{"<routing key>" if kind == "pagerduty" else "https://…"}"'
                        for route, kind in (receivers or {"ticket": "slack"}).items())
    how = f"pulumi config set --secret alertmanager.credentials '{{{example}}}'"
    named = root.names("alertmanager.receivers")
    if named:
        for route, senders in _routed(root, services).items():
            if route not in named:
                root.reader.report_key(f"alertmanager.receivers.{route}",
                                       f"is required: {senders}, and they would reach no one; name a receiver "
                                       "here, or route them elsewhere with their slo.routing")
    if not root.has("alertmanager.credentials"):
        root.secret("alertmanager.credentials")
        if receivers:
            root.reader.report_key("alertmanager.credentials",
                                   f"is required for receivers {', '.join(receivers)}; set it with: {how}")
        return AlertmanagerSettings(MappingProxyType(receivers), MappingProxyType({}))
    credentials = root.secret_mapping("alertmanager.credentials") or {}
    for route, kind in receivers.items():
        if route not in credentials:
            root.reader.report_key("alertmanager.credentials", f'has nothing for the {route} receiver; '
                                                                f"set the whole map with: {how}")
        elif (problem := _receiver_credential(kind, credentials[route].reveal())):
            root.report(f"alertmanager.credentials.{route}", None, problem)
    for route in sorted(set(credentials) - named):
        root.reader.report_key("alertmanager.credentials",
                               f'has a credential for "{route}", which alertmanager.receivers does not list')
    return AlertmanagerSettings(MappingProxyType(receivers), MappingProxyType(credentials))


def _receiver_credential(kind: str, value: str) -> str | None:
    if kind == "pagerduty":
        return None if re.fullmatch(r"[A-Za-z0-9]{32}", value) else \
            "must be a PagerDuty Events API v2 integration key: 32 letters and digits"
    return _https_url(value)


def _services(root: Section, production: bool) -> tuple[ServiceSettings, ...]:
    services = tuple(_service(section, production) for section in root.sections("services"))
    if not services:
        root.reader.report_key("services", "is required: list at least one inference service")
    names = [service.name for service in services]
    for name in sorted({n for n in names if n and names.count(n) > 1}):
        root.report("services", name, "service names must be unique")
    return services


def _service(service: Section, production: bool) -> ServiceSettings:
    name = service.text("name", pattern=DNS_1035, max_length=40,
                        hint="must be a DNS name: lowercase letters, digits and hyphens, starting with a letter")
    image = _image(service, production)
    tag = image_tag(image) if image else None
    # The version defaults to the image's tag. Only a valid image without a tag naming a version needs one
    # set: a refused image is reported once, for what it is.
    version = service.text("version", tag if tag and tag != "latest" else "",
                           pattern=LABEL_VALUE, max_length=63, hint=LABEL_VALUE_HINT)
    if image and not version:
        service.reader.report_key(service.key("version"), f"is required: the image {image} has no tag that names a "
                                                          "version (latest, or a digest only); set what it runs")
    model = service.section("model")
    model_name = model.text("name", pattern=LABEL_VALUE, max_length=63, hint=LABEL_VALUE_HINT)
    min_replicas = service.integer("minReplicas", 2, minimum=1, maximum=100)
    max_replicas = service.integer("maxReplicas", 6, minimum=1, maximum=100)
    if min_replicas is not None and max_replicas is not None and min_replicas > max_replicas:
        service.report("minReplicas", min_replicas, f"must not exceed maxReplicas ({max_replicas})")
    ports = service.section("ports")
    http_port = ports.integer("http", 8080, minimum=UNPRIVILEGED_PORTS[0], maximum=UNPRIVILEGED_PORTS[1])
    metrics_port = ports.integer("metrics", 8000, minimum=UNPRIVILEGED_PORTS[0], maximum=UNPRIVILEGED_PORTS[1])
    metrics = presets.serving(_metric_contract(service.section("metrics")), model_name)
    resources = _resources(service.section("resources"), Resources("500m", "512Mi", "1", "1Gi"), extended=True)
    shm_size = service.text("shmSize", "", check=_memory) or None
    if shm_size and _quantity_ok(memory_bytes, resources.memory_limit) and \
            memory_bytes(shm_size) > memory_bytes(resources.memory_limit):
        service.report("shmSize", shm_size, f"must fit in the memory limit ({resources.memory_limit}): "
                                             "a memory-backed /dev/shm counts against it")
    return ServiceSettings(
        name=name,
        image=image,
        version=version,
        model_name=model_name,
        model_version=model.text("version", pattern=LABEL_VALUE, max_length=63, hint=LABEL_VALUE_HINT),
        min_replicas=min_replicas,
        max_replicas=max_replicas,
        resources=resources,
        http_port=http_port,
        metrics_port=metrics_port,
        # Long enough for in-flight inference to finish after the pod stops receiving traffic.
        termination_grace_seconds=service.integer("terminationGracePeriodSeconds", 60, minimum=10, maximum=3600),
        # Model loading happens before /health answers; the startup probe allows this long (large
        # models over slow storage take an hour or more).
        startup_seconds=service.integer("startupSeconds", 300, minimum=10, maximum=4 * 3600),
        metrics=metrics,
        slo=_slo(service.section("slo"), metrics),
        scheduling=_scheduling(service),
        env=MappingProxyType(service.mapping("env", key=_env_name)),
        shm_size=shm_size,
        model_cache=_model_cache(service.section("modelCache")) if service.has("modelCache") else None,
        autoscaling=_autoscaling(service, metrics),
    )


def _autoscaling(service: Section, metrics: MetricContract) -> Autoscaling:
    """CPU by default; an LLM server is CPU-idle while its queue grows, so it scales on the queue."""
    scaling = service.section("autoscaling")
    metric = scaling.text("metric", "cpu", choices=AUTOSCALING_METRICS)
    engine = scaling.text("engine", "hpa", choices=AUTOSCALING_ENGINES)
    if metric == "queue" and (missing := metrics.missing(("queue",))):
        scaling.report("metric", metric, f"cannot be measured: {missing}")
    if metric == "cpu" and engine != "hpa":
        scaling.report("engine", engine, "must be hpa when scaling on cpu (KEDA here scales on the queue)")
    return Autoscaling(
        metric=metric, engine=engine,
        target_cpu_utilization=service.integer("targetCpuUtilization", 70, minimum=10, maximum=100),
        queue_per_replica=scaling.number("queueRequestsPerReplica", 4, above=0),
    )


def _scheduling(service: Section) -> Scheduling:
    """Node selector, tolerations and affinity as Kubernetes writes them, e.g. for GPU nodes."""
    tolerations = service.shaped("tolerations", [kubernetes_shapes.TOLERATION], [])
    for index, toleration in enumerate(tolerations):
        key = f"tolerations[{index}]"
        if toleration.get("operator") == "Exists" and toleration.get("value"):
            service.report(f"{key}.value", toleration["value"], "must be empty: operator Exists matches any value")
        if "tolerationSeconds" in toleration and toleration.get("effect") != "NoExecute":
            service.report(f"{key}.tolerationSeconds", toleration["tolerationSeconds"],
                           "applies to effect NoExecute only")
    return Scheduling(
        node_selector=MappingProxyType(service.mapping("nodeSelector", key=_label_key, value=_label_value)),
        tolerations=tuple(MappingProxyType(t) for t in tolerations),
        affinity=service.shaped("affinity", kubernetes_shapes.AFFINITY),
        runtime_class_name=service.text("runtimeClassName", "", pattern=DNS_SUBDOMAIN, max_length=253,
                                        hint="must be a RuntimeClass name like nvidia") or None,
    )


def _model_cache(cache: Section) -> ModelCache:
    mount_path = cache.text("mountPath", pattern=r"/[^:]+", hint="must be an absolute path like /models")
    if mount_path in RESERVED_MOUNTS:
        cache.report("mountPath", mount_path, f"is taken ({', '.join(RESERVED_MOUNTS)} are the program's)")
    size_limit = cache.text("sizeLimit", "", check=_memory) or None
    claim_name = cache.text("claimName", "", pattern=DNS_SUBDOMAIN, max_length=253,
                            hint="must be a PersistentVolumeClaim name") or None
    read_only = cache.boolean("readOnly", False)
    if (size_limit is None) == (claim_name is None):
        cache.reader.report_key(cache.path, "must set exactly one of sizeLimit (an emptyDir of that size) "
                                            "or claimName (an existing PersistentVolumeClaim)")
    elif read_only and claim_name is None:
        cache.report("readOnly", True, "needs claimName: a new emptyDir starts empty, so it cannot be read-only")
    return ModelCache(mount_path, size_limit, claim_name, bool(read_only))


def _slo(slo: Section, metrics: MetricContract) -> ServiceSlo:
    """Defaults are the seeds': 99% over 30 days, errors over 5%, P95 1 s, P99 5 s, $100 an hour."""
    periods = [f"{days}d" for days in burn_rate.PERIODS_DAYS]
    period = slo.text("period", "30d", choices=periods)
    objective = Objective(slo.number("availability", 0.99, above=0, below=1), int(period[:-1]))
    _check_target(slo, "availability", objective.target, objective.period_days)
    latency = slo.section("latency")
    p95 = latency.number("p95Seconds", 1.0, above=0)
    p99 = latency.number("p99Seconds", 5.0, above=0)
    if p99 < p95:
        latency.report("p99Seconds", p99, f"must be at least the P95 threshold ({plain(p95)}s)")
    histogram = metrics.latency
    for key, seconds in (("p95Seconds", p95), ("p99Seconds", p99)):
        if histogram and histogram.buckets and seconds is not None and not _is_bound(histogram, seconds):
            latency.report(key, seconds, _bound_problem(histogram, "the share of requests slower than it"))
    routes = slo.mapping("routing", dict(DEFAULT_ROUTING),
                         key=lambda v: None if v in SEVERITIES else
                         f"is not a severity; severities are {', '.join(SEVERITIES)}",
                         value=lambda v: None if v in ROUTES else f"must be one of {', '.join(ROUTES)}")
    return ServiceSlo(
        objective=objective,
        error_rate=slo.number("errorRate", 0.05, above=0, below=1),
        p95_seconds=p95,
        p99_seconds=p99,
        cost_per_hour=slo.number("costPerHour", 100.0, above=0),
        tokens_per_hour=slo.integer("tokensPerHour", 5_000_000, minimum=1),
        routing=MappingProxyType({severity: routes.get(severity, default)
                                  for severity, default in DEFAULT_ROUTING.items()}),
        latency_slos=_latency_slos(slo.section("latencyObjectives"), metrics, objective.period_days),
        saturation=_saturation(slo.section("saturation")),
        quality=_quality(slo.section("quality"), metrics),
    )


def _check_target(section: Section, key: str, target: float, period_days: int) -> None:
    """An SLO target must leave a budget every burn-rate window of the period can alert on."""
    objective = Objective(target, period_days)
    for window in burn_rate.impossible_windows(objective)[:1]:
        section.report(key, target,
                       f"leaves a {plain(objective.error_budget * 100)}% error budget, too large for the "
                       f"{period_days}d policy's {window.name} {window.route} window: its {plain(window.burn_rate)}x "
                       f"burn rate would need {plain(window.threshold(objective) * 100)}% bad events to fire; use a "
                       f"target above {plain(burn_rate.loosest_target(period_days) * 100)}% "
                       "(see the burn-rate table in docs/alerting.md)")


def _is_bound(histogram: Histogram, seconds: float) -> bool:
    return any(math.isclose(seconds, bound, rel_tol=1e-9) for bound in histogram.bounds_seconds)


def _bound_problem(histogram: Histogram, what: str) -> str:
    bounds = ", ".join(plain(b) for b in histogram.bounds_seconds)
    return (f"must be a bucket boundary of {histogram.metric} ({bounds} seconds): {what} is read from that "
            "bucket, and between two buckets there is none")


def _latency_slos(objectives: Section, metrics: MetricContract, period_days: int) -> tuple[LatencySlo, ...]:
    """Latency SLOs: a share of events at or under a threshold, which must be one of the histogram's buckets."""
    found = []
    for key, (name, role) in LATENCY_SLOS.items():
        section = objectives.section(key)  # read even when absent, so the key is known to typo hints
        if not objectives.has(key):
            continue
        threshold = section.number("thresholdSeconds", above=0)
        target = section.number("target", above=0, below=1)
        if target is not None:
            _check_target(section, "target", target, period_days)
        histogram = metrics.role(role)
        if not isinstance(histogram, Histogram):
            objectives.reader.report_key(objectives.key(key), f"cannot be measured: {metrics.missing((role,))}")
            continue
        if threshold is None or target is None:
            continue
        if not _is_bound(histogram, threshold):
            section.report("thresholdSeconds", threshold,
                           _bound_problem(histogram, "a ratio of requests at or under it"))
            continue
        found.append(LatencySlo(name, role, threshold, Objective(target, period_days)))
    return tuple(found)


def _saturation(saturation: Section) -> Saturation:
    defaults = Saturation()
    return Saturation(
        queue_requests=saturation.number("queueRequests", defaults.queue_requests, above=0),
        kv_cache_usage=saturation.number("kvCacheUsage", defaults.kv_cache_usage, above=0, maximum=1),
        gpu_utilization=saturation.number("gpuUtilization", defaults.gpu_utilization, above=0, maximum=1),
        gpu_memory_usage=saturation.number("gpuMemoryUsage", defaults.gpu_memory_usage, above=0, maximum=1),
    )


QUALITY_KEYS = {"minScore": "quality", "maxDrift": "drift", "maxHallucinationRate": "hallucination_rate",
                "maxNegativeFeedback": "negative_feedback"}


def _quality(quality: Section, metrics: MetricContract) -> Quality:
    """Each objective is optional; one the service's server cannot measure is refused."""
    limits = {}
    for key, role in QUALITY_KEYS.items():
        ratio = key in ("maxHallucinationRate", "maxNegativeFeedback")
        limits[key] = quality.number(key, None, above=0, below=1 if ratio else None)
        missing = metrics.missing((role, "feedback") if role == "negative_feedback" else (role,))
        if limits[key] is not None and missing:
            quality.report(key, limits[key], f"cannot be measured: {missing}")
    return Quality(min_score=limits["minScore"], max_drift=limits["maxDrift"],
                   max_hallucination_rate=limits["maxHallucinationRate"],
                   max_negative_feedback=limits["maxNegativeFeedback"])


DEFAULT_ONLY_METRICS = ("requests", "latency", "tokens", "cost", "modelLabel", "statusLabel", "errorStatus",
                        "tokenTypeLabel", "latencyBuckets")


def _metric_contract(metrics: Section) -> MetricContract:
    """A preset's names (model/presets.py); the default contract's may be renamed one by one."""
    preset = metrics.text("preset", "default", choices=presets.PRESETS)
    contract = presets.PRESETS.get(preset, presets.DEFAULT)
    if contract.backend_roles:
        backend = metrics.text("backendModel", contract.backend_model, pattern=LABEL_VALUE, max_length=63,
                               hint=LABEL_VALUE_HINT)
        contract = replace(contract, backend_model=backend)
    elif metrics.has("backendModel"):
        metrics.refused("backendModel", f"names the engine model behind an ensemble; the {preset} preset's server "
                                        "reports every role under the model it serves")
    if preset != "default":
        for key in sorted(metrics.fields() & set(DEFAULT_ONLY_METRICS)):
            metrics.refused(key, f"renames a metric of the default contract; the {preset} preset uses "
                                 f"{contract.server}'s own names (set metrics.preset: default to name your own)")
        return contract

    def counter(value: str) -> str | None:
        return None if value.endswith("_total") else "must be a counter name ending in _total"

    def metric(key: str, default: str, check: Check | None = None) -> str:
        return metrics.text(key, default, pattern=PROMETHEUS_METRIC, check=check,
                            hint="must be a Prometheus metric name")

    def label(key: str, default: str) -> str:
        return metrics.text(key, default, pattern=PROMETHEUS_LABEL, hint="must be a Prometheus label name")

    buckets = metrics.number_list("latencyBuckets", presets.LATENCY_BUCKETS, above=0)
    if not buckets or list(buckets) != sorted(set(buckets)):
        metrics.report("latencyBuckets", list(buckets), "must list the histogram's finite upper bounds "
                                                       "(its le labels), ascending and each once")
    return presets.default(
        requests=metric("requests", "ai_inference_requests_total", counter),
        latency=metric("latency", "ai_inference_latency_seconds"),
        tokens=metric("tokens", "ai_tokens_used_total", counter),
        cost=metric("cost", "ai_inference_cost_dollars_total", counter),
        model_label=label("modelLabel", "model"),
        status_label=label("statusLabel", "status"),
        error_status=metrics.text("errorStatus", "error"),
        token_type_label=label("tokenTypeLabel", "token_type"),
        latency_buckets=tuple(buckets) or presets.LATENCY_BUCKETS,
    )


def _collector(root: Section, production: bool, backends: tuple[str, ...]) -> CollectorSettings:
    collector = root.section("collector")
    exporters = collector.text_list(
        "exporters", backends,
        item=lambda v: None if v in COLLECTOR_EXPORTERS else f"must be one of {', '.join(COLLECTOR_EXPORTERS)}")
    if not exporters:
        collector.report("exporters", [], "must list at least one backend for the collector to export to")
    resources = _resources(collector.section("resources"), Resources("200m", "256Mi", "1", "512Mi"))
    if _quantity_ok(mebibytes, resources.memory_limit) and mebibytes(resources.memory_limit) < 128:
        collector.report("resources.limits.memory", resources.memory_limit,
                         "must be at least 128Mi; the memory limiter is sized from it")
    image = _image(collector, production, COLLECTOR_IMAGE)
    return CollectorSettings(
        image=image,
        version=image_tag(image) or image.rsplit("@sha256:", 1)[-1][:12],
        replicas=collector.integer("replicas", 2, minimum=1, maximum=20),
        resources=resources,
        exporters=exporters,
    )


def _resources(resources: Section, defaults: Resources, extended: bool = False) -> Resources:
    """Requests and limits; with `extended`, limits may also name extended resources (vendor/name: count)."""
    requests, limits = resources.section("requests"), resources.section("limits")
    result = Resources(
        cpu_request=requests.text("cpu", defaults.cpu_request, check=_cpu),
        memory_request=requests.text("memory", defaults.memory_request, check=_memory),
        cpu_limit=limits.text("cpu", defaults.cpu_limit, check=_cpu),
        memory_limit=limits.text("memory", defaults.memory_limit, check=_memory),
        extended=MappingProxyType(_extended_resources(limits) if extended else {}),
    )
    for name in sorted(requests.fields()):
        if "/" in name:
            requests.retired(name, f"set {name} under limits only: Kubernetes requests an extended resource "
                                   "at its limit")
    if millicores(result.cpu_limit) < millicores(result.cpu_request):
        limits.report("cpu", result.cpu_limit, f"must be at least the CPU request ({result.cpu_request})")
    if memory_bytes(result.memory_limit) < memory_bytes(result.memory_request):
        limits.report("memory", result.memory_limit, f"must be at least the memory request ({result.memory_request})")
    return result


def _extended_resources(limits: Section) -> dict[str, int]:
    """Limits named <vendor domain>/<resource>, e.g. nvidia.com/gpu: whole devices."""
    found = {}
    for name in sorted(n for n in limits.fields() if "/" in n):
        domain, _, resource = name.partition("/")
        vendor = re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?\.[a-z]{2,}", domain)
        if not vendor or not re.fullmatch(DNS_LABEL, resource) or domain == "kubernetes.io" \
                or domain.endswith(".kubernetes.io"):
            limits.retired(name, "is not an extended resource name like nvidia.com/gpu "
                                 "(<vendor domain>/<resource>, outside kubernetes.io)")
        else:
            found[name] = limits.integer(name, minimum=1)
    return found


def _image(section: Section, production: bool, default: Any = REQUIRED) -> str:
    def pinned(image: str) -> str | None:
        if production and "@sha256:" not in image:
            return ("must be pinned by digest in a production stack (name:tag@sha256:...): a tag can be moved "
                    "to other content, a digest cannot")
        return None

    return section.text("image", default, pattern=IMAGE, check=pinned,
                        hint="must be an image reference like registry.example.com/team/app:1.2.3")


def image_tag(image: str) -> str | None:
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


def _env_name(value: str) -> str | None:
    if value in PROGRAM_ENV:
        return ("is set by the program (it names the service to the backends, or carries its credentials); "
                "it cannot be overridden")
    return None if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value) else "must be an environment variable name"


def _dns_label(value: str) -> str | None:
    return None if re.fullmatch(DNS_LABEL, value) else DNS_LABEL_HINT


def _cpu(value: str) -> str | None:
    return None if _quantity_ok(millicores, value) else "must be a CPU quantity like 500m or 2"


def _memory(value: str) -> str | None:
    return None if _quantity_ok(memory_bytes, value) else "must be a memory quantity like 512Mi or 2Gi"


def _kubernetes_version(value: str) -> str | None:
    if not KUBERNETES_MIN_MINOR <= int(value.split(".")[1]) <= KUBERNETES_MAX_MINOR:
        return (f"must be a Kubernetes release from 1.{KUBERNETES_MIN_MINOR} (the oldest this program's manifests "
                f"need) to 1.{KUBERNETES_MAX_MINOR} (the newest it validates them against)")
    return None


def _quantity_ok(parse: Callable[[str], int], value: str) -> bool:
    try:
        parse(value)
    except ValueError:
        return False
    return True


# -- the offline render's stand-ins for secrets a stack file cannot hold --------------


def _placeholder_key(digits: int) -> str:
    """Hex that passes a key's check and matches nothing else a render writes (not a run of zeros,
    which an image digest placeholder has too, and the leak check would report)."""
    return ("feedface" * 8)[:digits]


def placeholder_secrets(values: Mapping[str, str], project: str = PROJECT) -> dict[str, str]:
    """A harmless value, valid for the checks above, for each secret this config needs."""
    names = json.loads(values.get(f"{project}:azure.webhookReceivers", "[]") or "[]")
    placeholders = {}
    if values.get(f"{project}:datadog.enabled") == "true":
        placeholders[f"{project}:datadog.apiKey"] = _placeholder_key(32)
        placeholders[f"{project}:datadog.appKey"] = _placeholder_key(40)
    if isinstance(names, list) and names:
        placeholders[f"{project}:azure.webhookUrls"] = json.dumps(
            {name: f"https://placeholder.invalid/webhook/{name}" for name in names if isinstance(name, str)})
    receivers = json.loads(values.get(f"{project}:alertmanager.receivers", "{}") or "{}")
    if isinstance(receivers, dict) and receivers:
        placeholders[f"{project}:alertmanager.credentials"] = json.dumps(
            {route: _placeholder_key(32) if kind == "pagerduty" else f"https://placeholder.invalid/alertmanager/{route}"
             for route, kind in receivers.items()})
    return placeholders


# -- value checks ----------------------------------------------------------


def _https_url(value: str) -> str | None:
    parsed = urlparse(value)
    if parsed.scheme != "https" or not parsed.hostname:
        return "must be an https:// URL"
    return None


def _http_url(value: str) -> str | None:
    """An http(s) URL, or empty for none."""
    parsed = urlparse(value)
    if not value:
        return None
    return None if parsed.scheme in ("http", "https") and parsed.hostname else "must be an http:// or https:// URL"


def _email(value: str) -> str | None:
    return None if re.fullmatch(EMAIL, value) else "must be an e-mail address like oncall@example.com"


def _receiver_name(value: str) -> str | None:
    return None if re.fullmatch(RECEIVER_NAME, value) else \
        "must be 1-128 letters, digits, spaces, hyphens or underscores"


def _tag_key(value: str) -> str | None:
    if value in RESERVED_TAGS:
        return f"is set by the program; {', '.join(RESERVED_TAGS)} cannot be overridden"
    if not value or len(value) > 512 or re.search(r"[<>%&\\?/]", value):
        return "must be 1-512 characters without < > % & \\ ? /"
    return None


def _tag_value(value: str) -> str | None:
    return None if len(value) <= 256 else "must be at most 256 characters"


def _label_key(value: str) -> str | None:
    return None if re.fullmatch(r"([a-z0-9.-]+/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?", value) \
        else "must be a Kubernetes label key"


def _label_value(value: str) -> str | None:
    return None if re.fullmatch(LABEL_VALUE, value) else LABEL_VALUE_HINT


def _daily_cap(value: float) -> str | None:
    return None if value == -1 or value > 0 else "must be -1 (no cap) or a number of GB greater than 0"
