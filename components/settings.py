"""Stack config -> frozen, typed settings. Every check on config lives here.

Top-level scalar keys are declared, typed and defaulted in Pulumi.yaml (the CLI
applies those defaults, and so does the offline render). Fields inside object
keys (alert rules, receivers, tests) are defaulted and checked here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Iterable, Mapping, Optional
from urllib.parse import urlparse

from components.config_reader import ConfigReader, SecretValue, Section
from components.durations import iso_minutes

PROJECT = "ai-observability"

# Azure's own limits (Microsoft.Insights metricAlerts / scheduledQueryRules, Log Analytics).
METRIC_ALERT_FREQUENCIES = ("PT1M", "PT5M", "PT15M", "PT30M", "PT1H")
METRIC_ALERT_WINDOWS = ("PT1M", "PT5M", "PT15M", "PT30M", "PT1H", "PT6H", "PT12H", "P1D")
LOG_ALERT_FREQUENCIES = ("PT1M", "PT5M", "PT10M", "PT15M", "PT30M", "PT45M",
                         "PT1H", "PT2H", "PT3H", "PT4H", "PT5H", "PT6H", "P1D")
LOG_ALERT_WINDOWS = ("PT1M", "PT5M", "PT10M", "PT15M", "PT30M", "PT45M",
                     "PT1H", "PT2H", "PT3H", "PT4H", "PT5H", "PT6H", "P1D", "P2D")
RETENTION_DAYS = (30, 730)
SEVERITIES = (0, 4)
ACTION_GROUP_SHORT_NAME_MAX = 12
WEBTEST_FREQUENCIES = (300, 600, 900)
WEBTEST_LOCATIONS = (
    "us-il-ch1-azr", "us-ca-sjc-azr", "us-tx-sn1-azr", "us-va-ash-azr", "us-fl-mia-edge",
    "apac-sg-sin-azr", "emea-se-sto-edge", "emea-ru-msa-edge", "emea-nl-ams-azr",
    "apac-jp-kaw-edge", "emea-gb-db3-azr", "apac-hk-hkn-azr", "emea-fr-pra-edge",
    "emea-ch-zrh-edge", "latam-br-gru-edge", "emea-au-syd-edge",
)
RESERVED_TAGS = ("environment", "service", "managed-by")

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS_LABEL_HINT = "must be lowercase letters, digits and hyphens, starting and ending with a letter or digit"
RECEIVER_NAME = r"[A-Za-z0-9][A-Za-z0-9 _-]{0,127}"
EMAIL = r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}"


# -- settings objects ------------------------------------------------------


@dataclass(frozen=True)
class AlertRule:
    """An Azure alert rule's tunables. `threshold` is in the unit the rule documents."""

    threshold: float
    severity: int
    frequency: str
    window: str


@dataclass(frozen=True)
class AzureAlerts:
    request_duration: AlertRule  # average server response time, ms (metric alert)
    failed_requests: AlertRule  # failed request count (metric alert)
    server_exceptions: AlertRule  # server exception count (metric alert)
    availability: AlertRule  # failed test locations (metric alert per availability test)
    p95_duration: AlertRule  # P95 server response time, ms (log alert)
    daily_cap: AlertRule  # workspace hit its daily cap (log alert; fires on any occurrence)


@dataclass(frozen=True)
class EmailReceiver:
    name: str
    address: str


@dataclass(frozen=True)
class WebhookReceiver:
    name: str
    url: SecretValue


@dataclass(frozen=True)
class AvailabilityTest:
    name: str
    url: str
    frequency_seconds: int
    timeout_seconds: int
    locations: tuple[str, ...]


@dataclass(frozen=True)
class AzureSettings:
    subscription_id: str
    location: str
    existing_resource_group: Optional[str]
    retention_days: int
    daily_cap_gb: Optional[float]  # None: no cap
    app_insights_local_auth: bool
    action_group_short_name: str
    email_receivers: tuple[EmailReceiver, ...]
    webhook_receivers: tuple[WebhookReceiver, ...]
    availability_tests: tuple[AvailabilityTest, ...]
    alerts: AzureAlerts


@dataclass(frozen=True)
class Settings:
    project: str
    stack: str
    production: bool
    name_prefix: str
    application: str
    tags: Mapping[str, str]  # every Azure tag: the uniform three plus the stack's extras
    azure: AzureSettings

    def resource_name(self, what: str) -> str:
        """Physical names follow one pattern, e.g. ai-staging-logs."""
        return f"{self.name_prefix}-{self.stack}-{what}"


# -- reading ---------------------------------------------------------------


def load(values: Mapping[str, str], secret_keys: Iterable[str], stack: str,
         project: str = PROJECT) -> Settings:
    """Reads and checks the whole stack config; raises SettingsError listing every problem."""
    # Providers are explicit resources configured from our own keys, so e.g. azure-native:location
    # would be silently ignored; the reader reports every namespace but ours and pulumi:.
    reader = ConfigReader(project, stack, values, secret_keys)
    settings = read(reader)
    reader.finish()
    return settings


def read(reader: ConfigReader) -> Settings:
    """Settings from `reader`, whose problems the caller raises with `reader.finish()`."""
    root = reader.root
    stack = reader.stack
    if not re.fullmatch(DNS_LABEL, stack):
        reader.report_other("the stack name", "must be lowercase letters, digits and hyphens; "
                            "it is part of resource names and the environment tag")

    name_prefix = root.text("namePrefix", pattern=r"[a-z][a-z0-9-]{0,14}[a-z0-9]|[a-z]",
                            hint="must be 1-16 lowercase letters, digits or hyphens, starting with a letter")
    application = root.text("application", pattern=DNS_LABEL, max_length=63, hint=DNS_LABEL_HINT)
    extra_tags = root.mapping("tags", key=_tag_key, value=_tag_value)
    tags = {"environment": stack, "service": application or "", "managed-by": "pulumi", **extra_tags}
    if len(tags) > 50:
        root.report("tags", extra_tags, "Azure allows at most 50 tags per resource, including the 3 reserved ones")

    return Settings(
        project=reader.namespace,
        stack=stack,
        production=root.boolean("production"),
        name_prefix=name_prefix,
        application=application,
        tags=MappingProxyType(tags),
        azure=_azure(root),
    )


def _azure(root: Section) -> AzureSettings:
    existing_group = root.text("azure.existingResourceGroup", pattern=r"[-\w.()]{0,89}[-\w()]|",
                               hint="must be a resource group name: up to 90 letters, digits, "
                                    "- _ . ( ), not ending in a period")
    daily_cap = root.number("azure.dailyCapGb", check=_daily_cap)
    short_name = root.text("azure.actionGroupShortName", max_length=ACTION_GROUP_SHORT_NAME_MAX,
                           pattern=r"[A-Za-z0-9][A-Za-z0-9 _-]*",
                           hint="must be letters, digits, spaces, hyphens or underscores")
    emails = root.mapping("azure.emailReceivers", key=_receiver_name, value=_email)
    webhooks = _webhooks(root)
    names = list(emails) + [hook.name for hook in webhooks]
    for name in {n for n in names if names.count(n) > 1}:
        root.report("azure.webhookReceivers", name,
                    "receiver names must be unique across e-mail and webhook receivers")
    if not emails and not webhooks:
        root.report("azure.emailReceivers", {}, "the action group needs at least one e-mail or webhook receiver")
    alerts = _azure_alerts(root.section("azure.alerts"))
    tests = _availability_tests(root)
    fewest_locations = min((len(test.locations) for test in tests), default=None)
    if fewest_locations is not None and alerts.availability.threshold > fewest_locations:
        root.report("azure.alerts.availability.failedLocations", alerts.availability.threshold,
                    f"must not exceed the locations of every availability test ({fewest_locations})")
    return AzureSettings(
        subscription_id=root.text("azure.subscriptionId", pattern=UUID,
                                  hint="must be a subscription id: a lowercase GUID like "
                                       "00000000-0000-0000-0000-000000000000"),
        location=root.text("azure.location", pattern=r"[a-z][a-z0-9]+",
                           hint="must be an Azure region name like westeurope or eastus2"),
        existing_resource_group=existing_group or None,
        retention_days=root.integer("azure.retentionDays", minimum=RETENTION_DAYS[0], maximum=RETENTION_DAYS[1]),
        daily_cap_gb=None if daily_cap in (None, -1) else daily_cap,
        app_insights_local_auth=root.boolean("azure.appInsightsLocalAuth"),
        action_group_short_name=short_name,
        email_receivers=tuple(EmailReceiver(name, address) for name, address in emails.items()),
        webhook_receivers=webhooks,
        availability_tests=tests,
        alerts=alerts,
    )


def _webhooks(root: Section) -> tuple[WebhookReceiver, ...]:
    """Names are plain config (reviewable); each URL comes from the secret azure.webhookUrls."""
    names = root.text_list("azure.webhookReceivers", item=_receiver_name)
    how = ("pulumi config set --secret azure.webhookUrls '{"
           + ", ".join(f'"{name}": "https://…"' for name in names or ["slack"]) + "}'")
    if not root.has("azure.webhookUrls"):
        root.secret("azure.webhookUrls")
        if names:
            root.reader.report_key("azure.webhookUrls", f"is required for webhook receivers {', '.join(names)}; "
                                   f"set it with: {how}")
        return ()
    urls = root.secret_mapping("azure.webhookUrls", value=_https_url)
    if urls is None:
        return ()  # already reported: not a secret, or not a map
    missing = [name for name in names if name not in urls]
    if missing:
        root.reader.report_key("azure.webhookUrls", f"has no URL for webhook receiver(s) {', '.join(missing)}; "
                               f"set the whole map with: {how}")
    for name in urls:
        if name not in names:
            root.reader.report_key("azure.webhookUrls",
                                   f'has a URL for "{name}", which azure.webhookReceivers does not list')
    return tuple(WebhookReceiver(name, urls[name]) for name in names if name in urls)


def _availability_tests(root: Section) -> tuple[AvailabilityTest, ...]:
    tests = []
    for test in root.sections("azure.availabilityTests"):
        frequency = test.integer("frequencySeconds", 300,
                                 check=lambda v: None if v in WEBTEST_FREQUENCIES
                                 else "must be one of 300, 600, 900")
        timeout = test.integer("timeoutSeconds", 30, minimum=5, maximum=120)
        locations = test.text_list(
            "locations", ("emea-nl-ams-azr", "emea-gb-db3-azr", "emea-fr-pra-edge",
                          "us-va-ash-azr", "us-ca-sjc-azr"),
            item=lambda v: None if v in WEBTEST_LOCATIONS else
            f"must be an availability test location id: {', '.join(WEBTEST_LOCATIONS)}")
        if len(locations) < 1:
            test.report("locations", list(locations), "must list at least one location (Azure recommends five)")
        tests.append(AvailabilityTest(
            name=test.text("name", pattern=DNS_LABEL, max_length=40, hint=DNS_LABEL_HINT),
            url=test.text("url", check=_https_url),
            frequency_seconds=frequency,
            timeout_seconds=timeout,
            locations=locations,
        ))
    names = [t.name for t in tests]
    if len(set(names)) != len(names):
        root.report("azure.availabilityTests", names, "test names must be unique")
    return tuple(tests)


# Defaults follow the seeds: average response time above 1 s, P95 under 1 s, AMBA's daily cap rule.
_ALERT_DEFAULTS = {
    "requestDuration": ("thresholdMs", 1000, 2, "PT1M", "PT5M"),
    "failedRequests": ("threshold", 10, 2, "PT1M", "PT5M"),
    "serverExceptions": ("threshold", 10, 2, "PT1M", "PT5M"),
    "availability": ("failedLocations", 2, 1, "PT1M", "PT5M"),
    "p95Duration": ("thresholdMs", 1000, 2, "PT5M", "PT15M"),
    "dailyCap": (None, 0, 2, "PT1H", "P1D"),
}
_LOG_ALERTS = ("p95Duration", "dailyCap")


def _azure_alerts(alerts: Section) -> AzureAlerts:
    rules = {name: _alert_rule(alerts.section(name), name) for name in _ALERT_DEFAULTS}
    return AzureAlerts(
        request_duration=rules["requestDuration"],
        failed_requests=rules["failedRequests"],
        server_exceptions=rules["serverExceptions"],
        availability=rules["availability"],
        p95_duration=rules["p95Duration"],
        daily_cap=rules["dailyCap"],
    )


def _alert_rule(rule: Section, name: str) -> AlertRule:
    threshold_key, threshold, severity, frequency, window = _ALERT_DEFAULTS[name]
    is_log = name in _LOG_ALERTS
    frequencies = LOG_ALERT_FREQUENCIES if is_log else METRIC_ALERT_FREQUENCIES
    windows = LOG_ALERT_WINDOWS if is_log else METRIC_ALERT_WINDOWS
    if threshold_key == "failedLocations":
        threshold = rule.integer(threshold_key, threshold, minimum=1)
    elif threshold_key:
        threshold = rule.number(threshold_key, threshold, above=0)
    severity = rule.integer("severity", severity, minimum=SEVERITIES[0], maximum=SEVERITIES[1])
    frequency = rule.text("frequency", frequency, choices=frequencies)
    window = rule.text("window", window, choices=windows)
    if iso_minutes(window) < iso_minutes(frequency):
        rule.report("window", window, f"must be at least the evaluation frequency ({frequency})")
    elif is_log and frequency == "PT1M" and iso_minutes(window) > 360:
        rule.report("window", window, "must be at most PT6H when the frequency is PT1M")
    elif is_log and frequency != "PT1M" and window == "PT1M":
        rule.report("window", window, "may be PT1M only when the frequency is PT1M")
    return AlertRule(threshold=threshold, severity=severity, frequency=frequency, window=window)


# -- the offline render's stand-ins for secrets a stack file cannot hold --------------


def placeholder_secrets(values: Mapping[str, str], project: str = PROJECT) -> dict[str, str]:
    """A harmless value, valid for the checks above, for each secret this config needs."""
    names = json.loads(values.get(f"{project}:azure.webhookReceivers", "[]") or "[]")
    placeholders = {}
    if isinstance(names, list) and names:
        placeholders[f"{project}:azure.webhookUrls"] = json.dumps(
            {name: f"https://placeholder.invalid/webhook/{name}" for name in names if isinstance(name, str)})
    return placeholders


# -- value checks ----------------------------------------------------------


def _https_url(value: str) -> Optional[str]:
    parsed = urlparse(value)
    if parsed.scheme != "https" or not parsed.hostname:
        return "must be an https:// URL"
    return None


def _email(value: str) -> Optional[str]:
    return None if re.fullmatch(EMAIL, value) else "must be an e-mail address like oncall@example.com"


def _receiver_name(value: str) -> Optional[str]:
    return None if re.fullmatch(RECEIVER_NAME, value) else \
        "must be 1-128 letters, digits, spaces, hyphens or underscores"


def _tag_key(value: str) -> Optional[str]:
    if value in RESERVED_TAGS:
        return f"is set by the program; {', '.join(RESERVED_TAGS)} cannot be overridden"
    if not value or len(value) > 512 or re.search(r"[<>%&\\?/]", value):
        return "must be 1-512 characters without < > % & \\ ? /"
    return None


def _tag_value(value: str) -> Optional[str]:
    return None if len(value) <= 256 else "must be at most 256 characters"


def _daily_cap(value: float) -> Optional[str]:
    return None if value == -1 or value > 0 else "must be -1 (no cap) or a number of GB greater than 0"
