"""ai-observability: stack settings -> the alert catalogue -> explicit providers -> components -> stack outputs."""

import pulumi
import pulumi_azure_native as azure_native
import pulumi_kubernetes as kubernetes

import config as stack_settings
from components import workloads
from components.alertmanager_routing import AlertmanagerRouting
from components.azure_monitoring import AzureMonitoring, ServiceAlerting
from components.grafana_dashboards import GrafanaDashboard
from components.inference_service import InferenceService
from components.otel_collector import OtelCollector
from components.prometheus_rules import PrometheusAlerting
from components.workload_namespace import WorkloadNamespace
from model import catalogue
from model.dashboards.grafana import DashboardInputs
from model.naming import azure as azure_naming
from model.naming import prometheus as prometheus_naming

# Settings come first: bad config stops the run here, before anything is registered.
settings = stack_settings.load(
    pulumi.runtime.get_config_env(),
    frozenset(pulumi.runtime.get_config_secret_keys_env()),
    pulumi.get_stack(),
    pulumi.get_project(),
)
identity, kube = settings.identity, settings.kubernetes
# The alerts each service gets (catalogue.for_service decides), which every backend translates.
alerts = {service.name: catalogue.for_service(service, settings.runbook_base_url) for service in settings.services}

azure_provider = azure_native.Provider(
    "azure",
    subscription_id=settings.azure.subscription_id,
    location=settings.azure.location,
)
kubernetes_provider = kubernetes.Provider(
    "kubernetes",
    context=kube.context,
    kubeconfig=kube.kubeconfig.output() if kube.kubeconfig else None,
    namespace=kube.namespace,
)
on_azure = pulumi.ResourceOptions(providers=[azure_provider])
on_kubernetes = pulumi.ResourceOptions(providers=[kubernetes_provider])

azure = AzureMonitoring("azure-monitoring", identity, settings.azure, identity.team, [ServiceAlerting(
    azure_naming.role_name(azure_naming.resource(service.name, identity.application)), alerts[service.name].alerts,
    service.slo, service.metrics, kube.namespace) for service in settings.services], opts=on_azure)
namespace = WorkloadNamespace("workloads", identity.application, kube, azure.connection_string,
                              settings.datadog.api_key if settings.datadog.enabled else None, opts=on_kubernetes)
collector = OtelCollector("otel-collector", identity, settings.collector, kube, settings.datadog.site,
                          settings.prometheus.rule_labels, namespace.name, namespace.secret_name,
                          catalogue.pipeline_alerts(settings.services, settings.runbook_base_url), opts=on_kubernetes)
if settings.alertmanager.receivers:
    AlertmanagerRouting(f"{identity.application}-routing", settings.alertmanager.receivers,
                        settings.alertmanager.credentials, namespace.name,
                        {**workloads.common_labels(identity.application), **settings.prometheus.rule_labels},
                        opts=on_kubernetes)
for service in settings.services:
    InferenceService(service.name, identity, service, kube, settings.datadog, namespace.name, namespace.secret_name,
                     collector.otlp_grpc_endpoint, settings.prometheus, opts=on_kubernetes)
    monitoring_labels = {**workloads.labels(service.name, identity.stack, service.version, "monitoring",
                                            identity.application), **settings.prometheus.rule_labels}
    PrometheusAlerting(f"{service.name}-prometheus", alerts[service.name].alerts, service.slo, service.metrics,
                       kube.namespace, identity.team,
                       workloads.metadata(service.name, namespace.name, monitoring_labels),
                       workloads.selector(service.name, identity.stack), service.metrics_port_name,
                       settings.azure.managed_prometheus,
                       opts=on_kubernetes)
    selector = prometheus_naming.selector(service.name, kube.namespace)
    windows = catalogue.ratio_windows(alerts[service.name].alerts)
    GrafanaDashboard(f"{service.name}-grafana",
                     DashboardInputs(identity.stack, service.name, service.metrics, service.slo, selector, windows),
                     workloads.metadata(f"{service.name}-dashboard", namespace.name, monitoring_labels),
                     opts=on_kubernetes)

# What each service's server cannot measure, and so has no alert for: reviewed, never silently empty.
pulumi.export("excludedAlerts", {name: dict(decided.reasons) for name, decided in alerts.items()})
pulumi.export("workspaceId", azure.workspace_id)
pulumi.export("appInsightsId", azure.app_insights_id)  # where make marker puts release annotations
pulumi.export("appInsightsConnectionString", azure.connection_string)
pulumi.export("appInsightsInstrumentationKey", azure.instrumentation_key)
pulumi.export("actionGroupId", azure.action_group_id)
if azure.prometheus_workspace_id is not None:  # where the managed Prometheus addon must send the metrics
    pulumi.export("prometheusWorkspaceId", azure.prometheus_workspace_id)
pulumi.export("namespace", namespace.name)
pulumi.export("collectorOtlpEndpoint", collector.otlp_grpc_endpoint)

if settings.datadog.enabled:
    # Imported only when used: the Datadog SDK alone takes seconds to import.
    import pulumi_datadog as datadog

    from components.datadog_monitoring import DatadogLatencyPercentiles, DatadogMonitoring

    api_key, app_key = settings.datadog.credentials()
    on_datadog = pulumi.ResourceOptions(providers=[datadog.Provider(
        "datadog", api_key=api_key.output(), app_key=app_key.output(), api_url=settings.datadog.api_url)])
    percentiles = DatadogLatencyPercentiles("datadog-latency-percentiles", [s.metrics for s in settings.services],
                                            opts=on_datadog) if settings.datadog.manage_latency_percentiles else None
    pulumi.export("datadogSloIds", {
        service.name: DatadogMonitoring(f"{service.name}-datadog", alerts[service.name].alerts, service.slo,
                                        service.metrics, identity.stack, identity.team, kube.namespace,
                                        settings.datadog.notify, percentiles,
                                        opts=on_datadog).slo_id
        for service in settings.services})
