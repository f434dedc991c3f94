"""Settings on the fixture stacks in tests/fixtures/stacks: every rule, each bad value naming its key.

`minimal` sets only the keys a stack must set, `platform` is a production stack setting most keys
to something other than their defaults, `alerting` turns Datadog and Alertmanager on, and `gpu`
runs a GPU model server.
"""

import json
import re
from typing import Any

import pytest

import config as stack_settings
from config import ConfigError, limits
from config.settings import AlertRule, ModelCache, Resources, Scheduling
from tests.helpers import NS, config, keyed, load_settings, metric_of, problem_for, problems


def test_a_stack_with_only_the_required_keys_takes_defaults_that_work_together():
    s = load_settings("minimal")
    identity = s.identity
    assert (identity.stack, identity.production, identity.name_prefix, identity.application) == \
        ("minimal", False, "ai", "ai-inference")
    assert identity.resource_name("logs") == "ai-minimal-logs"
    assert dict(identity.tags) == {"environment": "minimal", "service": "ai-inference", "managed-by": "pulumi"}
    azure = s.azure
    assert (azure.retention_days, azure.existing_resource_group) == (30, None)
    assert azure.action_group_short_name == "ai-alerts"
    # The collector's azuremonitor exporter authenticates with the instrumentation key only, and by
    # default exports to every backend the stack sets up: the two defaults agree.
    assert azure.app_insights_local_auth is True
    assert s.collector.exporters == ("azuremonitor", "prometheus")
    assert azure.alerts.request_duration == AlertRule(1000, 2, "PT1M", "PT5M")
    assert azure.alerts.daily_cap == AlertRule(0, 2, "PT1H", "P1D")
    # Each stack gets its own namespace, so stacks can share a cluster.
    assert s.kubernetes.namespace == "ai-inference-minimal"
    assert (s.kubernetes.version, s.kubernetes.context, s.kubernetes.kubeconfig) == ("1.34", None, None)
    assert (s.kubernetes.monitoring_namespaces, s.kubernetes.client_namespaces) == (("monitoring",), ())
    assert (s.collector.image, s.collector.version, s.collector.replicas) == (limits.COLLECTOR_IMAGE,
                                                                             "0.153.0", 2)
    assert (s.datadog.enabled, s.alertmanager.receivers) == (False, {})


def test_stack_values_merge_into_the_defaults_field_by_field():
    s = load_settings("platform")
    assert s.identity.resource_name("logs") == "obs-platform-logs"
    assert dict(s.identity.tags) == {"environment": "platform", "service": "vision", "managed-by": "pulumi",
                                     "cost-center": "cc-42", "owner": "platform"}
    assert s.azure.alerts.request_duration == AlertRule(800, 1, "PT1M", "PT5M")
    assert s.azure.alerts.failed_requests == AlertRule(20, 2, "PT1M", "PT5M")
    assert s.azure.alerts.availability == AlertRule(3, 0, "PT1M", "PT5M")
    assert s.kubernetes.namespace == "vision-platform"
    assert s.collector.resources == Resources("250m", "256Mi", "1", "1Gi")


def test_settings_are_frozen():
    s = load_settings("minimal")
    with pytest.raises(AttributeError):
        s.azure.retention_days = 7  # type: ignore[misc]
    with pytest.raises(TypeError):
        s.identity.tags["environment"] = "prod"  # type: ignore[index]


@pytest.mark.parametrize("key, value, reported_key, allowed", [
    ("azure.retentionDays", 29, "azure.retentionDays", "must be an integer from 30 to 730"),
    ("azure.retentionDays", 731, "azure.retentionDays", "must be an integer from 30 to 730"),
    ("azure.retentionDays", "thirty", "azure.retentionDays", "must be an integer from 30 to 730"),
    ("azure.dailyCapGb", 0, "azure.dailyCapGb", "must be -1 (no cap) or a number of GB greater than 0"),
    ("azure.dailyCapGb", -5, "azure.dailyCapGb", "must be -1 (no cap)"),
    ("azure.actionGroupShortName", "ai-staging-01", "azure.actionGroupShortName",
     "must be at most 12 characters (is 13)"),
    ("azure.subscriptionId", "my-subscription", "azure.subscriptionId", "must be a subscription id"),
    ("azure.location", "West Europe", "azure.location", "must be an Azure region name"),
    ("azure.existingResourceGroup", "rg.", "azure.existingResourceGroup", "not ending in a period"),
    ("azure.appInsightsLocalAuth", "sometimes", "azure.appInsightsLocalAuth", "must be true or false"),
    ("namePrefix", "AI", "namePrefix", "must be 1-16 lowercase letters"),
    ("application", "AI Inference", "application", "must be lowercase letters, digits and hyphens"),
    ("production", "yes", "production", "must be true or false"),
    ("azure.emailReceivers", {"oncall": "oncall.example.com"}, "azure.emailReceivers.oncall",
     "must be an e-mail address"),
    ("azure.alerts", {"requestDuration": {"severity": 5}}, "azure.alerts.requestDuration.severity",
     "must be an integer from 0 to 4"),
    ("azure.alerts", {"failedRequests": {"severity": -1}}, "azure.alerts.failedRequests.severity",
     "must be an integer from 0 to 4"),
    ("azure.alerts", {"requestDuration": {"frequency": "PT2M"}}, "azure.alerts.requestDuration.frequency",
     "must be one of PT1M, PT5M, PT15M, PT30M, PT1H"),
    ("azure.alerts", {"serverExceptions": {"window": "PT2H"}}, "azure.alerts.serverExceptions.window",
     "must be one of PT1M, PT5M, PT15M, PT30M, PT1H, PT6H, PT12H, P1D"),
    ("azure.alerts", {"requestDuration": {"frequency": "PT15M", "window": "PT5M"}},
     "azure.alerts.requestDuration.window", "must be at least the evaluation frequency (PT15M)"),
    ("azure.alerts", {"dailyCap": {"frequency": "PT1M", "window": "P1D"}},
     "azure.alerts.dailyCap.window", "must be at most PT6H when the frequency is PT1M"),
    ("azure.alerts", {"dailyCap": {"frequency": "PT10M", "window": "PT1M"}},
     "azure.alerts.dailyCap.window", "must be at least the evaluation frequency (PT10M)"),
    ("azure.alerts", {"dailyCap": {"window": "P3D"}}, "azure.alerts.dailyCap.window", "must be one of"),
    ("azure.alerts", {"failedRequests": {"threshold": 0}}, "azure.alerts.failedRequests.threshold",
     "must be a number greater than 0"),
    ("azure.alerts", {"p95Duration": {"thresholdMs": 1000}}, "azure.alerts.p95Duration",
     "is no longer read: each service's P95 alert now takes its threshold from services[].slo.latency.p95Seconds"),
    ("azure.alerts", {"dailyCap": {"severity": "high"}}, "azure.alerts.dailyCap.severity",
     "must be an integer from 0 to 4"),
    ("azure.availabilityTests", [{"name": "health", "url": "http://inference.example.com/health"}],
     "azure.availabilityTests[0].url", "must be an https:// URL"),
    ("azure.availabilityTests", [{"name": "health", "url": "https://x.example.com", "frequencySeconds": 60}],
     "azure.availabilityTests[0].frequencySeconds", "must be one of 300, 600, 900"),
    ("azure.availabilityTests", [{"name": "health", "url": "https://x.example.com", "locations": ["mars-1"]}],
     "azure.availabilityTests[0].locations[0]", "must be an availability test location id"),
])
def test_a_bad_value_names_its_key_the_stack_the_value_and_what_is_allowed(key, value, reported_key, allowed):
    problem = problem_for(reported_key, problems("minimal", {key: value}))
    assert 'in stack "minimal": ' in problem
    assert allowed in problem


def test_problems_show_the_bad_value():
    problem = problem_for("azure.retentionDays", problems("minimal", {"azure.retentionDays": 7}))
    assert problem == f'{NS}:azure.retentionDays = 7 in stack "minimal": must be an integer from 30 to 730'


def test_a_required_key_without_default_is_reported_with_how_to_set_it():
    problem = problem_for("azure.subscriptionId", problems("minimal", {"azure.subscriptionId": None}))
    assert "is required; set it with: pulumi config set azure.subscriptionId <value>" in problem


def test_all_problems_are_reported_together():
    found = problems("platform", {"azure.retentionDays": 1, "azure.dailyCapGb": 0,
                                  "azure.actionGroupShortName": "much-too-long-name",
                                  "azure.alerts": {"requestDuration": {"severity": 9}}})
    assert len(found) == 4
    assert all('in stack "platform"' in p for p in found)


def test_unknown_keys_and_other_namespaces_are_errors():
    found = problems("minimal", {"azure.retentionDay": 30, "azure-native:location": "westeurope",
                                 "azure.alerts": {"requestDuraton": {"severity": 2}}})
    assert "unknown key; did you mean azure.retentionDays?" in problem_for("azure.retentionDay", found)
    assert "did you mean azure.alerts.requestDuration?" in problem_for("azure.alerts.requestDuraton", found)
    assert any(p.startswith("azure-native:location ") and "would be ignored" in p for p in found)


def test_reserved_and_malformed_tags_are_refused():
    found = problems("minimal", {"tags": {"service": "other", "a/b": "x", "long": "v" * 257}})
    assert "cannot be overridden" in problem_for("tags.service", found)
    assert "without < > % & \\ ? /" in problem_for("tags.a/b", found)
    assert "must be at most 256 characters" in problem_for("tags.long", found)


def test_the_stack_name_must_fit_resource_names():
    cfg = config("minimal")
    with pytest.raises(ConfigError) as error:
        stack_settings.load(cfg.values, cfg.secret_keys, "Staging_EU")
    assert any(p.startswith('the stack name in stack "Staging_EU": must be lowercase') for p in error.value.problems)


def test_webhook_urls_must_be_secret_https_and_match_the_declared_receivers():
    secret_url = "http://hooks.slack.example.com/services/T000/B000/hunter2"
    found = problems("platform", secrets={"azure.webhookUrls": {"chat": secret_url, "pager": "https://p.example.com",
                                                                "teams": "https://x.example.com"}})
    assert problem_for("azure.webhookUrls.chat", found) == \
        f'{NS}:azure.webhookUrls.chat = [secret] in stack "platform": must be an https:// URL'
    assert 'has a URL for "teams", which azure.webhookReceivers does not list' in \
        problem_for("azure.webhookUrls", found)
    assert not any("hunter2" in p for p in found)

    missing = problems("platform", secrets={"azure.webhookUrls": {"chat": "https://c.example.com"}})
    assert "has no URL for webhook receiver(s) pager" in problem_for("azure.webhookUrls", missing)

    plain = problems("platform", {"azure.webhookUrls": {"chat": "https://hooks.example.com/hunter2"}})
    assert "must be set as a secret: pulumi config set --secret azure.webhookUrls" in \
        problem_for("azure.webhookUrls", plain)
    assert not any("hunter2" in p for p in plain)


def test_webhook_urls_come_through_as_secret_values():
    s = load_settings("platform", secrets={"azure.webhookUrls": {"chat": "https://hooks.example.com/s",
                                                                 "pager": "https://events.example.com/p"}})
    assert [(r.name, r.url.reveal()) for r in s.azure.webhook_receivers] == [
        ("chat", "https://hooks.example.com/s"), ("pager", "https://events.example.com/p")]
    assert "hooks.example.com" not in repr(s)


def test_receivers_must_exist_and_have_unique_names():
    none = problems("minimal", {"azure.emailReceivers": {}, "azure.webhookReceivers": []})
    assert "needs at least one e-mail or webhook receiver" in problem_for("azure.emailReceivers", none)
    clash = problems("platform", {"azure.emailReceivers": {"chat": "team@example.com"}})
    assert "receiver names must be unique" in problem_for("azure.webhookReceivers", clash)
    bad_name = problems("minimal", {"azure.emailReceivers": {"on/call": "oncall@example.com"}})
    assert "must be 1-128 letters" in problem_for("azure.emailReceivers.on/call", bad_name)


def test_availability_alert_cannot_need_more_failing_locations_than_a_test_has():
    found = problems("platform", {"azure.availabilityTests": [
        {"name": "health", "url": "https://x.example.com/health", "locations": ["emea-nl-ams-azr"]}]})
    assert "must not exceed the locations of every availability test (1)" in \
        problem_for("azure.alerts.availability.failedLocations", found)


def test_availability_tests_read_with_azure_recommended_defaults():
    test, = load_settings("platform").azure.availability_tests
    assert (test.name, test.url) == ("api-health", "https://vision.example.com/health")
    assert (test.frequency_seconds, test.timeout_seconds, len(test.locations)) == (300, 30, 5)
    assert set(test.locations) <= set(limits.WEBTEST_LOCATIONS)


def test_no_daily_cap_is_allowed():
    assert load_settings("minimal", {"azure.dailyCapGb": -1}).azure.daily_cap_gb is None


# -- the cluster side ----------------------------------------------------------

SERVICE = {"name": "ai-inference", "image": "registry.example.com/ml/ai-inference:1.4.2",
           "model": {"name": "iris-classifier", "version": "2024-06-01"}}


def with_service(**fields):
    return {"services": [{**SERVICE, **fields}]}


def test_services_read_with_defaults_and_version_from_the_image_tag():
    service, = load_settings("minimal").services
    assert (service.name, service.version, service.model_name, service.model_version) == \
        ("ai-inference", "1.0.0", "classifier", "1")
    assert (service.min_replicas, service.max_replicas, service.autoscaling.target_cpu_utilization) == (2, 6, 70)
    assert (service.http_port, service.metrics_port) == (8080, 8000)
    assert service.resources == Resources("500m", "512Mi", "1", "1Gi")
    assert (service.termination_grace_seconds, service.startup_seconds) == (60, 300)
    assert metric_of(service.metrics, "requests") == "ai_inference_requests_total"
    assert metric_of(service.metrics, "latency") == "ai_inference_latency_seconds"
    assert (service.scheduling, service.env, service.shm_size, service.model_cache) == \
        (Scheduling({}, (), None, None), {}, None, None)


def test_datadog_settings_when_enabled():
    s = load_settings("alerting")
    assert (s.datadog.enabled, s.datadog.site, s.datadog.agent_namespace) == (True, "datadoghq.com", "datadog")
    assert s.collector.exporters == ("azuremonitor", "datadog", "prometheus")
    api_key, app_key = s.datadog.credentials()
    # The render's placeholders, which pass the keys' own checks.
    assert re.fullmatch(r"[0-9a-f]{32}", api_key.reveal()) and re.fullmatch(r"[0-9a-f]{40}", app_key.reveal())
    assert s.datadog.api_url == "https://api.datadoghq.com/"
    assert dict(s.datadog.notify) == {"page": ("@pagerduty-fixture",), "ticket": ("@slack-fixture",)}
    assert dict(s.prometheus.rule_labels) == {"release": "kube-prometheus-stack"}


def test_a_stack_without_datadog_has_no_datadog_credentials():
    with pytest.raises(ValueError, match="no Datadog keys"):
        load_settings("minimal").datadog.credentials()


DIGEST = "@sha256:" + "a" * 64


@pytest.mark.parametrize("stack, image, allowed", [
    ("platform", "registry.example.com/ml/ai-inference:latest", "must be pinned by digest"),
    ("platform", "registry.example.com/ml/ai-inference", "must be pinned by digest"),
    # A version tag is not enough in production: it can be pushed again with other content.
    ("platform", "registry.example.com/ml/ai-inference:1.4.2", "a tag can be moved to other content"),
    ("minimal", "Registry.example.com/ml/ai inference", "must be an image reference"),
])
def test_images_must_be_pinned_by_digest_in_production(stack, image, allowed):
    found = problems(stack, with_service(image=image))
    assert allowed in problem_for("services[0].image", found)
    assert not any(keyed(p).startswith(f"{NS}:services[0].version ") for p in found), "a refused image is reported once"


def test_outside_production_latest_may_run_but_then_needs_an_explicit_version():
    found = problems("minimal", with_service(image="registry.example.com/ml/ai-inference:latest"))
    assert "is required: the image registry.example.com/ml/ai-inference:latest has no tag that names a version" in \
        problem_for("services[0].version", found)
    service, = load_settings("minimal", with_service(image="registry.example.com/ml/ai-inference:latest",
                                                     version="dev-42")).services
    assert service.version == "dev-42"


def test_a_digest_is_pinned_enough_for_production():
    digest = "registry.example.com/ml/ai-inference" + DIGEST
    service, = load_settings("platform", with_service(image=digest, version="1.4.2")).services
    assert service.image == digest


def test_a_tag_beside_the_digest_names_the_version():
    image = "registry.example.com/ml/ai-inference:2.3.4" + DIGEST
    service, = load_settings("platform", with_service(image=image)).services
    assert service.version == "2.3.4"


def test_outside_production_a_version_tag_is_enough():
    service, = load_settings("minimal", with_service(image="registry.example.com/ml/ai-inference:1.4.2")).services
    assert service.version == "1.4.2"


@pytest.mark.parametrize("fields, key, allowed", [
    ({"resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}}, "services[0].resources.limits.cpu",
     "must be at least the CPU request (2)"),
    ({"resources": {"requests": {"memory": "2Gi"}, "limits": {"memory": "1Gi"}}},
     "services[0].resources.limits.memory", "must be at least the memory request (2Gi)"),
    ({"resources": {"requests": {"cpu": "two"}}}, "services[0].resources.requests.cpu", "must be a CPU quantity"),
    ({"resources": {"limits": {"memory": "1GB"}}}, "services[0].resources.limits.memory", "must be a memory quantity"),
    ({"minReplicas": 5, "maxReplicas": 3}, "services[0].minReplicas", "must not exceed maxReplicas (3)"),
    ({"minReplicas": 0}, "services[0].minReplicas", "must be an integer from 1 to 100"),
    ({"ports": {"http": 80}}, "services[0].ports.http", "must be an integer from 1024 to 65535"),
    ({"name": "AI_Inference"}, "services[0].name", "must be a DNS name"),
    ({"model": {"name": "iris"}}, "services[0].model.version", "is required"),
    ({"targetCpuUtilization": 150}, "services[0].targetCpuUtilization", "must be an integer from 10 to 100"),
    ({"metrics": {"requests": "ai_requests"}}, "services[0].metrics.requests",
     "must be a counter name ending in _total"),
    ({"metrics": {"statusLabel": "status-code"}}, "services[0].metrics.statusLabel",
     "must be a Prometheus label name"),
    ({"replicas": 3}, "services[0].replicas", "unknown key"),
])
def test_bad_service_settings_name_their_key(fields, key, allowed):
    assert allowed in problem_for(key, problems("platform", with_service(**fields)))


def test_services_are_required_and_unique():
    assert "list at least one inference service" in problem_for("services", problems("minimal", {"services": None}))
    assert "list at least one inference service" in problem_for("services", problems("minimal", {"services": []}))
    found = problems("minimal", {"services": [SERVICE, SERVICE]})
    assert "service names must be unique" in problem_for("services", found)


@pytest.mark.parametrize("overrides, key, allowed", [
    ({"kubernetes.version": "1.29"}, "kubernetes.version", "must be a Kubernetes release from 1.30"),
    ({"kubernetes.version": "1.99"}, "kubernetes.version", "to 1.37 (the newest it validates them against)"),
    ({"kubernetes.version": "v1.34"}, "kubernetes.version", "must be a Kubernetes minor version like 1.34"),
    ({"kubernetes.version": None}, "kubernetes.version", "is required"),
    ({"kubernetes.namespace": "AI"}, "kubernetes.namespace", "must be lowercase letters"),
    ({"application": "a" * 60}, "kubernetes.namespace",
     "(<application>-<stack>), longer than Kubernetes' 63 characters; set it"),
    ({"kubernetes.monitoringNamespaces": ["Monitoring"]}, "kubernetes.monitoringNamespaces[0]",
     "must be lowercase letters"),
    ({"datadog.site": "datadoghq.org"}, "datadog.site", "must be one of datadoghq.com"),
    ({"collector": {"exporters": ["jaeger"]}}, "collector.exporters[0]",
     "must be one of azuremonitor, datadog, prometheus"),
    ({"collector": {"exporters": []}}, "collector.exporters", "must list at least one backend"),
    ({"collector": {"replicas": 0}}, "collector.replicas", "must be an integer from 1 to 20"),
    ({"collector": {"resources": {"limits": {"memory": "64Mi"}, "requests": {"memory": "64Mi"}}}},
     "collector.resources.limits.memory", "must be at least 128Mi"),
    ({"collector": {"resources": {"limits": {"nvidia.com/gpu": 1}}}}, "collector.resources.limits.nvidia.com/gpu",
     "unknown key"),
    ({"collector": {"image": "otel/opentelemetry-collector-contrib:latest"}}, "collector.image",
     "must be pinned"),
    ({"collector": {"exporters": ["datadog"]}}, "collector.exporters",
     "may list datadog only when datadog.enabled is true"),
    ({"azure.appInsightsLocalAuth": False, "collector": {"exporters": ["azuremonitor"]}}, "collector.exporters",
     "authenticates with the instrumentation key only; set azure.appInsightsLocalAuth to true"),
])
def test_bad_cluster_settings_name_their_key(overrides, key, allowed):
    assert allowed in problem_for(key, problems("platform", overrides))


def test_without_key_auth_the_default_exporters_leave_out_azuremonitor():
    assert load_settings("minimal", {"azure.appInsightsLocalAuth": False}).collector.exporters == ("prometheus",)


def test_the_newest_kubernetes_release_accepted_is_the_newest_the_render_validates_against():
    import kubernetes_validate.utils
    newest = kubernetes_validate.utils.latest_version()
    assert newest.startswith(f"1.{limits.KUBERNETES_MAX_MINOR}.")


def test_datadog_keys_come_from_secret_config():
    cfg = config("alerting")
    values = {k: v for k, v in cfg.values.items() if k != f"{NS}:datadog.apiKey"}
    with pytest.raises(ConfigError) as error:
        stack_settings.load(values, cfg.secret_keys - {f"{NS}:datadog.apiKey"}, "alerting")
    assert "is required when datadog.enabled is true" in problem_for("datadog.apiKey", error.value.problems)
    bad = problems("alerting", secrets={"datadog.apiKey": "not-a-key"})
    assert problem_for("datadog.apiKey", bad) == \
        f'{NS}:datadog.apiKey = [secret] in stack "alerting": must be a Datadog API key: 32 hexadecimal characters'
    plain = problems("alerting", {"datadog.apiKey": "f" * 32})
    assert "must be set as a secret" in problem_for("datadog.apiKey", plain)


# -- GPU model servers ---------------------------------------------------------

def test_a_gpu_service_reads_its_devices_placement_memory_and_cache():
    service, = load_settings("gpu").services
    assert dict(service.resources.extended) == {"nvidia.com/gpu": 1}
    assert dict(service.scheduling.node_selector) == {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"}
    assert [dict(t) for t in service.scheduling.tolerations] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert set(service.scheduling.affinity or {}) == {"nodeAffinity", "podAntiAffinity"}
    assert (service.scheduling.runtime_class_name, service.shm_size, service.startup_seconds) == ("nvidia", "8Gi", 1800)
    assert dict(service.env) == {"VLLM_WORKER_MULTIPROC_METHOD": "spawn", "HF_HUB_OFFLINE": "1"}
    assert service.model_cache == ModelCache("/models", "60Gi", None, False)


GPU: dict[str, Any] = {"name": "llm", "image": "registry.example.com/llm/server:1",
                       "model": {"name": "m", "version": "1"},
                       "resources": {"limits": {"cpu": "8", "memory": "32Gi", "nvidia.com/gpu": 1}}}


@pytest.mark.parametrize("fields, key, allowed", [
    ({"resources": {"limits": {"nvidia.com/gpu": 0}}}, "services[0].resources.limits.nvidia.com/gpu",
     "must be an integer of at least 1"),
    ({"resources": {"limits": {"nvidia.com/gpu": "one"}}}, "services[0].resources.limits.nvidia.com/gpu",
     "must be an integer"),
    ({"resources": {"limits": {"gpu/": 1}}}, "services[0].resources.limits.gpu/",
     "is not an extended resource name like nvidia.com/gpu"),
    ({"resources": {"limits": {"kubernetes.io/gpu": 1}}}, "services[0].resources.limits.kubernetes.io/gpu",
     "outside kubernetes.io"),
    ({"resources": {"requests": {"nvidia.com/gpu": 1}}}, "services[0].resources.requests.nvidia.com/gpu",
     "set nvidia.com/gpu under limits only"),
    ({"resources": {"limits": {"gpus": 1}}}, "services[0].resources.limits.gpus", "unknown key"),
    ({"tolerations": [{"key": "nvidia.com/gpu", "operator": "Exist"}]}, "services[0].tolerations[0].operator",
     "must be one of Exists, Equal"),
    ({"tolerations": [{"key": "a", "operator": "Exists", "value": "b"}]}, "services[0].tolerations[0].value",
     "must be empty: operator Exists matches any value"),
    ({"tolerations": [{"key": "a", "effect": "NoSchedule", "tolerationSeconds": 60}]},
     "services[0].tolerations[0].tolerationSeconds", "applies to effect NoExecute only"),
    ({"tolerations": {"key": "a"}}, "services[0].tolerations", "must be a list"),
    ({"affinity": {"nodeAfinity": {}}}, "services[0].affinity.nodeAfinity",
     "unknown key; did you mean services[0].affinity.nodeAffinity?"),
    ({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {}}}},
     "services[0].affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms",
     "is required"),
    ({"affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 500, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname"}}]}}},
     "services[0].affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight",
     "must be an integer from 1 to 100"),
    ({"nodeSelector": {"gpu type": "a100"}}, "services[0].nodeSelector.gpu type", "must be a Kubernetes label key"),
    ({"runtimeClassName": "NVIDIA"}, "services[0].runtimeClassName", "must be a RuntimeClass name like nvidia"),
    ({"env": {"OTEL_SERVICE_NAME": "other"}}, "services[0].env.OTEL_SERVICE_NAME", "is set by the program"),
    ({"env": {"2FAST": "x"}}, "services[0].env.2FAST", "must be an environment variable name"),
    ({"env": {"WORKERS": 4}}, "services[0].env.WORKERS", "must be a string"),
    ({"shmSize": "64Gi"}, "services[0].shmSize",
     "must fit in the memory limit (32Gi): a memory-backed /dev/shm counts against it"),
    ({"modelCache": {"mountPath": "/models"}}, "services[0].modelCache",
     "must set exactly one of sizeLimit (an emptyDir of that size) or claimName"),
    ({"modelCache": {"mountPath": "/tmp", "sizeLimit": "10Gi"}}, "services[0].modelCache.mountPath", "is taken"),
    ({"modelCache": {"mountPath": "models", "claimName": "weights"}}, "services[0].modelCache.mountPath",
     "must be an absolute path"),
    ({"modelCache": {"mountPath": "/models", "sizeLimit": "10Gi", "readOnly": True}},
     "services[0].modelCache.readOnly", "needs claimName"),
    ({"startupSeconds": 5 * 3600}, "services[0].startupSeconds", "must be an integer from 10 to 14400"),
])
def test_bad_gpu_service_settings_name_their_key(fields, key, allowed):
    service = {**GPU, **fields}
    if "resources" in fields:
        limits = {**GPU["resources"]["limits"], **fields["resources"].get("limits", {})}
        service["resources"] = {**fields["resources"], "limits": limits}
    assert allowed in problem_for(key, problems("gpu", {"services": [service]}))


def test_a_model_cache_can_be_an_existing_claim_mounted_read_only():
    service = {**GPU, "modelCache": {"mountPath": "/models", "claimName": "llama-weights", "readOnly": True}}
    loaded, = load_settings("gpu", {"services": [service]}).services
    assert loaded.model_cache == ModelCache("/models", None, "llama-weights", True)


# -- SLOs ------------------------------------------------------------------------

def test_slo_settings_read_with_the_seeds_defaults():
    service, = load_settings("minimal").services
    objective = service.slo
    assert (objective.objective.target, objective.objective.period_days) == (0.99, 30)
    assert (objective.error_rate, objective.p95_seconds, objective.p99_seconds) == (0.05, 1.0, 5.0)
    assert (objective.cost_per_hour, objective.tokens_per_hour) == (100.0, 5_000_000)
    assert dict(objective.routing) == {"critical": "page", "warning": "ticket"}


@pytest.mark.parametrize("slo, key, allowed", [
    ({"availability": 1}, "services[0].slo.availability", "must be a number greater than 0 and less than 1"),
    ({"availability": 1.5}, "services[0].slo.availability", "less than 1"),
    ({"availability": 0}, "services[0].slo.availability", "greater than 0"),
    # 1/14.4: the 30-day policy's fastest window needs the budget under 6.94%.
    ({"availability": 0.9}, "services[0].slo.availability",
     "leaves a 10% error budget, too large for the 30d policy's 1h-5m page window: its 14.4x burn rate "
     "would need 144% bad events to fire; use a target above 93.0555555556%"),
    ({"availability": 0.95, "period": "90d"}, "services[0].slo.availability", "its 21.6x burn rate would need 108%"),
    ({"period": "14d"}, "services[0].slo.period", "must be one of 7d, 30d, 90d"),
    ({"period": 30}, "services[0].slo.period", "must be one of 7d, 30d, 90d"),
    ({"latency": {"p99Seconds": 7}}, "services[0].slo.latency.p99Seconds",
     "must be a bucket boundary of ai_inference_latency_seconds (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, "
     "5, 10, 30, 60 seconds)"),
    ({"latency": {"p95Seconds": 2, "p99Seconds": 1}}, "services[0].slo.latency.p99Seconds",
     "must be at least the P95 threshold (2s)"),
    ({"latency": {"p95Seconds": 0}}, "services[0].slo.latency.p95Seconds", "greater than 0"),
    ({"routing": {"critical": "sms"}}, "services[0].slo.routing.critical", "must be one of page, ticket"),
    ({"routing": {"urgent": "page"}}, "services[0].slo.routing.urgent", "is not a severity"),
    ({"errorRate": 5}, "services[0].slo.errorRate", "less than 1"),
    ({"costPerHour": -1}, "services[0].slo.costPerHour", "greater than 0"),
    ({"availabilty": 0.99}, "services[0].slo.availabilty", "did you mean services[0].slo.availability?"),
])
def test_bad_slo_settings_name_their_key(slo, key, allowed):
    assert allowed in problem_for(key, problems("minimal", with_service(slo=slo)))


def test_a_problem_with_a_service_names_the_service():
    found = problems("alerting", {"services": [*json.loads(config("alerting").values[f"{NS}:services"]), {
        "name": "embeddings", "image": "registry.example.com/ml/e5:1.0.0", "model": {"name": "e5", "version": "1"},
        "slo": {"latency": {"p95Seconds": 0}}}]})
    assert problem_for("services[2].slo.latency.p95Seconds", found).startswith(
        f"{NS}:services[2] (embeddings).slo.latency.p95Seconds = 0 in stack \"alerting\":")


@pytest.mark.parametrize("overrides, secrets, key, allowed", [
    ({"datadog.notify": {"ticket": ["@slack-ai"]}}, None, "datadog.notify.page",
     "must list at least one handle: services[0] (chat) sends its critical alerts to page; services[1] (scorer) "
     "sends its critical alerts to page (slo.routing, by default critical: page, warning: ticket); add a Datadog "
     "handle here"),
    ({"datadog.notify": {"page": ["pagerduty"], "ticket": ["@slack-ai"]}}, None, "datadog.notify.page[0]",
     "must be a Datadog handle"),
    ({"team": "ML Platform"}, None, "team", "must be lowercase letters"),
    ({"runbookBaseUrl": "http://runbooks.example.com"}, None, "runbookBaseUrl", "must be an https:// URL"),
    ({"prometheus.ruleLabels": {"release": "kube prometheus"}}, None, "prometheus.ruleLabels.release",
     "must be at most 63 letters"),
    ({}, {"datadog.appKey": "abc"}, "datadog.appKey", "must be a Datadog application key: 40 hexadecimal characters"),
])
def test_bad_alerting_settings_name_their_key(overrides, secrets, key, allowed):
    assert allowed in problem_for(key, problems("alerting", overrides, secrets))


# -- Alertmanager, the latency histogram, Datadog percentiles (on the alerting fixture) --------

PAGERDUTY_KEY = "a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f6"


@pytest.mark.parametrize("overrides, secrets, key, allowed", [
    ({"alertmanager.receivers": {"page": "sms", "ticket": "webhook"}}, None, "alertmanager.receivers.page",
     "must be one of slack, pagerduty, webhook"),
    ({"alertmanager.receivers": {"urgent": "slack"}}, None, "alertmanager.receivers.urgent",
     "is not a route; routes are page, ticket"),
    ({"alertmanager.receivers": {"ticket": "slack"}}, None, "alertmanager.receivers.page",
     "is required: services[0] (chat) sends its critical alerts to page; services[1] (scorer) sends its critical "
     "alerts to page (slo.routing, by default critical: page, warning: ticket), and they would reach no one; name a "
     "receiver here, or route them elsewhere with their slo.routing"),
    ({}, {"alertmanager.credentials": {"page": "short", "ticket": "https://hooks.example.com/x"}},
     "alertmanager.credentials.page", "must be a PagerDuty Events API v2 integration key: 32 letters and digits"),
    ({}, {"alertmanager.credentials": {"page": PAGERDUTY_KEY, "ticket": "http://hooks.example.com/x"}},
     "alertmanager.credentials.ticket", "must be an https:// URL"),
    ({}, {"alertmanager.credentials": {"page": PAGERDUTY_KEY}}, "alertmanager.credentials",
     "has nothing for the ticket receiver; set the whole map with: "
     "pulumi config set --secret alertmanager.credentials"),
    ({}, {"alertmanager.credentials": {"page": PAGERDUTY_KEY, "ticket": "https://h.example.com/x",
                                       "chat": "https://h.example.com/y"}},
     "alertmanager.credentials", 'has a credential for "chat", which alertmanager.receivers does not list'),
])
def test_alertmanager_settings_name_their_key(overrides, secrets, key, allowed):
    assert allowed in problem_for(key, problems("alerting", overrides, secrets))


def test_alertmanager_credentials_are_secret_and_never_printed():
    found = problems("alerting", {"alertmanager.credentials": {"page": "leaked-key", "ticket": "https://x.example.com"}})
    assert any("must be set as a secret: pulumi config set --secret alertmanager.credentials" in p for p in found)
    found = problems("alerting", secrets={"alertmanager.credentials": {"page": "leaked-key", "ticket": "x"}})
    assert not any("leaked-key" in p for p in found)


def test_without_receivers_there_is_no_alertmanager_routing_and_nothing_to_set():
    s = load_settings("alerting", {"alertmanager.receivers": None})
    assert dict(s.alertmanager.receivers) == {} and dict(s.alertmanager.credentials) == {}


@pytest.mark.parametrize("buckets, allowed", [
    ([1, 0.5, 2], "must list the histogram's finite upper bounds (its le labels), ascending and each once"),
    ([0.5, 0.5, 2], "ascending and each once"),
    ([], "ascending and each once"),
])
def test_latency_buckets_must_ascend(buckets, allowed):
    service = {"name": "s", "image": "registry.example.com/s:1", "model": {"name": "m", "version": "1"},
               "metrics": {"latencyBuckets": buckets}}
    assert allowed in problem_for("services[0].metrics.latencyBuckets", problems("alerting", {"services": [service]}))


def test_a_latency_objective_must_be_one_of_the_services_own_buckets():
    def service(p95, p99):
        return {"name": "s", "image": "registry.example.com/s:1", "model": {"name": "m", "version": "1"},
                "metrics": {"latencyBuckets": [0.1, 0.5, 1]},
                "slo": {"latency": {"p95Seconds": p95, "p99Seconds": p99}}}
    said = problem_for("services[0].slo.latency.p99Seconds", problems("alerting", {"services": [service(0.5, 0.75)]}))
    assert "must be a bucket boundary of ai_inference_latency_seconds (0.1, 0.5, 1 seconds)" in said
    # The top bucket is a boundary: requests slower than it are the +Inf bucket's, however slow.
    assert load_settings("alerting", {"services": [service(0.5, 1)]}).services[0].slo.p99_seconds == 1


def test_one_stack_of_an_organization_manages_the_latency_percentiles():
    assert load_settings("alerting").datadog.manage_latency_percentiles is True
    assert load_settings("alerting", {"datadog.manageLatencyPercentiles": False}).datadog.manage_latency_percentiles \
        is False
