"""Azure Monitor for the inference services: workspace, Application Insights, action group, alerts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import alertsmanagement, applicationinsights, monitor, operationalinsights, resources

from components import by_type
from components.secrets import secret_output
from config.settings import AlertRule, AvailabilityTest, AzureSettings, StackIdentity
from model.catalogue import Alert
from model.contract import PROBE_PATHS, MetricContract
from model.dialects import azure as dialect
from model.dialects import prometheus as promql
from model.durations import iso, prometheus_seconds
from model.slo import ServiceSlo

APP_INSIGHTS_NAMESPACE = "microsoft.insights/components"
LOG_ALERT = "azure-native:monitor:ScheduledQueryRule"  # one per service alert: registered by type (by_type.py)
# The App Insights standard metrics alerted on, with the aggregations Azure offers for each
# (learn.microsoft.com: Application Insights standard metrics). Percentiles are not among them,
# which is why the services' latency alerts are log alerts.
APP_INSIGHTS_METRICS = {
    "requests/duration": ("Average", "Minimum", "Maximum"),
    "requests/failed": ("Count",),
    "exceptions/server": ("Count",),
}

# Azure Monitor Baseline Alerts' "daily cap limit reached": the latest collection status is OverQuota.
DAILY_CAP_QUERY = (
    "Operation\n"
    '| where OperationCategory == "Data Collection Status"\n'
    '| where Detail has_any ("OverQuota", "RespectQuota")\n'
    "| summarize arg_max(TimeGenerated, *) by TenantId\n"
    '| where Detail has "OverQuota"'
)


def metric_criteria(label: str, metric: str, aggregation: str,
                    threshold: float) -> monitor.MetricAlertSingleResourceMultipleMetricCriteriaArgs:
    """A static-threshold criterion on an App Insights standard metric Azure really offers."""
    if aggregation not in APP_INSIGHTS_METRICS.get(metric, ()):
        raise ValueError(f"App Insights offers no {aggregation} of {metric}")
    # Typed args, not dicts: `criteria` is a union, and the SDK only renames a dict's keys
    # (all_of -> allOf) when it knows the type.
    return monitor.MetricAlertSingleResourceMultipleMetricCriteriaArgs(
        odata_type="Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria",
        all_of=[monitor.MetricCriteriaArgs(
            criterion_type="StaticThresholdCriterion",
            name=label,
            metric_name=metric,
            metric_namespace=APP_INSIGHTS_NAMESPACE,
            operator="GreaterThan",
            threshold=threshold,
            time_aggregation=aggregation,
        )],
    )


@dataclass(frozen=True)
class ServiceAlerting:
    """What Azure alerts on for one service."""

    role: str  # its App Insights role name
    alerts: tuple[Alert, ...]  # its catalogue entries its server can measure
    slo: ServiceSlo
    contract: MetricContract
    namespace: str  # the Kubernetes namespace its Prometheus series carry


@dataclass(frozen=True, kw_only=True)
class AzureMonitoringArgs:
    identity: StackIdentity  # names, tags, team, and whether the stack is production (protected)
    azure: AzureSettings
    services: tuple[ServiceAlerting, ...]


class AzureMonitoring(pulumi.ComponentResource):
    """Log Analytics, workspace-based Application Insights, an action group and the alerts on them."""

    workspace_id: pulumi.Output[str]
    app_insights_id: pulumi.Output[str]
    connection_string: pulumi.Output[str]  # secret
    instrumentation_key: pulumi.Output[str]  # secret
    action_group_id: pulumi.Output[str]
    prometheus_workspace_id: pulumi.Output[str] | None  # with azure.managedPrometheus

    def __init__(self, name: str, args: AzureMonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ai-observability:azure:AzureMonitoring", name, None, opts)
        identity, azure = args.identity, args.azure
        self._name, self._identity, self._azure = name, identity, azure
        self._tags = dict(identity.tags)
        # Losing the workspace or App Insights loses telemetry history and the connection string.
        self._keep = pulumi.ResourceOptions(parent=self, protect=identity.production)

        self._group_name = self._resource_group()
        workspace = self._workspace()
        component = self._app_insights(workspace.id)
        action_group = self._action_group()
        self._action_group_id = action_group.id
        self._platform_alerts(component, workspace.id)
        prometheus_workspace = self._prometheus_workspace() if azure.managed_prometheus else None
        for service in args.services:
            placed = {alert: dialect.placement(alert, service.contract, azure.managed_prometheus)
                      for alert in service.alerts}
            for alert, where in placed.items():
                if where == dialect.KQL:
                    self._service_alert(alert, service.role, component.id)
            on_prometheus = tuple(alert for alert, where in placed.items() if where == dialect.PROMETHEUS)
            if prometheus_workspace is not None and on_prometheus:
                self._prometheus_rules(service, on_prometheus, identity.team, prometheus_workspace.id)
        self.prometheus_workspace_id = prometheus_workspace.id if prometheus_workspace else None

        self.workspace_id = workspace.id
        self.app_insights_id = component.id
        self.connection_string = pulumi.Output.secret(component.connection_string)
        self.instrumentation_key = pulumi.Output.secret(component.instrumentation_key)
        self.action_group_id = action_group.id
        self.register_outputs({
            "workspaceId": self.workspace_id,
            "appInsightsId": self.app_insights_id,
            "connectionString": self.connection_string,
            "instrumentationKey": self.instrumentation_key,
            "actionGroupId": self.action_group_id,
        })

    def _resource_group(self) -> pulumi.Output[str]:
        if self._azure.existing_resource_group:
            return resources.get_resource_group_output(
                resource_group_name=self._azure.existing_resource_group,
                opts=pulumi.InvokeOutputOptions(parent=self)).name
        return resources.ResourceGroup(
            f"{self._name}-group", resource_group_name=self._identity.resource_name("rg"),
            location=self._azure.location, tags=self._tags, opts=self._keep).name

    def _workspace(self) -> operationalinsights.Workspace:
        cap = self._azure.daily_cap_gb
        return operationalinsights.Workspace(
            f"{self._name}-workspace",
            workspace_name=self._identity.resource_name("logs"),
            resource_group_name=self._group_name,
            location=self._azure.location,
            sku={"name": "PerGB2018"},
            retention_in_days=self._azure.retention_days,
            workspace_capping={"daily_quota_gb": cap if cap is not None else -1},
            features={"disable_local_auth": True},
            tags=self._tags,
            opts=self._keep,
        )

    def _app_insights(self, workspace_id: pulumi.Input[str]) -> applicationinsights.Component:
        return applicationinsights.Component(
            f"{self._name}-app-insights",
            resource_name_=self._identity.resource_name("insights"),
            resource_group_name=self._group_name,
            location=self._azure.location,
            kind="web",
            application_type="web",
            ingestion_mode="LogAnalytics",
            workspace_resource_id=workspace_id,
            disable_local_auth=not self._azure.app_insights_local_auth,
            tags=self._tags,
            # Encrypted in the state file too, not only masked in the program.
            opts=pulumi.ResourceOptions.merge(self._keep, pulumi.ResourceOptions(
                additional_secret_outputs=["connectionString", "instrumentationKey"])),
        )

    def _action_group(self) -> monitor.ActionGroup:
        return monitor.ActionGroup(
            f"{self._name}-action-group",
            action_group_name=self._identity.resource_name("alerts"),
            resource_group_name=self._group_name,
            location="global",
            group_short_name=self._azure.action_group_short_name,
            enabled=True,
            email_receivers=[{"name": r.name, "email_address": r.address, "use_common_alert_schema": True}
                             for r in self._azure.email_receivers],
            webhook_receivers=[{"name": r.name, "service_uri": secret_output(r.url), "use_common_alert_schema": True}
                               for r in self._azure.webhook_receivers],
            tags=self._tags,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _platform_alerts(self, component: applicationinsights.Component, workspace_id: pulumi.Input[str]) -> None:
        """The stack-wide alerts on App Insights' platform metrics, the availability tests and the daily cap."""
        alerts = self._azure.alerts
        self._metric_alert("request-duration", "Average server response time above the threshold (ms).",
                           alerts.request_duration, [component.id],
                           metric_criteria("RequestDuration", "requests/duration", "Average",
                                           alerts.request_duration.threshold))
        self._metric_alert("failed-requests", "Failed requests above the threshold in the window.",
                           alerts.failed_requests, [component.id],
                           metric_criteria("FailedRequests", "requests/failed", "Count",
                                           alerts.failed_requests.threshold))
        self._metric_alert("server-exceptions", "Server exceptions above the threshold in the window.",
                           alerts.server_exceptions, [component.id],
                           metric_criteria("ServerExceptions", "exceptions/server", "Count",
                                           alerts.server_exceptions.threshold))
        for test in self._azure.availability_tests:
            web_test = self._availability_test(test, component)
            self._metric_alert(
                f"availability-{test.name}", f"{test.url} failing from too many locations.",
                alerts.availability, [web_test.id, component.id],
                monitor.WebtestLocationAvailabilityCriteriaArgs(
                    odata_type="Microsoft.Azure.Monitor.WebtestLocationAvailabilityCriteria",
                    web_test_id=web_test.id, component_id=component.id,
                    failed_location_count=test.failed_locations))
        if self._azure.daily_cap_gb is not None:
            self._log_alert("daily-cap", "The Log Analytics workspace reached its daily cap; "
                            "telemetry is being dropped until the cap resets.",
                            alerts.daily_cap, workspace_id, {
                                "query": DAILY_CAP_QUERY,
                                "timeAggregation": "Count",
                                "operator": "GreaterThan",
                                "threshold": 0,
                            })

    def _metric_alert(self, what: str, description: str, rule: AlertRule,
                      scopes: Sequence[pulumi.Input[str]], criteria: pulumi.Input) -> monitor.MetricAlert:
        return monitor.MetricAlert(
            f"{self._name}-{what}",
            rule_name=self._identity.resource_name(what),
            resource_group_name=self._group_name,
            location="global",
            description=description,
            severity=rule.severity,
            enabled=True,
            scopes=list(scopes),
            evaluation_frequency=rule.frequency,
            window_size=rule.window,
            criteria=criteria,
            auto_mitigate=True,
            actions=[{"action_group_id": self._action_group_id}],
            tags=self._tags,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _log_alert(self, what: str, description: str, rule: AlertRule,
                   scope: pulumi.Input[str], condition: dict) -> pulumi.CustomResource:
        """`condition`: the criterion's query, aggregation, operator and threshold, as the API names them."""
        return by_type.register(LOG_ALERT, f"{self._name}-{what}", {
            "ruleName": self._identity.resource_name(what),
            "resourceGroupName": self._group_name,
            "location": self._azure.location,
            "kind": "LogAlert",
            "displayName": self._identity.resource_name(what),
            "description": description,
            "severity": rule.severity,
            "enabled": True,
            "scopes": [scope],
            "evaluationFrequency": rule.frequency,
            "windowSize": rule.window,
            "criteria": {"allOf": [{
                **condition,
                "failingPeriods": {"numberOfEvaluationPeriods": 1, "minFailingPeriodsToAlert": 1},
            }]},
            "autoMitigate": True,
            "actions": {"actionGroups": [self._action_group_id]},
            "tags": self._tags,
        }, pulumi.ResourceOptions(parent=self))

    def _service_alert(self, alert: Alert, role: str, scope: pulumi.Input[str]) -> pulumi.CustomResource:
        """A catalogue entry as KQL over the service's requests; it fires when the query returns a row."""
        frequency, window = dialect.schedule(alert)
        rule = AlertRule(threshold=0, severity=dialect.ROUTE_SEVERITY[alert.route], frequency=frequency,
                         window=window)
        return self._log_alert(f"{alert.service}-{alert.slug}", f"{alert.description} Runbook: {alert.runbook_url}",
                               rule, scope, {
                                   "query": dialect.query(alert, role, PROBE_PATHS),
                                   "timeAggregation": "Count",
                                   "operator": "GreaterThan",
                                   "threshold": 0,
                               })

    def _prometheus_workspace(self) -> monitor.AzureMonitorWorkspace:
        """Where the cluster's managed Prometheus addon sends the services' metrics."""
        return monitor.AzureMonitorWorkspace(
            f"{self._name}-prometheus-workspace",
            azure_monitor_workspace_name=self._identity.resource_name("prometheus"),
            resource_group_name=self._group_name,
            tags=self._tags,
            opts=self._keep,
        )

    def _prometheus_rules(self, service: ServiceAlerting, alerts: tuple[Alert, ...], team: str,
                          workspace_id: pulumi.Input[str]) -> None:
        """The entries App Insights cannot measure, as Prometheus rules on the workspace, notifying the action group."""
        by_name = {alert.name: alert for alert in alerts}
        chunks = dialect.prometheus_rule_groups(alerts, service.slo, service.contract, service.namespace, team)
        for index, rules in enumerate(chunks, 1):
            name = f"{alerts[0].service}-prometheus-{index}"
            alertsmanagement.PrometheusRuleGroup(
                f"{self._name}-{name}",
                rule_group_name=self._identity.resource_name(name),
                resource_group_name=self._group_name,
                scopes=[workspace_id],
                interval=iso(prometheus_seconds(promql.EVALUATION_INTERVAL) // 60),
                description=f"{alerts[0].service}: the alerts App Insights' requests cannot measure "
                            f"({index} of {len(chunks)})",
                rules=[self._prometheus_rule(rule, by_name) for rule in rules],
                tags=self._tags,
                opts=pulumi.ResourceOptions(parent=self),
            )

    def _prometheus_rule(self, rule: dict, alerts: Mapping[str, Alert]) -> alertsmanagement.PrometheusRuleArgs:
        if "record" in rule:
            return alertsmanagement.PrometheusRuleArgs(record=rule["record"], expression=rule["expr"],
                                                      labels=rule["labels"])
        alert = alerts[rule["alert"]]
        return alertsmanagement.PrometheusRuleArgs(
            alert=rule["alert"], expression=rule["expr"], labels=rule["labels"], annotations=rule["annotations"],
            for_=iso(alert.hold_minutes) if alert.hold_minutes else None,
            severity=dialect.ROUTE_SEVERITY[alert.route],
            actions=[alertsmanagement.PrometheusRuleGroupActionArgs(action_group_id=self._action_group_id)],
            resolve_configuration=alertsmanagement.PrometheusRuleResolveConfigurationArgs(auto_resolved=True))

    def _availability_test(self, test: AvailabilityTest,
                           component: applicationinsights.Component) -> applicationinsights.WebTest:
        name = self._identity.resource_name(f"availability-{test.name}")
        tags = self._tags
        return applicationinsights.WebTest(
            f"{self._name}-webtest-{test.name}",
            web_test_name=name,
            synthetic_monitor_id=name,
            resource_group_name=self._group_name,
            location=self._azure.location,
            kind="standard",
            web_test_kind="standard",
            enabled=True,
            frequency=test.frequency_seconds,
            timeout=test.timeout_seconds,
            retry_enabled=True,
            locations=[{"location": location} for location in test.locations],
            request={"request_url": test.url, "http_verb": "GET", "parse_dependent_requests": False},
            validation_rules={"expected_http_status_code": 200, "s_sl_check": True,
                              "s_sl_cert_remaining_lifetime_check": 7},
            # Azure links a web test to its App Insights through this tag.
            tags=component.id.apply(lambda component_id: {**tags, f"hidden-link:{component_id}": "Resource"}),
            opts=pulumi.ResourceOptions(parent=self),
        )
