"""AzureMonitoring under mocks: the values that matter and the wiring between resources."""

import pulumi
import pytest

from components.azure_monitoring import (
    APP_INSIGHTS_METRICS,
    DAILY_CAP_QUERY,
    AzureMonitoring,
    AzureMonitoringArgs,
    metric_criteria,
)
from tests.helpers import run_component

WORKSPACE = "azure-native:operationalinsights:Workspace"
COMPONENT = "azure-native:applicationinsights:Component"
ACTION_GROUP = "azure-native:monitor:ActionGroup"
METRIC_ALERT = "azure-native:monitor:MetricAlert"
LOG_ALERT = "azure-native:monitor:ScheduledQueryRule"
WEB_TEST = "azure-native:applicationinsights:WebTest"
GROUP = "azure-native:resources:ResourceGroup"

HOOKS = {"chat": "https://hooks.slack.example.com/services/T0/B0/abcdefgh",
         "pager": "https://events.pagerduty.example.com/integration/0123456789/enqueue"}


def azure_plan(stack="minimal", overrides=None, export=False):
    """`minimal` takes every default; `platform` is a production stack setting the rest."""
    def build(settings):
        # The services' alerts are test_alerting's: here the stack's own resources.
        args = AzureMonitoringArgs(identity=settings.identity, azure=settings.azure, services=())
        azure = AzureMonitoring("azure-monitoring", args)
        if export:
            pulumi.export("connectionString", azure.connection_string)
            pulumi.export("instrumentationKey", azure.instrumentation_key)
    secrets = {"azure.webhookUrls": HOOKS} if stack == "platform" else None
    return run_component(build, stack, overrides, secrets)


@pytest.fixture(scope="module")
def minimal():
    return azure_plan("minimal")


@pytest.fixture(scope="module")
def platform():
    return azure_plan("platform")


def test_workspace_is_per_gb_with_retention_cap_and_no_local_auth(minimal, platform):
    workspace = minimal.one(WORKSPACE).inputs
    assert workspace["workspaceName"] == "ai-minimal-logs"
    assert workspace["sku"] == {"name": "PerGB2018"}
    assert workspace["retentionInDays"] == 30
    assert workspace["workspaceCapping"] == {"dailyQuotaGb": 1}
    assert platform.one(WORKSPACE).inputs["retentionInDays"] == 60
    assert workspace["features"] == {"disableLocalAuth": True}
    assert workspace["location"] == "westeurope"


def test_app_insights_is_workspace_based_web(minimal):
    component = minimal.one(COMPONENT).inputs
    assert component["workspaceResourceId"] == minimal.one(WORKSPACE).id
    assert (component["kind"], component["applicationType"], component["ingestionMode"]) == \
        ("web", "web", "LogAnalytics")
    assert component["resourceName"] == "ai-minimal-insights"


def test_key_ingestion_is_on_by_default_for_the_collector_and_off_when_settings_say_so(minimal):
    assert minimal.one(COMPONENT).inputs["disableLocalAuth"] is False
    without_key_auth = azure_plan("minimal", {"azure.appInsightsLocalAuth": False})
    assert without_key_auth.one(COMPONENT).inputs["disableLocalAuth"] is True


def test_action_group_has_the_receivers_with_the_common_schema_and_hidden_webhook_urls(platform):
    group = platform.one(ACTION_GROUP)
    inputs = group.inputs
    assert (inputs["groupShortName"], inputs["enabled"], inputs["location"]) == ("vision-ops", True, "global")
    assert inputs["emailReceivers"] == [
        {"name": "oncall", "emailAddress": "oncall@example.com", "useCommonAlertSchema": True},
        {"name": "team", "emailAddress": "team@example.com", "useCommonAlertSchema": True}]
    assert inputs["webhookReceivers"] == [
        {"name": "chat", "serviceUri": "[secret]", "useCommonAlertSchema": True},
        {"name": "pager", "serviceUri": "[secret]", "useCommonAlertSchema": True}]
    assert [hook["serviceUri"] for hook in group.raw_inputs["webhookReceivers"]] == [HOOKS["chat"], HOOKS["pager"]]
    assert group.secret_paths == ("webhookReceivers[0].serviceUri", "webhookReceivers[1].serviceUri")


@pytest.mark.parametrize("name, metric, aggregation, threshold, severity", [
    # The seeds' thresholds, the defaults: average response time over 1 s, 10 failures, 10 exceptions.
    ("azure-monitoring-request-duration", "requests/duration", "Average", 1000, 2),
    ("azure-monitoring-failed-requests", "requests/failed", "Count", 10, 2),
    ("azure-monitoring-server-exceptions", "exceptions/server", "Count", 10, 2),
])
def test_metric_alerts_watch_app_insights_and_notify_the_action_group(
        minimal, name, metric, aggregation, threshold, severity):
    alert = minimal.one(METRIC_ALERT, name).inputs
    assert alert["scopes"] == [minimal.one(COMPONENT).id]
    assert alert["actions"] == [{"actionGroupId": minimal.one(ACTION_GROUP).id}]
    criterion, = alert["criteria"]["allOf"]
    assert alert["criteria"]["odataType"] == "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria"
    assert (criterion["metricName"], criterion["timeAggregation"], criterion["threshold"]) == \
        (metric, aggregation, threshold)
    assert criterion["metricNamespace"] == "microsoft.insights/components"
    assert criterion["operator"] == "GreaterThan"
    assert (alert["severity"], alert["evaluationFrequency"], alert["windowSize"]) == (severity, "PT1M", "PT5M")
    assert alert["location"] == "global" and alert["enabled"] is True


def test_metric_alerts_use_only_metrics_and_aggregations_app_insights_offers(platform):
    for alert in platform.of_type(METRIC_ALERT):
        for criterion in alert.inputs["criteria"].get("allOf", []):
            assert criterion["timeAggregation"] in APP_INSIGHTS_METRICS[criterion["metricName"]]


def test_a_percentile_of_request_duration_is_refused():
    with pytest.raises(ValueError, match="App Insights offers no Percentile95 of requests/duration"):
        metric_criteria("P95", "requests/duration", "Percentile95", 1000)


def test_daily_cap_alert_watches_the_workspace(minimal):
    alert = minimal.one(LOG_ALERT, "azure-monitoring-daily-cap").inputs
    assert alert["scopes"] == [minimal.one(WORKSPACE).id]
    assert alert["actions"] == {"actionGroups": [minimal.one(ACTION_GROUP).id]}
    condition, = alert["criteria"]["allOf"]
    assert condition["query"] == DAILY_CAP_QUERY
    assert (condition["timeAggregation"], condition["operator"], condition["threshold"]) == ("Count", "GreaterThan", 0)
    assert (alert["evaluationFrequency"], alert["windowSize"], alert["severity"]) == ("PT1H", "P1D", 2)


def test_without_a_daily_cap_there_is_no_daily_cap_alert():
    plan = azure_plan("minimal", {"azure.dailyCapGb": -1})
    assert plan.one(WORKSPACE).inputs["workspaceCapping"] == {"dailyQuotaGb": -1}
    assert plan.of_type(LOG_ALERT) == []


def test_availability_test_is_linked_to_app_insights_and_alerted_on(platform):
    web_test = platform.one(WEB_TEST)
    component_id = platform.one(COMPONENT).id
    assert web_test.inputs["tags"][f"hidden-link:{component_id}"] == "Resource"
    assert web_test.inputs["request"] == {"requestUrl": "https://vision.example.com/health",
                                          "httpVerb": "GET", "parseDependentRequests": False}
    assert (web_test.inputs["kind"], web_test.inputs["webTestKind"], web_test.inputs["frequency"]) == \
        ("standard", "standard", 300)
    assert len(web_test.inputs["locations"]) == 5
    alert = platform.one(METRIC_ALERT, "azure-monitoring-availability-api-health").inputs
    assert alert["scopes"] == [web_test.id, component_id]
    assert alert["criteria"] == {"odataType": "Microsoft.Azure.Monitor.WebtestLocationAvailabilityCriteria",
                                 "webTestId": web_test.id, "componentId": component_id, "failedLocationCount": 3}
    assert alert["severity"] == 0
    assert alert["actions"] == [{"actionGroupId": platform.one(ACTION_GROUP).id}]


@pytest.mark.parametrize("locations", [
    ["emea-nl-ams-azr", "emea-gb-db3-azr", "emea-fr-pra-edge", "us-va-ash-azr", "us-ca-sjc-azr"],
    ["emea-nl-ams-azr", "emea-gb-db3-azr", "emea-fr-pra-edge"],
    ["emea-nl-ams-azr", "emea-gb-db3-azr"],
])
def test_an_availability_alert_waits_for_all_locations_but_two_by_default(locations):
    """Microsoft's guidance (azure-monitor/app/availability, "Alert location threshold"): alert location threshold =
    number of test locations - 2, so one region's blip does not fire it; at least one location."""
    plan = azure_plan("minimal", {"azure.availabilityTests": [
        {"name": "health", "url": "https://x.example.com/health", "locations": locations}]})
    criteria = plan.one(METRIC_ALERT, "azure-monitoring-availability-health").inputs["criteria"]
    assert criteria["failedLocationCount"] == {5: 3, 3: 1, 2: 1}[len(locations)]


def test_no_availability_tests_means_no_web_tests(minimal):
    assert minimal.of_type(WEB_TEST) == []


def test_every_azure_resource_carries_the_uniform_tags(platform):
    for resource in platform.resources:
        if resource.type.startswith("azure-native:"):
            tags = resource.inputs["tags"]
            assert {k: tags[k] for k in ("environment", "service", "managed-by", "cost-center")} == {
                "environment": "platform", "service": "vision", "managed-by": "pulumi",
                "cost-center": "cc-42"}, resource.name


def test_only_production_protects_the_stateful_resources(minimal, platform):
    stateful = {GROUP, WORKSPACE, COMPONENT}
    assert {r.type for r in platform.resources if r.protect} == stateful
    assert not any(r.protect for r in minimal.resources)


def test_resources_live_in_the_created_group(minimal):
    group = minimal.one(GROUP).inputs
    assert group["resourceGroupName"] == "ai-minimal-rg"
    for resource in minimal.resources:
        if resource.type.startswith("azure-native:") and resource.type != GROUP:
            assert resource.inputs["resourceGroupName"] == "ai-minimal-rg"


def test_an_existing_resource_group_is_used_not_created():
    plan = azure_plan("minimal", {"azure.existingResourceGroup": "platform-shared-rg"})
    assert plan.of_type(GROUP) == []
    assert plan.one(WORKSPACE).inputs["resourceGroupName"] == "platform-shared-rg"
    assert plan.one(ACTION_GROUP).inputs["resourceGroupName"] == "platform-shared-rg"


def test_connection_string_and_instrumentation_key_are_secret_outputs():
    plan = azure_plan("minimal", export=True)
    assert plan.outputs == {"connectionString": "[secret]", "instrumentationKey": "[secret]"}
    key = plan.raw_outputs["instrumentationKey"]
    assert plan.raw_outputs["connectionString"].startswith(f"InstrumentationKey={key};")
