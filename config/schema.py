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

from config import limits
from config import values as check
from config.fields import (
    CounterName,
    Cpu,
    DnsLabel,
    Flag,
    Image,
    Integer,
    LabelName,
    Labels,
    LabelValue,
    Location,
    Memory,
    MetricName,
    Number,
    Open,
    Positive,
    Ratio,
    Retired,
    Secret,
    Share,
    Spec,
    Str,
    Text,
    Unique,
)
from config.kubernetes_shapes import Affinity, Toleration
from model import burn_rate, presets, routing
from model.slo import DEFAULT_ROUTING, ROUTES, SEVERITIES

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
    severity: Annotated[int, Integer(minimum=limits.AZURE_SEVERITIES[0], maximum=limits.AZURE_SEVERITIES[1])] = Field(
        1, description="Azure severity, 0 (critical) to 4 (verbose).")
    failed_locations: Annotated[int, Integer(minimum=1)] | None = Field(
        None, description="Failing locations that fire it; by default each test's locations minus two "
                          "(Microsoft's guidance), at least one.")


class DailyCap(Spec):
    """The Azure Monitor Baseline Alerts rule: the workspace reached its daily cap (a log alert)."""

    severity: Annotated[int, Integer(minimum=limits.AZURE_SEVERITIES[0], maximum=limits.AZURE_SEVERITIES[1])] = Field(
        2, description="Azure severity, 0 (critical) to 4 (verbose).")
    frequency: Annotated[str, Text(choices=limits.LOG_ALERT_FREQUENCIES)] = Field(
        "PT1H", description="How often it is evaluated.")
    window: Annotated[str, Text(choices=limits.LOG_ALERT_WINDOWS)] = Field(
        "P1D", description="The window it looks at, at least the frequency.")


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
    """A standard web test: Azure requests the URL from each location, and an alert fires when enough fail."""

    name: Annotated[str, Text(pattern=limits.DNS_LABEL, max_length=40, hint=limits.DNS_LABEL_HINT)] = Field(
        description="Names the test and its alert.")
    url: Annotated[str, Text(check=check.https_url)] = Field(description="The https URL it requests.")
    frequency_seconds: Annotated[int, Integer(check=check.webtest_frequency)] = Field(
        300, description="How often each location requests it: 300, 600 or 900.")
    timeout_seconds: Annotated[int, Integer(minimum=5, maximum=120)] = Field(
        30, description="How long a request may take before it counts as failed.")
    locations: Annotated[list[Location], Unique()] = Field(
        default_factory=lambda: list(limits.DEFAULT_WEBTEST_LOCATIONS),
        description="Azure test location ids; five across Europe and the US by default.")


# -- a service -------------------------------------------------------------------------------------

class Model(Spec):
    """The model it serves: a label on its series and its telemetry."""

    name: LabelValue = Field(description="The model the service serves, a label on its series.")
    version: LabelValue = Field(description="The model's version.")


Port = Annotated[int, Integer(minimum=limits.UNPRIVILEGED_PORTS[0], maximum=limits.UNPRIVILEGED_PORTS[1])]


class Ports(Spec):
    http: Port = Field(8080, description="The API's container port.")
    metrics: Port = Field(8000, description="The /metrics port; the http one for a server serving /metrics there.")


class Quantities(Spec):
    cpu: Cpu | None = Field(None, description="CPU, in Kubernetes' quantity.")
    memory: Memory | None = Field(None, description="Memory, in Kubernetes' quantity.")


class OpenQuantities(Open):
    """cpu and memory; under a service's limits, extended resources too (nvidia.com/gpu: 1)."""

    cpu: Cpu | None = Field(None, description="CPU, in Kubernetes' quantity.")
    memory: Memory | None = Field(None, description="Memory, in Kubernetes' quantity.")


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
    requests: CounterName = Field("ai_inference_requests_total", description="default: the requests counter.")
    latency: MetricName = Field("ai_inference_latency_seconds", description="default: the latency histogram.")
    tokens: CounterName = Field("ai_tokens_used_total", description="default: the tokens counter.")
    cost: CounterName = Field("ai_inference_cost_dollars_total", description="default: the cost counter, USD.")
    model_label: LabelName = Field("model", description="default: the label naming the model.")
    status_label: LabelName = Field("status", description="default: the label saying success or error.")
    error_status: Str = Field("error", description="default: the status label's value for a failed request.")
    token_type_label: LabelName = Field("token_type", description="default: the label saying input or output.")
    latency_buckets: list[Positive] = Field(default_factory=lambda: list(presets.LATENCY_BUCKETS),
                                            description="The latency histogram's finite bounds, seconds, ascending.")


class Latency(Spec):
    p95_seconds: Positive = Field(1.0, description="P95 objective: alert when over 5% are slower; a bucket bound.")
    p99_seconds: Positive = Field(5.0, description="P99 objective: alert when over 1% are slower; a bucket bound.")


class LatencyObjective(Spec):
    threshold_seconds: Positive = Field(description="A bucket boundary of the histogram.")
    target: Ratio = Field(description="The share of events at or under the threshold, e.g. 0.99.")


class LatencyObjectives(Spec):
    """Latency SLOs over the service's period, each with the availability SLO's burn-rate alerts."""

    request_duration: LatencyObjective | None = Field(None, description="Whole requests.")
    time_to_first_token: LatencyObjective | None = Field(None, description="The first token (LLM servers).")
    time_per_output_token: LatencyObjective | None = Field(None, description="Each output token (LLM servers).")


class Saturation(Spec):
    """Thresholds of the saturation alerts, where the server measures them."""

    queue_requests: Positive = Field(10.0, description="Waiting requests per replica.")
    kv_cache_usage: Share = Field(0.9, description="The fullest replica's KV-cache usage.")
    gpu_utilization: Share = Field(0.95, description="GPU services only.")
    gpu_memory_usage: Share = Field(0.95, description="GPU services only.")


class Quality(Spec):
    """Model-quality alerts, each only when set, and only for a server whose preset has the metric."""

    min_score: Positive | None = Field(None, description="Accuracy, or any score where higher is better.")
    max_drift: Positive | None = Field(None, description="The drift score.")
    max_hallucination_rate: Ratio | None = Field(None, description="The share of answers judged hallucinated.")
    max_negative_feedback: Ratio | None = Field(None, description="The share of a day's feedback that is negative.")


class Slo(Spec):
    """The seeds' defaults: 99% over 30 days, errors over 5%, P95 1 s, P99 5 s, $100 an hour."""

    availability: Ratio = Field(0.99, description="The success-ratio target.")
    period: Annotated[str, Text(choices=[f"{days}d" for days in burn_rate.PERIODS_DAYS])] = Field(
        "30d", description="The SLO period, which picks the burn-rate windows (docs/alerting.md).")
    error_rate: Ratio = Field(0.05, description="The error-ratio alert.")
    latency: Latency = Field(default_factory=Latency, description="The percentile alerts' objectives, seconds.")
    cost_per_hour: Positive = Field(100.0, description="USD an hour.")
    tokens_per_hour: Annotated[int, Integer(minimum=1)] = Field(5_000_000, description="The token budget an hour.")
    routing: dict[Annotated[str, Text(check=lambda v: None if v in SEVERITIES
                                      else f"is not a severity; severities are {', '.join(SEVERITIES)}")],
                  Annotated[str, Text(choices=ROUTES)]] = Field(
        default_factory=lambda: dict(DEFAULT_ROUTING), description="The route of each severity: page or ticket.")
    latency_objectives: LatencyObjectives = Field(default_factory=LatencyObjectives)
    saturation: Saturation = Field(default_factory=Saturation)
    quality: Quality = Field(default_factory=Quality)


class Autoscaling(Spec):
    """What the replica count follows (docs/llm-serving.md, scaling on the queue)."""

    metric: Annotated[str, Text(choices=limits.AUTOSCALING_METRICS)] = Field(
        "cpu", description="cpu, or queue: waiting requests per replica.")
    engine: Annotated[str, Text(choices=limits.AUTOSCALING_ENGINES)] = Field(
        "hpa", description="An HPA, or a KEDA ScaledObject (queue only; needs prometheus.url).")
    queue_requests_per_replica: Positive = Field(4.0, description="The queue each replica should hold.")


class ModelCache(Spec):
    """Where the weights are kept: an emptyDir (sizeLimit) or an existing PersistentVolumeClaim (claimName)."""

    mount_path: Annotated[str, Text(pattern=r"/[^:]+", hint="must be an absolute path like /models")] = Field(
        description="Where the container sees it.")
    size_limit: Memory | None = Field(None, description="An emptyDir of this size.")
    claim_name: Annotated[str, Text(pattern=limits.DNS_SUBDOMAIN, max_length=253,
                                    hint="must be a PersistentVolumeClaim name")] | None = Field(
        None, description="An existing PersistentVolumeClaim.")
    read_only: Flag = Field(False, description="Mount the claim read-only.")


class CanaryStep(Spec):
    """One step of a canary release: the share of pods on the new version, then a wait."""

    weight: Annotated[int, Integer(minimum=1, maximum=99)] = Field(description=(
        "Percent of the pods on the new version (of the traffic too, with traffic routing)."))
    pause: Annotated[str, Text(check=check.duration)] = Field(description="How long it runs at this weight: 5m.")


def _default_steps() -> list[CanaryStep]:
    return [CanaryStep(weight=10, pause="5m"), CanaryStep(weight=25, pause="5m"), CanaryStep(weight=50, pause="10m")]


class Rollout(Spec):
    """Canary releases through Argo Rollouts, judged by an analysis generated from the service's objectives."""

    enabled: Flag = Field(False, description=(
        "An Argo Rollouts Rollout instead of a Deployment: each new version goes through the steps while the "
        "analysis judges it; a failed analysis aborts it and the stable version serves again."))
    steps: list[CanaryStep] = Field(default_factory=_default_steps, description=(
        "The canary's steps, weights rising; after the last, the new version is promoted to every pod."))
    analysis_interval: Annotated[str, Text(check=check.duration)] = Field(
        "1m", description="How often the analysis measures the canary.")
    analysis_window: Annotated[str, Text(check=check.duration)] = Field(
        "5m", description="The window each measurement covers.")
    failure_limit: Annotated[int, Integer(minimum=0, maximum=10)] = Field(1, description=(
        "Failed measurements tolerated: one more aborts the rollout."))
    nginx_ingress: Annotated[str, Text(pattern=limits.DNS_SUBDOMAIN, max_length=253,
                                       hint="must be an Ingress name")] | None = Field(None, description=(
        "The NGINX Ingress that routes to this service: the canary's weight then splits the traffic too; "
        "without one the split follows the replica ratio."))


class Service(Spec):
    """One inference service: what it runs, how big, where, and what it is held to."""

    name: Annotated[str, Text(pattern=limits.DNS_1035, max_length=40, hint=(
        "must be a DNS name: lowercase letters, digits and hyphens, starting with a letter"))] = Field(
        description="Names its Kubernetes objects, its series' service and its alerts; unique in the stack.")
    image: Image = Field(description="In a production stack pinned by digest: name:tag@sha256:….")
    version: LabelValue | None = Field(
        None, description="What it runs; by default the image's tag, required without one naming a version.")
    model: Model
    min_replicas: Annotated[int, Integer(minimum=1, maximum=100)] = Field(2, description="The autoscaler's floor.")
    max_replicas: Annotated[int, Integer(minimum=1, maximum=100)] = Field(6, description="The autoscaler's ceiling.")
    target_cpu_utilization: Annotated[int, Integer(minimum=10, maximum=100)] = Field(
        70, description="Percent of the CPU request, when scaling on cpu.")
    autoscaling: Autoscaling = Field(default_factory=Autoscaling)
    resources: ServiceResources = Field(default_factory=ServiceResources, description="Requests and limits.")
    ports: Ports = Field(default_factory=Ports, description="The container's ports.")
    termination_grace_period_seconds: Annotated[int, Integer(minimum=10, maximum=3600)] = Field(
        60, description="Long enough for in-flight inference to finish.")
    startup_seconds: Annotated[int, Integer(minimum=10, maximum=4 * 3600)] = Field(
        300, description="How long the model may take to load before /health answers.")
    metrics: Metrics = Field(default_factory=Metrics)
    slo: Slo = Field(default_factory=Slo)
    node_selector: Labels = Field(default_factory=dict, description="Nodes it may run on, by label (GPU nodes).")
    tolerations: list[Toleration] = Field(default_factory=list, description="Taints it tolerates (GPU nodes).")
    affinity: Affinity | None = Field(None, description="Node and pod affinity, as Kubernetes writes it.")
    runtime_class_name: Annotated[str, Text(pattern=limits.DNS_SUBDOMAIN, max_length=253,
                                            hint="must be a RuntimeClass name like nvidia")] | None = Field(
        None, description="The container runtime, e.g. nvidia.")
    env: dict[Annotated[str, Text(check=check.env_name)], Str] = Field(
        default_factory=dict, description="Extra plain environment variables (never secrets).")
    shm_size: Memory | None = Field(None, description="A memory-backed /dev/shm of this size, within the limit.")
    model_cache: ModelCache | None = None
    rollout: Rollout = Field(default_factory=Rollout, description="Canary releases (Argo Rollouts).")


class Redaction(Spec):
    """What the collector removes from traces and logs before any exporter or connector sees them."""

    enabled: Flag = Field(True, description=(
        "Redaction in every traces and logs pipeline; false sends every attribute, event and log body as received."))
    genai_content: Annotated[str, Text(choices=("drop", "truncate", "keep"))] = Field("drop", description=(
        "Prompts, completions and system instructions (the GenAI conventions' gen_ai.input.messages, "
        "gen_ai.output.messages, gen_ai.system_instructions, gen_ai.prompt, gen_ai.completion and their events): "
        "dropped, cut to truncateTo bytes, or kept."))
    truncate_to: Annotated[int, Integer(minimum=16, maximum=65536)] = Field(256, description=(
        "Bytes of GenAI content kept with genaiContent: truncate (OTTL counts UTF-8 bytes: non-ASCII text keeps "
        "fewer characters)."))


class Sampling(Spec):
    """Tail sampling: every trace with an error or slower than its service's P95 objective, a share of the rest."""

    percentage: Annotated[float, Number(above=0, maximum=100)] = Field(100.0, description=(
        "Percent of the other traces kept; 100 keeps every trace (no sampling). The alerts read the services' "
        "/metrics, which sampling does not touch."))


class Collector(Spec):
    """The OpenTelemetry Collector the services send OTLP to."""

    image: Image = Field(limits.COLLECTOR_IMAGE, description="The contrib distribution, by digest.")
    replicas: Annotated[int, Integer(minimum=1, maximum=20)] = Field(2, description="Its Deployment's replicas.")
    resources: Resources = Field(default_factory=Resources, description="Requests and limits.")
    exporters: Annotated[list[Annotated[str, Text(choices=limits.COLLECTOR_EXPORTERS)]], Unique()] | None = Field(
        None, description="By default every backend the stack sets up.")
    redaction: Redaction = Field(default_factory=Redaction, description="Prompts and PII kept out of the backends.")
    sampling: Sampling = Field(default_factory=Sampling, description="Which traces are kept.")


Handles = Annotated[list[Annotated[str, Text(check=check.datadog_handle)]], Unique()]


class Notify(Spec):
    page: Handles = Field(default_factory=list, description="Who a page notifies.")
    ticket: Handles = Field(default_factory=list, description="Who a ticket notifies.")


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
