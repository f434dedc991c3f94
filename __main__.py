"""ai-observability: stack settings -> explicit providers -> components -> stack outputs."""

import pulumi
import pulumi_azure_native as azure_native
import pulumi_kubernetes as kubernetes

from components import settings as stack_settings
from components import workloads
from components.alertmanager_routing import AlertmanagerRouting
from components.azure_monitoring import AzureMonitoring
from components.inference_service import InferenceService
from components.otel_collector import OtelCollector
from components.prometheus_rules import PrometheusAlerting
from components.workload_namespace import WorkloadNamespace
from model import catalogue
from model.naming import azure as azure_naming

# Settings come first: bad config stops the run here, before anything is registered.
settings = stack_settings.load(
    pulumi.runtime.get_config_env(),
    frozenset(pulumi.runtime.get_config_secret_keys_env()),
    pulumi.get_stack(),
    pulumi.get_project(),
)
# One catalogue of alerts per service, which every backend translates.
alerts = {service.name: catalogue.service_alerts(service.name, service.slo, settings.runbook_base_url)
          for service in settings.services}

azure_provider = azure_native.Provider(
    "azure",
    subscription_id=settings.azure.subscription_id,
    location=settings.azure.location,
)
kubernetes_provider = kubernetes.Provider(
    "kubernetes",
    context=settings.kubernetes.context,
    kubeconfig=settings.kubernetes.kubeconfig.output() if settings.kubernetes.kubeconfig else None,
    namespace=settings.kubernetes.namespace,
)
on_azure = pulumi.ResourceOptions(providers=[azure_provider])
on_kubernetes = pulumi.ResourceOptions(providers=[kubernetes_provider])
if settings.datadog.enabled:
    # Imported only when used: the Datadog SDK alone takes seconds to import.
    import pulumi_datadog as datadog

    from components.datadog_monitoring import DatadogLatencyPercentiles, DatadogMonitoring

    datadog_provider = datadog.Provider(
        "datadog",
        api_key=settings.datadog.api_key.output(),
        app_key=settings.datadog.app_key.output(),
        api_url=settings.datadog.api_url,
    )
    on_datadog = pulumi.ResourceOptions(providers=[datadog_provider])
    if settings.datadog.manage_latency_percentiles:
        DatadogLatencyPercentiles("datadog-latency-percentiles", [s.metrics for s in settings.services],
                                  opts=on_datadog)

roles = {service.name: azure_naming.role_name(azure_naming.resource(service.name, settings.application))
         for service in settings.services}
azure = AzureMonitoring("azure-monitoring", settings, {roles[name]: entries for name, entries in alerts.items()},
                        opts=on_azure)
namespace = WorkloadNamespace("workloads", settings, azure.connection_string, opts=on_kubernetes)
collector = OtelCollector("otel-collector", settings, namespace.name, namespace.secret_name, opts=on_kubernetes)
if settings.alertmanager.receivers:
    AlertmanagerRouting(f"{settings.application}-routing", settings.alertmanager.receivers,
                        settings.alertmanager.credentials, namespace.name,
                        {**workloads.common_labels(settings.application), **settings.prometheus.rule_labels},
                        opts=on_kubernetes)
datadog_slo_ids = {}
for service in settings.services:
    InferenceService(service.name, settings, service, namespace.name, namespace.secret_name,
                     collector.otlp_grpc_endpoint, opts=on_kubernetes)
    monitoring_labels = {**workloads.labels(service.name, settings.stack, service.version, "monitoring",
                                            settings.application), **settings.prometheus.rule_labels}
    PrometheusAlerting(f"{service.name}-prometheus", alerts[service.name], service.slo.objective, service.metrics,
                       settings.kubernetes.namespace, settings.team,
                       workloads.metadata(service.name, namespace.name, monitoring_labels),
                       workloads.selector(service.name, settings.stack), opts=on_kubernetes)
    if settings.datadog.enabled:
        datadog_slo_ids[service.name] = DatadogMonitoring(
            f"{service.name}-datadog", alerts[service.name], service.slo.objective, service.metrics, settings.stack,
            settings.team, settings.datadog.notify, opts=on_datadog).slo_id

pulumi.export("workspaceId", azure.workspace_id)
pulumi.export("appInsightsConnectionString", azure.connection_string)
pulumi.export("appInsightsInstrumentationKey", azure.instrumentation_key)
pulumi.export("actionGroupId", azure.action_group_id)
pulumi.export("namespace", namespace.name)
pulumi.export("collectorOtlpEndpoint", collector.otlp_grpc_endpoint)
if datadog_slo_ids:
    pulumi.export("datadogSloIds", datadog_slo_ids)
