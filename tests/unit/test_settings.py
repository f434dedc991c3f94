"""Settings from the real stack files, and every rule with a bad value naming its key."""

import pytest

from components import settings as stack_settings
from components.config_reader import SettingsError
from tests.helpers import NS, config, load_settings, problem_for, problems


def test_staging_reads_into_typed_settings_with_defaults_filled_in():
    s = load_settings("staging")
    assert (s.stack, s.production, s.name_prefix, s.application) == ("staging", False, "ai", "ai-inference")
    assert s.resource_name("logs") == "ai-staging-logs"
    assert dict(s.tags) == {"environment": "staging", "service": "ai-inference", "managed-by": "pulumi",
                            "cost-center": "ml-1234", "owner": "ml-platform"}
    azure = s.azure
    assert azure.retention_days == 30 and azure.daily_cap_gb == 2.0
    assert azure.existing_resource_group is None
    assert azure.app_insights_local_auth is True  # the collector's azuremonitor exporter needs it
    assert azure.action_group_short_name == "ai-staging"
    assert [(r.name, r.address) for r in azure.email_receivers] == [("platform-team", "ml-platform-staging@example.com")]
    assert [r.name for r in azure.webhook_receivers] == ["slack"]
    # Stack overrides merge into the defaults field by field.
    assert azure.alerts.request_duration == stack_settings.AlertRule(1500, 3, "PT1M", "PT5M")
    assert azure.alerts.daily_cap == stack_settings.AlertRule(0, 3, "PT1H", "P1D")
    assert azure.availability_tests == ()


def test_settings_are_frozen():
    s = load_settings("staging")
    with pytest.raises(AttributeError):
        s.azure.retention_days = 7
    with pytest.raises(TypeError):
        s.tags["environment"] = "prod"


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
    problem = problem_for(reported_key, problems("staging", {key: value}))
    assert f'in stack "staging": ' in problem
    assert allowed in problem


def test_problems_show_the_bad_value():
    problem = problem_for("azure.retentionDays", problems("staging", {"azure.retentionDays": 7}))
    assert problem == f'{NS}:azure.retentionDays = 7 in stack "staging": must be an integer from 30 to 730'


def test_a_required_key_without_default_is_reported_with_how_to_set_it():
    problem = problem_for("azure.subscriptionId", problems("staging", {"azure.subscriptionId": None}))
    assert "is required; set it with: pulumi config set azure.subscriptionId <value>" in problem


def test_all_problems_are_reported_together():
    found = problems("prod", {"azure.retentionDays": 1, "azure.dailyCapGb": 0,
                              "azure.actionGroupShortName": "much-too-long-name",
                              "azure.alerts": {"requestDuration": {"severity": 9}}})
    assert len(found) == 4
    assert all('in stack "prod"' in p for p in found)


def test_unknown_keys_and_other_namespaces_are_errors():
    found = problems("staging", {"azure.retentionDay": 30, "azure-native:location": "westeurope",
                                 "azure.alerts": {"requestDuraton": {"severity": 2}}})
    assert "unknown key; did you mean azure.retentionDays?" in problem_for("azure.retentionDay", found)
    assert "did you mean azure.alerts.requestDuration?" in problem_for("azure.alerts.requestDuraton", found)
    assert any(p.startswith("azure-native:location ") and "would be ignored" in p for p in found)


def test_reserved_and_malformed_tags_are_refused():
    found = problems("staging", {"tags": {"service": "other", "a/b": "x", "long": "v" * 257}})
    assert "cannot be overridden" in problem_for("tags.service", found)
    assert "without < > % & \\ ? /" in problem_for("tags.a/b", found)
    assert "must be at most 256 characters" in problem_for("tags.long", found)


def test_the_stack_name_must_fit_resource_names():
    cfg = config("staging")
    with pytest.raises(SettingsError) as error:
        stack_settings.load(cfg.values, cfg.secret_keys, "Staging_EU")
    assert any(p.startswith('the stack name in stack "Staging_EU": must be lowercase') for p in error.value.problems)


def test_webhook_urls_must_be_secret_https_and_match_the_declared_receivers():
    secret_url = "http://hooks.slack.example.com/services/T000/B000/hunter2"
    found = problems("staging", secrets={"azure.webhookUrls": {"slack": secret_url, "teams": "https://x.example.com"}})
    assert problem_for("azure.webhookUrls.slack", found) == \
        f'{NS}:azure.webhookUrls.slack = [secret] in stack "staging": must be an https:// URL'
    assert 'has a URL for "teams", which azure.webhookReceivers does not list' in \
        problem_for("azure.webhookUrls", found)
    assert not any("hunter2" in p for p in found)

    missing = problems("staging", secrets={"azure.webhookUrls": {}})
    assert "has no URL for webhook receiver(s) slack" in problem_for("azure.webhookUrls", missing)

    plain = problems("staging", {"azure.webhookUrls": {"slack": "https://hooks.example.com/hunter2"}})
    assert "must be set as a secret: pulumi config set --secret azure.webhookUrls" in \
        problem_for("azure.webhookUrls", plain)
    assert not any("hunter2" in p for p in plain)


def test_webhook_urls_come_through_as_secret_values():
    s = load_settings("prod", secrets={"azure.webhookUrls": {"slack": "https://hooks.example.com/s",
                                                             "pagerduty": "https://events.example.com/p"}})
    assert [(r.name, r.url.reveal()) for r in s.azure.webhook_receivers] == [
        ("slack", "https://hooks.example.com/s"), ("pagerduty", "https://events.example.com/p")]
    assert "hooks.example.com" not in repr(s)


def test_receivers_must_exist_and_have_unique_names():
    none = problems("staging", {"azure.emailReceivers": {}, "azure.webhookReceivers": []})
    assert "needs at least one e-mail or webhook receiver" in problem_for("azure.emailReceivers", none)
    clash = problems("staging", {"azure.emailReceivers": {"slack": "team@example.com"}})
    assert "receiver names must be unique" in problem_for("azure.webhookReceivers", clash)
    bad_name = problems("staging", {"azure.emailReceivers": {"on/call": "oncall@example.com"}})
    assert "must be 1-128 letters" in problem_for("azure.emailReceivers.on/call", bad_name)


def test_availability_alert_cannot_need_more_failing_locations_than_a_test_has():
    found = problems("prod", {"azure.availabilityTests": [
        {"name": "health", "url": "https://x.example.com/health", "locations": ["emea-nl-ams-azr"]}]})
    assert "must not exceed the locations of every availability test (1)" in \
        problem_for("azure.alerts.availability.failedLocations", found)


def test_availability_tests_read_with_azure_recommended_defaults():
    test, = load_settings("prod").azure.availability_tests
    assert (test.name, test.url) == ("inference-health", "https://inference.example.com/health")
    assert (test.frequency_seconds, test.timeout_seconds, len(test.locations)) == (300, 30, 5)
    assert set(test.locations) <= set(stack_settings.WEBTEST_LOCATIONS)


def test_no_daily_cap_is_allowed():
    assert load_settings("staging", {"azure.dailyCapGb": -1}).azure.daily_cap_gb is None


# -- the cluster side ----------------------------------------------------------

SERVICE = {"name": "ai-inference", "image": "registry.example.com/ml/ai-inference:1.4.2",
           "model": {"name": "iris-classifier", "version": "2024-06-01"}}


def with_service(**fields):
    return {"services": [{**SERVICE, **fields}]}


def test_services_read_with_defaults_and_version_from_the_image_tag():
    service, = load_settings("staging").services
    assert (service.name, service.version, service.model_name, service.model_version) == \
        ("ai-inference", "1.4.2", "iris-classifier", "2024-06-01")
    assert (service.min_replicas, service.max_replicas, service.target_cpu_utilization) == (2, 4, 70)
    assert (service.http_port, service.metrics_port) == (8080, 8000)
    assert service.resources == stack_settings.Resources("500m", "512Mi", "1", "1Gi")
    assert (service.termination_grace_seconds, service.startup_seconds) == (60, 300)
    assert service.metrics.requests == "ai_inference_requests_total"
    assert service.metrics.latency == "ai_inference_latency_seconds"


def test_kubernetes_collector_and_datadog_settings():
    s = load_settings("staging")
    assert (s.kubernetes.version, s.kubernetes.namespace, s.kubernetes.context) == ("1.35", "ai-inference", "aks-ai-staging")
    assert s.kubernetes.kubeconfig is None
    assert (s.kubernetes.monitoring_namespaces, s.kubernetes.client_namespaces) == (("monitoring",), ("ingress-nginx",))
    assert (s.collector.image, s.collector.version) == (stack_settings.COLLECTOR_IMAGE, "0.153.0")
    assert s.collector.exporters == ("azuremonitor", "datadog", "prometheus")
    assert (s.datadog.enabled, s.datadog.site, s.datadog.agent_namespace) == (True, "datadoghq.eu", "datadog")
    assert s.datadog.api_key.reveal() == "0" * 32  # the render's placeholder


@pytest.mark.parametrize("stack, image, allowed", [
    ("prod", "registry.example.com/ml/ai-inference:latest", "must be pinned to a version tag or a digest"),
    ("prod", "registry.example.com/ml/ai-inference", "must be pinned to a version tag or a digest"),
    ("staging", "Registry.example.com/ml/ai inference", "must be an image reference"),
])
def test_images_must_be_pinned_in_prod(stack, image, allowed):
    found = problems(stack, with_service(image=image))
    assert allowed in problem_for("services[0].image", found)


def test_staging_may_run_latest_but_then_needs_an_explicit_version():
    found = problems("staging", with_service(image="registry.example.com/ml/ai-inference:latest"))
    assert "is required" in problem_for("services[0].version", found)
    service, = load_settings("staging", with_service(image="registry.example.com/ml/ai-inference:latest",
                                                     version="dev-42", slo={"routing": {"critical": "ticket"}})).services
    assert service.version == "dev-42"


def test_a_digest_is_pinned_enough_for_prod():
    digest = "registry.example.com/ml/ai-inference@sha256:" + "a" * 64
    service, = load_settings("prod", with_service(image=digest, version="1.4.2")).services
    assert service.image == digest


@pytest.mark.parametrize("fields, key, allowed", [
    ({"resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}}, "services[0].resources.limits.cpu",
     "must be at least the CPU request (2)"),
    ({"resources": {"requests": {"memory": "2Gi"}, "limits": {"memory": "1Gi"}}},
     "services[0].resources.limits.memory", "must be at least the memory request (2Gi)"),
    ({"resources": {"requests": {"cpu": "two"}}}, "services[0].resources.requests.cpu", "must be a CPU quantity"),
    ({"resources": {"limits": {"memory": "1GB"}}}, "services[0].resources.limits.memory", "must be a memory quantity"),
    ({"minReplicas": 5, "maxReplicas": 3}, "services[0].minReplicas", "must not exceed maxReplicas (3)"),
    ({"minReplicas": 0}, "services[0].minReplicas", "must be an integer from 1 to 100"),
    ({"ports": {"http": 8000, "metrics": 8000}}, "services[0].ports.metrics",
     "clashes with the http port (8000); the two container ports must differ"),
    ({"ports": {"http": 80}}, "services[0].ports.http", "must be an integer from 1024 to 65535"),
    ({"name": "AI_Inference"}, "services[0].name", "must be a DNS name"),
    ({"model": {"name": "iris"}}, "services[0].model.version", "is required"),
    ({"targetCpuUtilization": 150}, "services[0].targetCpuUtilization", "must be an integer from 10 to 100"),
    ({"metrics": {"requests": "ai_requests"}}, "services[0].metrics.requests", "must be a counter name ending in _total"),
    ({"metrics": {"statusLabel": "status-code"}}, "services[0].metrics.statusLabel", "must be a Prometheus label name"),
    ({"replicas": 3}, "services[0].replicas", "unknown key"),
])
def test_bad_service_settings_name_their_key(fields, key, allowed):
    assert allowed in problem_for(key, problems("prod", with_service(**fields)))


def test_services_are_required_and_unique():
    assert "list at least one inference service" in problem_for("services", problems("staging", {"services": None}))
    assert "list at least one inference service" in problem_for("services", problems("staging", {"services": []}))
    found = problems("staging", {"services": [SERVICE, SERVICE]})
    assert "service names must be unique" in problem_for("services", found)


@pytest.mark.parametrize("overrides, key, allowed", [
    ({"kubernetes.version": "1.29"}, "kubernetes.version", "must be 1.30 or later"),
    ({"kubernetes.version": "v1.34"}, "kubernetes.version", "must be a Kubernetes minor version like 1.34"),
    ({"kubernetes.version": None}, "kubernetes.version", "is required"),
    ({"kubernetes.namespace": "AI"}, "kubernetes.namespace", "must be lowercase letters"),
    ({"kubernetes.monitoringNamespaces": ["Monitoring"]}, "kubernetes.monitoringNamespaces[0]",
     "must be lowercase letters"),
    ({"datadog.site": "datadoghq.org"}, "datadog.site", "must be one of datadoghq.com"),
    ({"collector": {"exporters": ["jaeger"]}}, "collector.exporters[0]",
     "must be one of azuremonitor, datadog, prometheus"),
    ({"collector": {"exporters": []}}, "collector.exporters", "must list at least one backend"),
    ({"collector": {"replicas": 0}}, "collector.replicas", "must be an integer from 1 to 20"),
    ({"collector": {"resources": {"limits": {"memory": "64Mi"}, "requests": {"memory": "64Mi"}}}},
     "collector.resources.limits.memory", "must be at least 128Mi"),
    ({"collector": {"image": "otel/opentelemetry-collector-contrib:latest"}}, "collector.image",
     "must be pinned"),
    ({"datadog.enabled": False}, "collector.exporters", "may list datadog only when datadog.enabled is true"),
    ({"azure.appInsightsLocalAuth": False}, "collector.exporters",
     "authenticates with the instrumentation key only; set azure.appInsightsLocalAuth to true"),
])
def test_bad_cluster_settings_name_their_key(overrides, key, allowed):
    assert allowed in problem_for(key, problems("prod", overrides))


def test_datadog_keys_come_from_secret_config():
    cfg = config("staging")
    values = {k: v for k, v in cfg.values.items() if k != f"{NS}:datadog.apiKey"}
    with pytest.raises(SettingsError) as error:
        stack_settings.load(values, cfg.secret_keys - {f"{NS}:datadog.apiKey"}, "staging")
    assert "is required when datadog.enabled is true" in problem_for("datadog.apiKey", error.value.problems)
    bad = problems("staging", secrets={"datadog.apiKey": "not-a-key"})
    assert problem_for("datadog.apiKey", bad) == \
        f'{NS}:datadog.apiKey = [secret] in stack "staging": must be a Datadog API key: 32 hexadecimal characters'
    plain = problems("staging", {"datadog.apiKey": "f" * 32})
    assert "must be set as a secret" in problem_for("datadog.apiKey", plain)


# -- SLOs and alerting ---------------------------------------------------------

def test_slo_settings_read_with_the_seeds_defaults():
    service, = load_settings("prod", with_service()).services
    objective = service.slo
    assert (objective.objective.target, objective.objective.period_days) == (0.99, 30)
    assert (objective.error_rate, objective.p95_seconds, objective.p99_seconds) == (0.05, 1.0, 5.0)
    assert (objective.cost_per_hour, objective.tokens_per_hour) == (100.0, 5_000_000)
    assert dict(objective.routing) == {"critical": "page", "warning": "ticket"}


def test_stacks_route_differently():
    assert dict(load_settings("staging").services[0].slo.routing) == {"critical": "ticket", "warning": "ticket"}
    assert dict(load_settings("prod").services[0].slo.routing) == {"critical": "page", "warning": "ticket"}
    assert load_settings("staging").services[0].slo.cost_per_hour == 20


def test_alerting_settings():
    s = load_settings("prod")
    assert (s.team, s.runbook("AIInferenceNoRequests")) == (
        "ml-platform", "https://runbooks.example.com/ai-inference/AIInferenceNoRequests")
    assert dict(s.prometheus.rule_labels) == {"release": "kube-prometheus-stack"}
    assert dict(s.datadog.notify) == {"page": ("@pagerduty-ai-inference",), "ticket": ("@slack-ai-inference-alerts",)}
    assert s.datadog.api_url == "https://api.datadoghq.eu/"
    assert s.datadog.app_key.reveal() == "0" * 40


@pytest.mark.parametrize("slo, key, allowed", [
    ({"availability": 1}, "services[0].slo.availability", "must be a number greater than 0 and less than 1"),
    ({"availability": 1.5}, "services[0].slo.availability", "less than 1"),
    ({"availability": 0}, "services[0].slo.availability", "greater than 0"),
    # 1/14.4: the 30-day policy's fastest window needs the budget under 6.94%.
    ({"availability": 0.9}, "services[0].slo.availability",
     "leaves a 10% error budget, too large for the 30d policy's 1h-5m page window: its 14.4x burn rate "
     "would need 144% errors to fire; use a target above 93.0555555556%"),
    ({"availability": 0.95, "period": "90d"}, "services[0].slo.availability", "its 21.6x burn rate would need 108%"),
    ({"period": "14d"}, "services[0].slo.period", "must be one of 7d, 30d, 90d"),
    ({"period": 30}, "services[0].slo.period", "must be one of 7d, 30d, 90d"),
    ({"latency": {"p99Seconds": 60}}, "services[0].slo.latency.p99Seconds",
     "must be below the histogram's top bucket (60s): histogram_quantile never reports more"),
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
    assert allowed in problem_for(key, problems("prod", with_service(slo=slo)))


@pytest.mark.parametrize("overrides, secrets, key, allowed", [
    ({"datadog.notify": {"ticket": ["@slack-ai"]}}, None, "datadog.notify.page",
     "must list at least one handle: alerts route to page"),
    ({"datadog.notify": {"page": ["pagerduty"], "ticket": ["@slack-ai"]}}, None, "datadog.notify.page[0]",
     "must be a Datadog handle"),
    ({"team": "ML Platform"}, None, "team", "must be lowercase letters"),
    ({"runbookBaseUrl": "http://runbooks.example.com"}, None, "runbookBaseUrl", "must be an https:// URL"),
    ({"prometheus.ruleLabels": {"release": "kube prometheus"}}, None, "prometheus.ruleLabels.release",
     "must be at most 63 letters"),
    ({}, {"datadog.appKey": "abc"}, "datadog.appKey", "must be a Datadog application key: 40 hexadecimal characters"),
])
def test_bad_alerting_settings_name_their_key(overrides, secrets, key, allowed):
    assert allowed in problem_for(key, problems("prod", overrides, secrets))


def test_a_stack_without_datadog_needs_no_datadog_keys_or_handles():
    s = load_settings("staging", {"datadog.enabled": False, "datadog.notify": None,
                                  "collector": {"exporters": ["azuremonitor", "prometheus"]}})
    assert s.datadog.enabled is False


# -- Alertmanager, the latency histogram, Datadog percentiles (on the alerting fixture) --------

PAGERDUTY_KEY = "a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f6"


@pytest.mark.parametrize("overrides, secrets, key, allowed", [
    ({"alertmanager.receivers": {"page": "sms", "ticket": "webhook"}}, None, "alertmanager.receivers.page",
     "must be one of slack, pagerduty, webhook"),
    ({"alertmanager.receivers": {"urgent": "slack"}}, None, "alertmanager.receivers.urgent",
     "is not a route; routes are page, ticket"),
    ({"alertmanager.receivers": {"ticket": "slack"}}, None, "alertmanager.receivers.page",
     "is required: alerts route to page and would reach no one"),
    ({}, {"alertmanager.credentials": {"page": "short", "ticket": "https://hooks.example.com/x"}},
     "alertmanager.credentials.page", "must be a PagerDuty Events API v2 integration key: 32 letters and digits"),
    ({}, {"alertmanager.credentials": {"page": PAGERDUTY_KEY, "ticket": "http://hooks.example.com/x"}},
     "alertmanager.credentials.ticket", "must be an https:// URL"),
    ({}, {"alertmanager.credentials": {"page": PAGERDUTY_KEY}}, "alertmanager.credentials",
     "has nothing for the ticket receiver; set the whole map with: pulumi config set --secret alertmanager.credentials"),
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


def test_a_latency_objective_must_sit_below_the_services_own_top_bucket():
    service = {"name": "s", "image": "registry.example.com/s:1", "model": {"name": "m", "version": "1"},
               "metrics": {"latencyBuckets": [0.1, 0.5, 1]}, "slo": {"latency": {"p95Seconds": 0.5, "p99Seconds": 1}}}
    assert "must be below the histogram's top bucket (1s)" in problem_for(
        "services[0].slo.latency.p99Seconds", problems("alerting", {"services": [service]}))


def test_one_stack_of_an_organization_manages_the_latency_percentiles():
    assert load_settings("alerting").datadog.manage_latency_percentiles is True
    assert load_settings("alerting", {"datadog.manageLatencyPercentiles": False}).datadog.manage_latency_percentiles \
        is False
