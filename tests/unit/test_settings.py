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
    assert azure.app_insights_local_auth is False
    assert azure.action_group_short_name == "ai-staging"
    assert [(r.name, r.address) for r in azure.email_receivers] == [("platform-team", "ml-platform-staging@example.com")]
    assert [r.name for r in azure.webhook_receivers] == ["slack"]
    # Stack overrides merge into the defaults field by field.
    assert azure.alerts.request_duration == stack_settings.AlertRule(1500, 3, "PT1M", "PT5M")
    assert azure.alerts.p95_duration == stack_settings.AlertRule(2000, 3, "PT5M", "PT15M")
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
    ("azure.alerts", {"p95Duration": {"frequency": "PT1M", "window": "P1D"}},
     "azure.alerts.p95Duration.window", "must be at most PT6H when the frequency is PT1M"),
    ("azure.alerts", {"p95Duration": {"frequency": "PT10M", "window": "PT1M"}},
     "azure.alerts.p95Duration.window", "must be at least the evaluation frequency (PT10M)"),
    ("azure.alerts", {"p95Duration": {"window": "P3D"}}, "azure.alerts.p95Duration.window", "must be one of"),
    ("azure.alerts", {"p95Duration": {"thresholdMs": 0}}, "azure.alerts.p95Duration.thresholdMs",
     "must be a number greater than 0"),
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
