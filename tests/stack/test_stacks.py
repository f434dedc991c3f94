"""The whole program for each real stack file, and how prod and staging differ."""

import pytest

from tests.helpers import STACKS, program_plan, stack_plan

AZURE_PROVIDER = "pulumi:providers:azure-native"


def azure_resources(plan):
    return [r for r in plan.resources if r.type.startswith("azure-native:")]


@pytest.mark.parametrize("stack", STACKS)
def test_the_real_stack_file_runs_under_the_real_project_name(stack):
    plan = stack_plan(stack)
    assert (plan.project, plan.stack) == ("ai-observability", stack)
    assert all(r.urn.startswith(f"urn:pulumi:{stack}::ai-observability::") for r in plan.resources)


@pytest.mark.parametrize("stack", STACKS)
def test_every_azure_resource_is_present(stack):
    names = {r.name for r in stack_plan(stack).resources}
    expected = {"azure-monitoring-group", "azure-monitoring-workspace", "azure-monitoring-app-insights",
                "azure-monitoring-action-group", "azure-monitoring-request-duration",
                "azure-monitoring-failed-requests", "azure-monitoring-server-exceptions",
                "azure-monitoring-daily-cap"}
    assert expected <= names


@pytest.mark.parametrize("stack", STACKS)
def test_azure_resources_use_the_explicit_provider_from_the_stack_settings(stack):
    plan = stack_plan(stack)
    provider = plan.one(AZURE_PROVIDER)
    assert provider.inputs["subscriptionId"] == plan.one("azure-native:resources:ResourceGroup").id.split("/")[2]
    assert provider.inputs["location"] == "westeurope"
    assert {r.provider for r in azure_resources(plan)} == {provider.urn}


@pytest.mark.parametrize("stack", STACKS)
def test_inputs_reach_the_engine_in_camel_case(stack):
    """A dict the SDK could not type (a union) would reach the provider with snake_case keys."""
    def keys(value, path):
        if isinstance(value, dict):
            for key, item in value.items():
                if key != "tags":
                    yield from keys(item, f"{path}.{key}")
                yield f"{path}.{key}", key
        elif isinstance(value, list):
            for index, item in enumerate(value):
                yield from keys(item, f"{path}[{index}]")
    checked = [r for r in stack_plan(stack).resources if r.type.startswith(("azure-native:", "datadog:"))]
    assert any(r.type.startswith("datadog:") for r in checked)
    for resource in checked:
        bad = [path for path, key in keys(resource.inputs, resource.name) if "_" in key and not path.endswith(".tags")]
        assert bad == []


@pytest.mark.parametrize("stack", STACKS)
def test_stack_outputs_are_wired_and_secrets_stay_secret(stack):
    plan = stack_plan(stack)
    assert plan.outputs["workspaceId"] == plan.one("azure-native:operationalinsights:Workspace").id
    assert plan.outputs["actionGroupId"] == plan.one("azure-native:monitor:ActionGroup").id
    assert plan.outputs["appInsightsConnectionString"] == "[secret]"
    assert plan.outputs["appInsightsInstrumentationKey"] == "[secret]"
    assert plan.raw_outputs["appInsightsConnectionString"].startswith("InstrumentationKey=")


def inputs(stack, name):
    return next(r.inputs for r in stack_plan(stack).resources if r.name == name)


def test_prod_keeps_more_data_and_allows_more_ingestion():
    staging, prod = (inputs(s, "azure-monitoring-workspace") for s in STACKS)
    assert (staging["retentionInDays"], prod["retentionInDays"]) == (30, 90)
    assert (staging["workspaceCapping"]["dailyQuotaGb"], prod["workspaceCapping"]["dailyQuotaGb"]) == (2, 20)


def test_prod_pages_with_higher_severity_and_the_seed_thresholds():
    for alert, staging_threshold, prod_threshold in [("azure-monitoring-request-duration", 1500, 1000),
                                                     ("azure-monitoring-failed-requests", 25, 10)]:
        staging, prod = (inputs(s, alert) for s in STACKS)
        assert (staging["severity"], prod["severity"]) == (3, 1)
        assert staging["criteria"]["allOf"][0]["threshold"] == staging_threshold
        assert prod["criteria"]["allOf"][0]["threshold"] == prod_threshold


def test_prod_notifies_on_call_and_pagerduty_staging_only_the_team():
    staging, prod = (inputs(s, "azure-monitoring-action-group") for s in STACKS)
    assert [r["name"] for r in staging["emailReceivers"]] == ["platform-team"]
    assert [r["name"] for r in prod["emailReceivers"]] == ["oncall", "platform-team"]
    assert [r["name"] for r in staging["webhookReceivers"]] == ["slack"]
    assert [r["name"] for r in prod["webhookReceivers"]] == ["slack", "pagerduty"]


def test_only_prod_is_protected_and_has_an_availability_test():
    staging, prod = (stack_plan(s) for s in STACKS)
    assert not any(r.protect for r in staging.resources)
    assert {r.name for r in prod.resources if r.protect} == {
        "azure-monitoring-group", "azure-monitoring-workspace", "azure-monitoring-app-insights"}
    assert staging.of_type("azure-native:applicationinsights:WebTest") == []
    assert len(prod.of_type("azure-native:applicationinsights:WebTest")) == 1


# -- the cluster side ----------------------------------------------------------

def kubernetes_objects(plan):
    return [r for r in plan.resources if r.type.startswith("kubernetes:")]


@pytest.mark.parametrize("stack", STACKS)
def test_app_insights_connection_string_flows_into_the_kubernetes_secret(stack):
    plan = stack_plan(stack)
    secret = plan.one("kubernetes:core/v1:Secret", "workloads-telemetry-credentials")
    assert secret.inputs["stringData"]["appinsights-connection-string"] == "[secret]"
    assert secret.raw_inputs["stringData"]["appinsights-connection-string"] == \
        plan.raw_outputs["appInsightsConnectionString"]


@pytest.mark.parametrize("stack", STACKS)
def test_kubernetes_objects_use_the_explicit_provider_from_the_stack_settings(stack):
    plan = stack_plan(stack)
    provider = plan.one("pulumi:providers:kubernetes")
    assert provider.inputs["context"] == f"aks-ai-{stack}"
    assert provider.inputs["namespace"] == "ai-inference"
    assert {r.provider for r in kubernetes_objects(plan)} == {provider.urn}
    assert plan.outputs["collectorOtlpEndpoint"] == "http://otel-collector.ai-inference.svc.cluster.local:4317"


def spec(stack, type_, name):
    return stack_plan(stack).one(type_, name).inputs["spec"]


def test_prod_runs_more_and_larger_inference_pods_and_collectors():
    staging, prod = (spec(s, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "ai-inference-hpa") for s in STACKS)
    assert (staging["minReplicas"], staging["maxReplicas"]) == (2, 4)
    assert (prod["minReplicas"], prod["maxReplicas"]) == (3, 12)
    staging, prod = (spec(s, "kubernetes:apps/v1:Deployment", "ai-inference-deployment")
                     ["template"]["spec"]["containers"][0]["resources"] for s in STACKS)
    assert staging == {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}
    assert prod == {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "2Gi"}}
    staging, prod = (spec(s, "kubernetes:apps/v1:Deployment", "otel-collector-deployment") for s in STACKS)
    assert (staging["replicas"], prod["replicas"]) == (2, 3)


def test_each_stack_targets_its_own_kubernetes_version():
    versions = [stack_plan(s).one("kubernetes:core/v1:Namespace").inputs["metadata"]["labels"]
                ["pod-security.kubernetes.io/enforce-version"] for s in STACKS]
    assert versions == ["v1.35", "v1.34"]


def test_a_kubeconfig_from_secret_config_stays_secret_on_the_provider():
    kubeconfig = "apiVersion: v1\nkind: Config\nclusters: []\nusers: [{name: ci, user: {token: s3cr3t-token}}]\n"
    plan = program_plan("staging", secrets={"kubernetes.kubeconfig": kubeconfig})
    provider = plan.one("pulumi:providers:kubernetes")
    assert provider.inputs["kubeconfig"] == "[secret]"
    assert kubeconfig in plan.secret_values()
