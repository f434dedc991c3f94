"""config.load as the Pulumi CLI drives it: CLI strings decoded by the key's type, every problem at once with its
full key, the stack, the value and what is allowed; unknown keys with a suggestion; secrets kept hidden."""

import json

import pytest

import config
from config.settings import SecretValue
from tests.helpers import NS
from tests.helpers import config as stack_file

BASE = stack_file("minimal")  # only the keys a stack must set


def load(raw: dict[str, str], secret_keys: tuple[str, ...] = (), drop: tuple[str, ...] = ()) -> config.Settings:
    """The fixture's config with `raw` set as the CLI passes values: strings, keyed `<namespace>:<key>`."""
    values = {k: v for k, v in BASE.values.items() if k.split(":", 1)[1] not in drop}
    values.update({key if ":" in key else f"{NS}:{key}": value for key, value in raw.items()})
    return config.load(values, {f"{NS}:{key}" for key in secret_keys}, "dev")


def problems(raw: dict[str, str], secret_keys: tuple[str, ...] = (), drop: tuple[str, ...] = ()) -> list[str]:
    with pytest.raises(config.ConfigError) as error:
        load(raw, secret_keys, drop)
    return error.value.problems


def test_cli_strings_are_decoded_by_the_keys_type():
    settings = load({"azure.retentionDays": "90", "azure.dailyCapGb": "0.5", "azure.appInsightsLocalAuth": "false",
                     "kubernetes.clientNamespaces": '["web","batch"]', "team": "123",
                     "azure.alerts": '{"requestDuration": {"thresholdMs": 800}}'})
    assert (settings.azure.retention_days, settings.azure.daily_cap_gb) == (90, 0.5)
    assert settings.azure.app_insights_local_auth is False
    assert settings.kubernetes.client_namespaces == ("web", "batch")
    assert settings.identity.team == "123"  # a string key keeps the CLI's string, even one that reads as JSON
    assert settings.azure.alerts.request_duration.threshold == 800


def test_every_problem_is_reported_at_once_with_key_stack_value_and_what_is_allowed():
    with pytest.raises(config.ConfigError) as error:
        load({"azure.retentionDays": "7", "azure.appInsightsLocalAuth": '"yes"', "team": "Platform Team"},
             drop=("azure.location",))
    assert sorted(error.value.problems) == [
        f'{NS}:azure.appInsightsLocalAuth = "yes" in stack "dev": must be true or false',
        f'{NS}:azure.location in stack "dev": is required; set it with: pulumi config set azure.location <value>',
        f'{NS}:azure.retentionDays = 7 in stack "dev": must be an integer from 30 to 730',
        f'{NS}:team = "Platform Team" in stack "dev": must be lowercase letters, digits and hyphens, starting and '
        "ending with a letter or digit",
    ]
    assert 'stack "dev" has 4 configuration problem(s); nothing was registered' in str(error.value)


def test_nested_values_keep_their_full_path():
    found = problems({"azure.alerts": json.dumps({"failedRequests": {"severity": "2", "window": 5}})})
    assert found == [
        f'{NS}:azure.alerts.failedRequests.severity = "2" in stack "dev": must be an integer from 0 to 4',
        f'{NS}:azure.alerts.failedRequests.window = 5 in stack "dev": must be one of PT1M, PT5M, PT15M, PT30M, PT1H, '
        "PT6H, PT12H, P1D",
    ]


def test_unknown_keys_are_errors_with_a_suggestion_at_every_depth():
    found = problems({"azure.retentionDay": "30", "azure.alerts": '{"failedRequests": {"sevrity": 1}}'})
    assert any(p.startswith(f'{NS}:azure.retentionDay in stack "dev": unknown key; did you mean azure.retentionDays?')
               for p in found), found
    assert any(p.startswith(f'{NS}:azure.alerts.failedRequests.sevrity in stack "dev": unknown key; did you mean '
                            "azure.alerts.failedRequests.severity?") for p in found), found


def test_other_namespaces_are_reported_but_pulumi_settings_are_fine():
    found = problems({"azure-native:location": "westeurope", "pulumi:disable-default-providers": '["*"]'})
    assert found == [
        'azure-native:location in stack "dev": is not read by this program; azure-native:* config would be ignored']


def test_a_secret_must_come_from_secret_config_and_is_never_printed():
    found = problems({"kubernetes.kubeconfig": "hunter2-plain"})
    assert found == [f'{NS}:kubernetes.kubeconfig in stack "dev": must be set as a secret: '
                     "pulumi config set --secret kubernetes.kubeconfig <value>"]
    settings = load({"kubernetes.kubeconfig": "hunter2-secret"}, secret_keys=("kubernetes.kubeconfig",))
    value = settings.kubernetes.kubeconfig
    assert isinstance(value, SecretValue) and value.reveal() == "hunter2-secret"
    assert "hunter2" not in repr(value) and "hunter2" not in str(value) and "hunter2" not in repr(settings)


def test_problems_inside_a_secret_map_hide_the_value():
    found = problems({"azure.webhookReceivers": '["slack"]',
                      "azure.webhookUrls": '{"slack": "http://hooks.example.com/T0/B0/hunter2"}'},
                     secret_keys=("azure.webhookUrls",))
    assert found == [f'{NS}:azure.webhookUrls.slack = [secret] in stack "dev": must be an https:// URL']


def test_lists_report_bad_and_repeated_items_by_index():
    found = problems({"kubernetes.clientNamespaces": '["web", 3, "web"]'})
    assert found == [f'{NS}:kubernetes.clientNamespaces[1] = 3 in stack "dev": must be a string (quote it in YAML)',
                     f'{NS}:kubernetes.clientNamespaces[2] = "web" in stack "dev": is listed twice']


def test_a_repeat_deep_in_a_list_of_objects_is_reported_by_index_with_the_items_name():
    test = {"name": "health", "url": "https://inference.example.com/health",
            "locations": ["us-va-ash-azr", "emea-nl-ams-azr", "us-va-ash-azr"]}
    found = problems({"azure.availabilityTests": json.dumps([test])})
    assert found == [f'{NS}:azure.availabilityTests[0] (health).locations[2] = "us-va-ash-azr" in stack "dev": '
                     "is listed twice"]


def test_wrong_container_types_are_reported():
    found = problems({"azure.alerts": '["not", "a", "map"]', "kubernetes.clientNamespaces": '{"a": 1}',
                      "prometheus.ruleLabels": '["release"]'})
    assert sorted(found) == [
        f'{NS}:azure.alerts = ["not", "a", "map"] in stack "dev": must be an object (a YAML map)',
        f'{NS}:kubernetes.clientNamespaces = {{"a": 1}} in stack "dev": must be a list',
        f'{NS}:prometheus.ruleLabels = ["release"] in stack "dev": must be a map of strings to strings',
    ]
