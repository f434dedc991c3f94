"""ai-observability: settings -> providers -> components -> stack outputs. What each component gets: wiring.py."""

import pulumi

from components import wiring
from components.alertmanager_routing import AlertmanagerRouting
from components.azure_monitoring import AzureMonitoring
from components.datadog_monitoring import DatadogLatencyPercentiles, DatadogMonitoring
from components.grafana_dashboards import GrafanaDashboard
from components.inference_service import InferenceService
from components.otel_collector import OtelCollector
from components.prometheus_rules import PrometheusAlerting
from components.workload_namespace import WorkloadNamespace

settings = wiring.load_settings()  # bad config stops the run here, before anything is registered
wire, on = wiring.Wiring(settings), wiring.providers(settings)
azure = AzureMonitoring("azure-monitoring", wire.azure_monitoring(), opts=on.azure)
namespace = WorkloadNamespace("workloads", wire.workload_namespace(azure.connection_string), opts=on.kubernetes)
collector = OtelCollector("otel-collector", wire.otel_collector(namespace), opts=on.kubernetes)
if routing := wire.alertmanager_routing(namespace):
    AlertmanagerRouting(f"{settings.identity.application}-routing", routing, opts=on.kubernetes)
for service in settings.services:
    InferenceService(service.name, wire.inference_service(service, namespace, collector), opts=on.kubernetes)
    PrometheusAlerting(f"{service.name}-prometheus", wire.prometheus_alerting(service, namespace), opts=on.kubernetes)
    GrafanaDashboard(f"{service.name}-grafana", wire.grafana_dashboard(service, namespace), opts=on.kubernetes)

pulumi.export("excludedAlerts", wire.excluded_alerts())  # what a server cannot measure: reviewed, never silent
for output, value in {"workspaceId": azure.workspace_id, "appInsightsId": azure.app_insights_id,  # markers go there
                      "appInsightsConnectionString": azure.connection_string, "actionGroupId": azure.action_group_id,
                      "appInsightsInstrumentationKey": azure.instrumentation_key, "namespace": namespace.name,
                      "prometheusWorkspaceId": azure.prometheus_workspace_id,  # with azure.managedPrometheus
                      "collectorOtlpEndpoint": collector.otlp_grpc_endpoint}.items():
    if value is not None:
        pulumi.export(output, value)
if on.datadog:
    percentiles = (DatadogLatencyPercentiles("datadog-latency-percentiles", wanted, opts=on.datadog)
                   if (wanted := wire.datadog_percentiles()) else None)
    pulumi.export("datadogSloIds", {service.name: DatadogMonitoring(
        f"{service.name}-datadog", wire.datadog_monitoring(service, percentiles), opts=on.datadog).slo_id
        for service in settings.services})
