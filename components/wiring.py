"""From the stack's settings to each component's Args: the one place that decides what each component gets.

`__main__.py` only calls these in order: settings, providers, components, exports. What each service is
alerted on comes from catalogue.for_service, once, and every backend gets that same decision.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_azure_native as azure_native
import pulumi_kubernetes as kubernetes

import config
from components import by_type, workloads
from components.alertmanager_routing import AlertmanagerRoutingArgs
from components.azure_monitoring import AzureMonitoringArgs, ServiceAlerting
from components.datadog_monitoring import DatadogLatencyPercentilesArgs, DatadogMonitoringArgs
from components.grafana_dashboards import GrafanaDashboardArgs
from components.inference_service import InferenceServiceArgs
from components.otel_collector import OtelCollector, OtelCollectorArgs
from components.prometheus_rules import PrometheusAlertingArgs
from components.secrets import secret_output
from components.workload_namespace import WorkloadNamespace, WorkloadNamespaceArgs
from config.settings import ServiceSettings, Settings
from model import catalogue
from model.dashboards.grafana import DashboardInputs
from model.naming import azure as azure_naming
from model.naming import prometheus as prometheus_naming


class SettingsError(config.ConfigError, pulumi.RunError):
    """A RunError, so the Pulumi CLI prints the problems without a traceback."""


def load_settings() -> Settings:
    """The stack's config as the language host passes it; bad config stops here, before anything is registered."""
    try:
        return config.load(pulumi.runtime.get_config_env(), frozenset(pulumi.runtime.get_config_secret_keys_env()),
                           pulumi.get_stack(), pulumi.get_project())
    except config.ConfigError as error:
        raise SettingsError(error.stack, error.problems) from None


@dataclass(frozen=True)
class Providers:
    """The explicit providers, as the options a component is created with; Datadog's only when it is on."""

    azure: pulumi.ResourceOptions
    kubernetes: pulumi.ResourceOptions
    datadog: pulumi.ResourceOptions | None


def providers(settings: Settings) -> Providers:
    kube = settings.kubernetes
    azure = azure_native.Provider("azure", subscription_id=settings.azure.subscription_id,
                                  location=settings.azure.location)
    cluster = kubernetes.Provider("kubernetes", context=kube.context, namespace=kube.namespace,
                                  kubeconfig=secret_output(kube.kubeconfig) if kube.kubeconfig else None)
    datadog = None
    if settings.datadog.enabled:  # by type token, as all of Datadog (by_type.py)
        api_key, app_key = settings.datadog.credentials()
        datadog = pulumi.ResourceOptions(providers=[by_type.provider(
            "datadog", "datadog", {"apiKey": secret_output(api_key), "appKey": secret_output(app_key),
                                   "apiUrl": settings.datadog.api_url}, secrets=("apiKey", "appKey"))])
    return Providers(pulumi.ResourceOptions(providers=[azure]), pulumi.ResourceOptions(providers=[cluster]), datadog)


class Wiring:
    """Each component's Args from the settings and from the outputs of the components it depends on."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.identity, self.kube = settings.identity, settings.kubernetes
        self.alerts = {service.name: catalogue.for_service(service, settings.runbook_base_url)
                       for service in settings.services}

    def excluded_alerts(self) -> dict[str, dict[str, str]]:
        """What each service's server cannot measure, and so has no alert for: reviewed, never silently empty."""
        return {name: dict(decided.reasons) for name, decided in self.alerts.items()}

    def azure_monitoring(self) -> AzureMonitoringArgs:
        return AzureMonitoringArgs(identity=self.identity, azure=self.settings.azure, services=tuple(
            ServiceAlerting(azure_naming.role_name(azure_naming.resource(service.name, self.identity.application)),
                            self.alerts[service.name].alerts, service.slo, service.metrics, self.kube.namespace)
            for service in self.settings.services))

    def workload_namespace(self, connection_string: pulumi.Input[str]) -> WorkloadNamespaceArgs:
        """`connection_string`: App Insights', which the namespace's Secret holds for the services."""
        datadog = self.settings.datadog
        return WorkloadNamespaceArgs(
            application=self.identity.application, kubernetes=self.kube, connection_string=connection_string,
            datadog_api_key=secret_output(datadog.credentials()[0]) if datadog.enabled else None)

    def otel_collector(self, namespace: WorkloadNamespace) -> OtelCollectorArgs:
        settings = self.settings
        return OtelCollectorArgs(
            identity=self.identity, collector=settings.collector, kubernetes=self.kube,
            datadog_site=settings.datadog.site, rule_labels=settings.prometheus.rule_labels,
            namespace=namespace.name, secret_name=namespace.secret_name,
            alerts=catalogue.pipeline_alerts(settings.services, settings.runbook_base_url),
            # Slower than its P95 objective: a request the latency alerts are about, whose trace is kept.
            slow_after={azure_naming.resource(s.name, self.identity.application)["service.name"]: s.slo.p95_seconds
                        for s in settings.services})

    def alertmanager_routing(self, namespace: WorkloadNamespace) -> AlertmanagerRoutingArgs | None:
        """None when the stack routes no alerts itself."""
        alertmanager = self.settings.alertmanager
        if not alertmanager.receivers:
            return None
        return AlertmanagerRoutingArgs(
            receivers=alertmanager.receivers, namespace=namespace.name,
            credentials={route: secret_output(secret) for route, secret in alertmanager.credentials.items()},
            labels={**workloads.common_labels(self.identity.application), **self.settings.prometheus.rule_labels})

    def inference_service(self, service: ServiceSettings, namespace: WorkloadNamespace,
                          collector: OtelCollector) -> InferenceServiceArgs:
        return InferenceServiceArgs(
            identity=self.identity, service=service, kubernetes=self.kube, datadog=self.settings.datadog,
            prometheus=self.settings.prometheus, namespace=namespace.name, secret_name=namespace.secret_name,
            collector_endpoint=collector.otlp_grpc_endpoint)

    def prometheus_alerting(self, service: ServiceSettings, namespace: WorkloadNamespace) -> PrometheusAlertingArgs:
        return PrometheusAlertingArgs(
            alerts=self.alerts[service.name].alerts, slo=service.slo, contract=service.metrics,
            namespace=self.kube.namespace, team=self.identity.team,
            metadata=workloads.metadata(service.name, namespace.name, self._monitoring_labels(service)),
            pod_selector=workloads.selector(service.name, self.identity.stack),
            metrics_port=service.metrics_port_name, azure_managed_prometheus=self.settings.azure.managed_prometheus)

    def grafana_dashboard(self, service: ServiceSettings, namespace: WorkloadNamespace) -> GrafanaDashboardArgs:
        dashboard = DashboardInputs(self.identity.stack, service.name, service.metrics, service.slo,
                                    prometheus_naming.selector(service.name, self.kube.namespace),
                                    catalogue.ratio_windows(self.alerts[service.name].alerts))
        return GrafanaDashboardArgs(dashboard=dashboard, metadata=workloads.metadata(
            f"{service.name}-dashboard", namespace.name, self._monitoring_labels(service)))

    def datadog_percentiles(self) -> DatadogLatencyPercentilesArgs | None:
        """None when another stack of the same Datadog organisation manages them (manageLatencyPercentiles)."""
        if not self.settings.datadog.manage_latency_percentiles:
            return None
        return DatadogLatencyPercentilesArgs(contracts=tuple(service.metrics for service in self.settings.services))

    def datadog_monitoring(self, service: ServiceSettings,
                           percentiles: pulumi.Resource | None) -> DatadogMonitoringArgs:
        return DatadogMonitoringArgs(
            alerts=self.alerts[service.name].alerts, slo=service.slo, contract=service.metrics,
            env=self.identity.stack, team=self.identity.team, namespace=self.kube.namespace,
            notify=self.settings.datadog.notify, percentiles=percentiles)

    def _monitoring_labels(self, service: ServiceSettings) -> dict[str, str]:
        return {**workloads.labels(service.name, self.identity.stack, service.version, "monitoring",
                                   self.identity.application), **self.settings.prometheus.rule_labels}
