"""The stack file's schema: every key of `Pulumi.<stack>.yaml`, its kind, default and meaning.

One pydantic model per object of the file, camelCase as the file writes it, unknown keys refused,
frozen. Checks across keys (a limit at least its request, a route someone receives) are in
checks.py; what the program uses is built from a valid file by settings.py. The JSON Schema for
editors, docs/configuration.md and Pulumi.yaml's config block are generated from these models
(config/generate.py, `make docs`).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from config import limits
from config import values as check
from config.fields import BOOLEAN, SECRET, Integer, Number, Retired, Text, Unique
from model import burn_rate, presets, routing
from model.slo import DEFAULT_ROUTING, ROUTES, SEVERITIES


class Spec(BaseModel):
    """An object of the stack file: its keys in camelCase, each known, the whole frozen."""

    model_config = ConfigDict(alias_generator=to_camel, extra="forbid", frozen=True)


class Open(Spec):
    """An object whose other keys checks.py reads (extended resources under a service's limits)."""

    model_config = ConfigDict(alias_generator=to_camel, extra="allow", frozen=True)


# Kinds used in several places.
Str = Annotated[str, Text()]
Strings = Annotated[list[Str], Unique()]
Flag = Annotated[bool, BOOLEAN]
Secret = Annotated[str, SECRET]
DnsLabel = Annotated[str, Text(pattern=limits.DNS_LABEL, max_length=63, hint=limits.DNS_LABEL_HINT)]
LabelValue = Annotated[str, Text(pattern=limits.LABEL_VALUE, max_length=63, hint=limits.LABEL_VALUE_HINT)]
Labels = dict[Annotated[str, Text(check=check.label_key)], Annotated[str, Text(check=check.label_value)]]
Image = Annotated[str, Text(pattern=limits.IMAGE, hint=limits.IMAGE_HINT)]
Cpu = Annotated[str, Text(check=check.cpu)]
Memory = Annotated[str, Text(check=check.memory)]
Positive = Annotated[float, Number(above=0)]
Ratio = Annotated[float, Number(above=0, below=1)]
Share = Annotated[float, Number(above=0, maximum=1)]
MetricName = Annotated[str, Text(pattern=limits.PROMETHEUS_METRIC, hint="must be a Prometheus metric name")]
CounterName = Annotated[str, Text(pattern=limits.PROMETHEUS_METRIC, hint="must be a Prometheus metric name",
                                  check=check.counter_name)]
LabelName = Annotated[str, Text(pattern=limits.PROMETHEUS_LABEL, hint="must be a Prometheus label name")]
Weight = Annotated[int, Integer(minimum=1, maximum=100)]


# -- Azure -----------------------------------------------------------------------------------------

class MetricAlertRule(Spec):
    """A metric alert's tunables; the defaults follow the seeds (average response over 1 s)."""

    severity: Annotated[int, Integer(minimum=limits.AZURE_SEVERITIES[0], maximum=limits.AZURE_SEVERITIES[1])] = \
        Field(2, description="Azure severity, 0 (critical) to 4 (verbose).")
    frequency: Annotated[str, Text(choices=limits.METRIC_ALERT_FREQUENCIES)] = Field(
        "PT1M", description="How often it is evaluated.")
    window: Annotated[str, Text(choices=limits.METRIC_ALERT_WINDOWS)] = Field(
        "PT5M", description="The window it looks at, at least the frequency.")


class RequestDuration(MetricAlertRule):
    threshold_ms: Positive = Field(1000.0, description="The average server response time, ms.")


class RequestCount(MetricAlertRule):
    threshold: Positive = Field(10.0, description="How many in the window.")


class Availability(MetricAlertRule):
    severity: Annotated[int, Integer(minimum=limits.AZURE_SEVERITIES[0], maximum=limits.AZURE_SEVERITIES[1])] = 1
    failed_locations: Annotated[int, Integer(minimum=1)] | None = Field(
        None, description="Failing locations that fire it; by default each test's locations minus two "
                          "(Microsoft's guidance), at least one.")


class DailyCap(Spec):
    """The Azure Monitor Baseline Alerts rule: the workspace reached its daily cap (a log alert)."""

    severity: Annotated[int, Integer(minimum=limits.AZURE_SEVERITIES[0], maximum=limits.AZURE_SEVERITIES[1])] = 2
    frequency: Annotated[str, Text(choices=limits.LOG_ALERT_FREQUENCIES)] = "PT1H"
    window: Annotated[str, Text(choices=limits.LOG_ALERT_WINDOWS)] = "P1D"


class AzureAlerts(Spec):
    request_duration: RequestDuration = Field(default_factory=RequestDuration,
                                              description="Average server response time of App Insights requests.")
    failed_requests: RequestCount = Field(default_factory=RequestCount, description="Failed requests.")
    server_exceptions: RequestCount = Field(default_factory=RequestCount, description="Server exceptions.")
    availability: Availability = Field(default_factory=Availability,
                                       description="Each availability test's failing locations.")
    daily_cap: DailyCap = Field(default_factory=DailyCap, description="The workspace reaching its daily cap.")
    p95_duration: Annotated[Any, Retired(
        "each service's P95 alert now takes its threshold from services[].slo.latency.p95Seconds, in Azure as in "
        "Prometheus and Datadog")] = None


class AvailabilityTest(Spec):
    name: Annotated[str, Text(pattern=limits.DNS_LABEL, max_length=40, hint=limits.DNS_LABEL_HINT)]
    url: Annotated[str, Text(check=check.https_url)] = Field(description="The https URL it requests.")
    frequency_seconds: Annotated[int, Integer(check=lambda v: None if v in limits.WEBTEST_FREQUENCIES
                                              else "must be one of 300, 600, 900")] = 300
    timeout_seconds: Annotated[int, Integer(minimum=5, maximum=120)] = 30
    locations: Annotated[list[Annotated[str, Text(choices=limits.WEBTEST_LOCATIONS, hint="must be an availability test location id")]], Unique()] = Field(
        default_factory=lambda: list(limits.DEFAULT_WEBTEST_LOCATIONS),
        description="Azure test location ids; five across Europe and the US by default.")


# -- a service -------------------------------------------------------------------------------------

class Model(Spec):
    name: LabelValue = Field(description="The model the service serves, a label on its series.")
    version: LabelValue = Field(description="The model's version.")


Port = Annotated[int, Integer(minimum=limits.UNPRIVILEGED_PORTS[0], maximum=limits.UNPRIVILEGED_PORTS[1])]


class Ports(Spec):
    http: Port = Field(8080, description="The API's container port.")
    metrics: Port = Field(8000, description="The /metrics port; the http one for a server serving /metrics there.")


class Quantities(Spec):
    cpu: Cpu | None = None
    memory: Memory | None = None


class OpenQuantities(Open):
    """cpu and memory; under a service's limits, extended resources too (nvidia.com/gpu: 1)."""

    cpu: Cpu | None = None
    memory: Memory | None = None


class Resources(Spec):
    requests: Quantities = Field(default_factory=Quantities, description="cpu and memory (200m, 256Mi).")
    limits: Quantities = Field(default_factory=Quantities, description="cpu and memory (1, 512Mi; at least 128Mi).")


class ServiceResources(Spec):
    requests: OpenQuantities = Field(default_factory=OpenQuantities, description="cpu and memory (500m, 512Mi).")
    limits: OpenQuantities = Field(default_factory=OpenQuantities, description=(
        "cpu and memory (1, 1Gi; at least the requests), and extended resources such as nvidia.com/gpu: 1."))


class Metrics(Spec):
    """The metric contract: a model server's preset, or the default contract's names, which may be renamed."""

    preset: Annotated[str, Text(choices=presets.PRESETS)] = Field(
        "default", description="Whose names: default, vllm, tgi, triton or otel-genai.")
    backend_model: LabelValue | None = Field(
        None, description="triton: the engine model behind the served ensemble (tensorrt_llm).")
    requests: CounterName = "ai_inference_requests_total"
    latency: MetricName = "ai_inference_latency_seconds"
    tokens: CounterName = "ai_tokens_used_total"
    cost: CounterName = "ai_inference_cost_dollars_total"
    model_label: LabelName = "model"
    status_label: LabelName = "status"
    error_status: Str = "error"
    token_type_label: LabelName = "token_type"
    latency_buckets: list[Positive] = Field(default_factory=lambda: list(presets.LATENCY_BUCKETS),
                                            description="The latency histogram's finite bounds, seconds, ascending.")


class Latency(Spec):
    p95_seconds: Positive = Field(1.0, description="P95 objective: alert when over 5% are slower; a bucket bound.")
    p99_seconds: Positive = Field(5.0, description="P99 objective: alert when over 1% are slower; a bucket bound.")


class LatencyObjective(Spec):
    threshold_seconds: Positive = Field(description="A bucket boundary of the histogram.")
    target: Ratio = Field(description="The share of events at or under the threshold, e.g. 0.99.")


class LatencyObjectives(Spec):
    request_duration: LatencyObjective | None = None
    time_to_first_token: LatencyObjective | None = None
    time_per_output_token: LatencyObjective | None = None


class Saturation(Spec):
    queue_requests: Positive = Field(10.0, description="Waiting requests per replica.")
    kv_cache_usage: Share = Field(0.9, description="The fullest replica's KV-cache usage.")
    gpu_utilization: Share = Field(0.95, description="GPU services only.")
    gpu_memory_usage: Share = Field(0.95, description="GPU services only.")


class Quality(Spec):
    min_score: Positive | None = None
    max_drift: Positive | None = None
    max_hallucination_rate: Ratio | None = None
    max_negative_feedback: Ratio | None = None


class Slo(Spec):
    """The seeds' defaults: 99% over 30 days, errors over 5%, P95 1 s, P99 5 s, $100 an hour."""

    availability: Ratio = Field(0.99, description="The success-ratio target.")
    period: Annotated[str, Text(choices=[f"{days}d" for days in burn_rate.PERIODS_DAYS])] = "30d"
    error_rate: Ratio = Field(0.05, description="The error-ratio alert.")
    latency: Latency = Field(default_factory=Latency)
    cost_per_hour: Positive = Field(100.0, description="USD an hour.")
    tokens_per_hour: Annotated[int, Integer(minimum=1)] = 5_000_000
    routing: dict[Annotated[str, Text(check=lambda v: None if v in SEVERITIES
                                      else f"is not a severity; severities are {', '.join(SEVERITIES)}")],
                  Annotated[str, Text(choices=ROUTES)]] = Field(
        default_factory=lambda: dict(DEFAULT_ROUTING), description="The route of each severity: page or ticket.")
    latency_objectives: LatencyObjectives = Field(default_factory=LatencyObjectives)
    saturation: Saturation = Field(default_factory=Saturation)
    quality: Quality = Field(default_factory=Quality)


class Autoscaling(Spec):
    metric: Annotated[str, Text(choices=limits.AUTOSCALING_METRICS)] = "cpu"
    engine: Annotated[str, Text(choices=limits.AUTOSCALING_ENGINES)] = "hpa"
    queue_requests_per_replica: Positive = 4.0


class ModelCache(Spec):
    mount_path: Annotated[str, Text(pattern=r"/[^:]+", hint="must be an absolute path like /models")]
    size_limit: Memory | None = None
    claim_name: Annotated[str, Text(pattern=limits.DNS_SUBDOMAIN, max_length=253,
                                    hint="must be a PersistentVolumeClaim name")] | None = None
    read_only: Flag = False


# Kubernetes' own shapes (kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1, Scheduling);
# the render checks the whole manifest again with kubernetes-validate --strict.

class Toleration(Spec):
    key: Str | None = None
    operator: Annotated[str, Text(choices=("Exists", "Equal"))] | None = None
    value: Str | None = None
    effect: Annotated[str, Text(choices=("NoSchedule", "PreferNoSchedule", "NoExecute"))] | None = None
    toleration_seconds: Annotated[int, Integer()] | None = None


class LabelSelectorRequirement(Spec):
    key: Str
    operator: Annotated[str, Text(choices=("In", "NotIn", "Exists", "DoesNotExist"))]
    values: list[Str] | None = None


class LabelSelector(Spec):
    match_labels: dict[Str, Str] | None = None
    match_expressions: list[LabelSelectorRequirement] | None = None


class NodeSelectorRequirement(Spec):
    key: Str
    operator: Annotated[str, Text(choices=("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"))]
    values: list[Str] | None = None


class NodeSelectorTerm(Spec):
    match_expressions: list[NodeSelectorRequirement] | None = None
    match_fields: list[NodeSelectorRequirement] | None = None


class NodeSelector(Spec):
    node_selector_terms: list[NodeSelectorTerm]


class PreferredNode(Spec):
    weight: Weight
    preference: NodeSelectorTerm


class NodeAffinity(Spec):
    required_during_scheduling_ignored_during_execution: NodeSelector | None = None
    preferred_during_scheduling_ignored_during_execution: list[PreferredNode] | None = None


class PodAffinityTerm(Spec):
    label_selector: LabelSelector | None = None
    namespace_selector: LabelSelector | None = None
    namespaces: list[Str] | None = None
    topology_key: Str
    match_label_keys: list[Str] | None = None
    mismatch_label_keys: list[Str] | None = None


class PreferredPod(Spec):
    weight: Weight
    pod_affinity_term: PodAffinityTerm


class PodAffinity(Spec):
    required_during_scheduling_ignored_during_execution: list[PodAffinityTerm] | None = None
    preferred_during_scheduling_ignored_during_execution: list[PreferredPod] | None = None


class Affinity(Spec):
    node_affinity: NodeAffinity | None = None
    pod_affinity: PodAffinity | None = None
    pod_anti_affinity: PodAffinity | None = None


class Service(Spec):
    """One inference service: what it runs, how big, where, and what it is held to."""

    name: Annotated[str, Text(pattern=limits.DNS_1035, max_length=40, hint=(
        "must be a DNS name: lowercase letters, digits and hyphens, starting with a letter"))]
    image: Image = Field(description="In a production stack pinned by digest: name:tag@sha256:….")
    version: LabelValue | None = Field(
        None, description="What it runs; by default the image's tag, required without one naming a version.")
    model: Model
    min_replicas: Annotated[int, Integer(minimum=1, maximum=100)] = 2
    max_replicas: Annotated[int, Integer(minimum=1, maximum=100)] = 6
    target_cpu_utilization: Annotated[int, Integer(minimum=10, maximum=100)] = 70
    autoscaling: Autoscaling = Field(default_factory=Autoscaling)
    resources: ServiceResources = Field(default_factory=ServiceResources)
    ports: Ports = Field(default_factory=Ports)
    termination_grace_period_seconds: Annotated[int, Integer(minimum=10, maximum=3600)] = Field(
        60, description="Long enough for in-flight inference to finish.")
    startup_seconds: Annotated[int, Integer(minimum=10, maximum=4 * 3600)] = Field(
        300, description="How long the model may take to load before /health answers.")
    metrics: Metrics = Field(default_factory=Metrics)
    slo: Slo = Field(default_factory=Slo)
    node_selector: Labels = Field(default_factory=dict)
    tolerations: list[Toleration] = Field(default_factory=list)
    affinity: Affinity | None = None
    runtime_class_name: Annotated[str, Text(pattern=limits.DNS_SUBDOMAIN, max_length=253,
                                            hint="must be a RuntimeClass name like nvidia")] | None = None
    env: dict[Annotated[str, Text(check=check.env_name)], Str] = Field(
        default_factory=dict, description="Extra plain environment variables (never secrets).")
    shm_size: Memory | None = Field(None, description="A memory-backed /dev/shm of this size, within the limit.")
    model_cache: ModelCache | None = None


class Collector(Spec):
    image: Image = Field(limits.COLLECTOR_IMAGE, description="The contrib distribution, by digest.")
    replicas: Annotated[int, Integer(minimum=1, maximum=20)] = 2
    resources: Resources = Field(default_factory=Resources)
    exporters: Annotated[list[Annotated[str, Text(choices=limits.COLLECTOR_EXPORTERS)]], Unique()] | None = Field(
        None, description="By default every backend the stack sets up.")


Handles = Annotated[list[Annotated[str, Text(check=check.datadog_handle)]], Unique()]


class Notify(Spec):
    page: Handles = Field(default_factory=list)
    ticket: Handles = Field(default_factory=list)


Route = Annotated[str, Text(check=lambda v: None if v in ROUTES else f"is not a route; routes are {', '.join(ROUTES)}")]


class StackSpec(BaseModel):
    """The stack file's config: every key of this project, each written `ai-observability:<key>`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    production: Flag = Field(False, alias="production", description=(
        "Production safeguards: deletion protection on the resource group, workspace and App Insights, images "
        "pinned by digest and pulled Always, the production policies."))
    name_prefix: Annotated[str, Text(pattern=r"[a-z][a-z0-9-]{0,14}[a-z0-9]|[a-z]", hint=(
        "must be 1-16 lowercase letters, digits or hyphens, starting with a letter"))] = Field(
        "ai", alias="namePrefix", description="First part of every Azure resource name, e.g. ai-staging-logs.")
    application: DnsLabel = Field("ai-inference", alias="application", description=(
        "The application: the Azure `service` tag and the Kubernetes `part-of` label."))
    tags: dict[Annotated[str, Text(check=check.tag_key)], Annotated[str, Text(check=check.tag_value)]] = Field(
        default_factory=dict, alias="tags", description="Extra Azure tags; environment, service and managed-by "
                                                        "are the program's.")
    team: DnsLabel = Field("ml-platform", alias="team", description="The owning team, a label on every alert.")
    runbook_base_url: Annotated[str, Text(check=check.https_url)] = Field(
        "https://runbooks.example.com/ai-inference", alias="runbookBaseUrl", description="Runbooks: <url>/<alert>.")
    azure_subscription_id: Annotated[str, Text(pattern=limits.UUID, hint=(
        "must be a subscription id: a lowercase GUID like 00000000-0000-0000-0000-000000000000"))] = Field(
        alias="azure.subscriptionId", description="The subscription the explicit azure-native provider deploys into.")
    azure_location: Annotated[str, Text(pattern=r"[a-z][a-z0-9]+", hint=(
        "must be an Azure region name like westeurope or eastus2"))] = Field(
        alias="azure.location", description="The Azure region, e.g. westeurope.")
    azure_existing_resource_group: Annotated[str, Text(pattern=r"[-\w.()]{0,89}[-\w()]|", hint=(
        "must be a resource group name: up to 90 letters, digits, - _ . ( ), not ending in a period"))] = Field(
        "", alias="azure.existingResourceGroup", description="Use it instead of creating <prefix>-<stack>-rg.")
    azure_retention_days: Annotated[int, Integer(minimum=limits.RETENTION_DAYS[0],
                                                 maximum=limits.RETENTION_DAYS[1])] = Field(
        30, alias="azure.retentionDays", description="Log Analytics retention in days.")
    azure_daily_cap_gb: Annotated[float, Number(check=check.daily_cap)] = Field(
        alias="azure.dailyCapGb", description="Log Analytics daily ingestion cap in GB; -1 for none.")
    azure_app_insights_local_auth: Flag = Field(True, alias="azure.appInsightsLocalAuth", description=(
        "Instrumentation-key ingestion into App Insights, which the collector's azuremonitor exporter needs."))
    azure_managed_prometheus: Flag = Field(False, alias="azure.managedPrometheus", description=(
        "An Azure Monitor workspace, and the alerts App Insights cannot measure as Prometheus rule groups on it."))
    azure_action_group_short_name: Annotated[str, Text(
        max_length=limits.ACTION_GROUP_SHORT_NAME_MAX, pattern=r"[A-Za-z0-9][A-Za-z0-9 _-]*",
        hint="must be letters, digits, spaces, hyphens or underscores")] = Field(
        "ai-alerts", alias="azure.actionGroupShortName", description="Shown in SMS and e-mail.")
    azure_email_receivers: dict[Annotated[str, Text(check=check.receiver_name)],
                                Annotated[str, Text(check=check.email)]] = Field(
        default_factory=dict, alias="azure.emailReceivers", description="Receiver name to e-mail address.")
    azure_webhook_receivers: Annotated[list[Annotated[str, Text(check=check.receiver_name)]], Unique()] = Field(
        default_factory=list, alias="azure.webhookReceivers",
        description="Webhook receiver names; their URLs come from azure.webhookUrls.")
    azure_webhook_urls: Secret | None = Field(None, alias="azure.webhookUrls", description=(
        "Secret: a JSON map of webhook receiver name to https URL."))
    azure_availability_tests: list[AvailabilityTest] = Field(
        default_factory=list, alias="azure.availabilityTests", description="Standard web tests of public endpoints.")
    azure_alerts: AzureAlerts = Field(default_factory=AzureAlerts, alias="azure.alerts",
                                      description="The stack-wide Azure alert rules.")
    kubernetes_version: Annotated[str, Text(pattern=r"1\.\d{1,2}", check=check.kubernetes_version,
                                            hint="must be a Kubernetes minor version like 1.34")] = Field(
        alias="kubernetes.version", description="The cluster's minor version, which manifests are validated for.")
    kubernetes_namespace: DnsLabel | None = Field(None, alias="kubernetes.namespace",
                                                  description="The workloads' namespace; <application>-<stack>.")
    kubernetes_context: Str = Field("", alias="kubernetes.context",
                                    description="The kubeconfig context; empty for its current one.")
    kubernetes_kubeconfig: Secret | None = Field(None, alias="kubernetes.kubeconfig",
                                                 description="Secret: a kubeconfig's contents or path.")
    kubernetes_monitoring_namespaces: Annotated[list[Annotated[str, Text(check=check.dns_label)]], Unique()] = \
        Field(default_factory=lambda: ["monitoring"], alias="kubernetes.monitoringNamespaces",
              description="Namespaces that may scrape the metrics ports.")
    kubernetes_client_namespaces: Annotated[list[Annotated[str, Text(check=check.dns_label)]], Unique()] = Field(
        default_factory=list, alias="kubernetes.clientNamespaces",
        description="Namespaces that may call the services, besides their own.")
    datadog_enabled: Flag = Field(False, alias="datadog.enabled", description="Datadog SLOs, monitors, dashboards.")
    datadog_site: Annotated[str, Text(choices=limits.DATADOG_SITES)] = Field(
        "datadoghq.com", alias="datadog.site", description="The Datadog site.")
    datadog_api_key: Secret | None = Field(None, alias="datadog.apiKey",
                                           description="Secret: 32 hex digits; required with Datadog.")
    datadog_app_key: Secret | None = Field(None, alias="datadog.appKey",
                                           description="Secret: 40 hex digits; required with Datadog.")
    datadog_manage_latency_percentiles: Flag = Field(True, alias="datadog.manageLatencyPercentiles", description=(
        "Create the tag configurations that switch the latency distributions' percentiles on; one stack of an "
        "organization owns them, the one deployed first."))
    datadog_agent_namespace: DnsLabel = Field("datadog", alias="datadog.agentNamespace",
                                              description="The Datadog Agent's namespace.")
    datadog_notify: Notify = Field(default_factory=Notify, alias="datadog.notify",
                                   description="Route (page, ticket) to Datadog handles.")
    prometheus_rule_labels: Labels = Field(
        default_factory=lambda: {"release": "kube-prometheus-stack"}, alias="prometheus.ruleLabels",
        description="The labels the Prometheus operator selects PrometheusRules and PodMonitors by.")
    prometheus_url: Annotated[str, Text(check=check.http_url)] = Field(
        "", alias="prometheus.url", description="The in-cluster Prometheus; required when a service scales with KEDA.")
    prometheus_keda_authentication: Annotated[str, Text(pattern=limits.DNS_SUBDOMAIN + "|", max_length=253,
                                                        hint="must be a TriggerAuthentication name")] = Field(
        "", alias="prometheus.kedaAuthentication", description="The TriggerAuthentication KEDA's scaler uses.")
    alertmanager_receivers: dict[Route, Annotated[str, Text(choices=routing.RECEIVER_KINDS)]] = Field(
        default_factory=dict, alias="alertmanager.receivers",
        description="Route (page, ticket) to receiver kind; none: no AlertmanagerConfig.")
    alertmanager_credentials: Secret | None = Field(None, alias="alertmanager.credentials", description=(
        "Secret: a JSON map of route to URL or PagerDuty routing key."))
    services: list[Service] = Field(alias="services", description="The inference services, at least one.")
    collector: Collector = Field(default_factory=Collector, alias="collector",
                                 description="The OpenTelemetry Collector.")
