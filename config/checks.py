"""Checks across keys, on what the schema let through: each returns the problems it finds.

They run even when other keys are wrong (on the keys that are right), so a stack file is fixed
in one pass: a limit below its request, a route nobody receives, an objective no bucket holds,
a target no burn-rate window could alert on, an alert a server cannot measure.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import BaseModel
from pydantic.alias_generators import to_camel

from config import limits, schema
from config.fields import Unique
from config.problems import Problem, aliases, unknown
from config.settings import COLLECTOR_RESOURCES, SERVICE_RESOURCES, contract, resources, version
from config.values import https_url, parses
from model import burn_rate
from model.contract import Histogram, MetricContract
from model.durations import iso_minutes, prometheus_seconds
from model.numbers import plain
from model.quantities import mebibytes, memory_bytes, millicores
from model.slo import DEFAULT_ROUTING, LATENCY_SLOS, Objective

Services = list[tuple[int, schema.Service]]  # the services the schema let through, with their index
DEFAULT_ONLY_METRICS = ("requests", "latency", "tokens", "cost", "modelLabel", "statusLabel", "errorStatus",
                        "tokenTypeLabel", "latencyBuckets")
QUALITY_ROLES = {"minScore": "quality", "maxDrift": "drift", "maxHallucinationRate": "hallucination_rate",
                 "maxNegativeFeedback": "negative_feedback"}


def repeats(model: BaseModel, where: str) -> Iterator[Problem]:
    """A list marked Unique holding an item twice, at the repeat's index, anywhere in `model`."""
    for name, field in type(model).model_fields.items():
        value, key = getattr(model, name, None), f"{where}{field.alias or name}"
        if isinstance(value, list) and any(isinstance(m, Unique) for m in field.metadata):
            yield from (Problem(f"{key}[{i}]", "is listed twice", item) for i, item in enumerate(value)
                        if item in value[:i])
        for i, item in enumerate(value if isinstance(value, list) else [value]):
            if isinstance(item, BaseModel):
                yield from repeats(item, f"{key}[{i}]." if isinstance(value, list) else f"{key}.")


# -- a service ---------------------------------------------------------------------------------

def service_problems(at: str, spec: schema.Service, production: bool) -> Iterator[Problem]:
    pinned = _image_problem(at, spec.image, production)
    yield from pinned
    if not pinned and not version(spec):
        yield Problem(f"{at}.version", f"is required: the image {spec.image} has no tag that names a version "
                                       "(latest, or a digest only); set what it runs")
    if spec.min_replicas > spec.max_replicas:
        yield Problem(f"{at}.minReplicas", f"must not exceed maxReplicas ({spec.max_replicas})", spec.min_replicas)
    yield from _extended_resources(f"{at}.resources", spec.resources)
    found = resources(spec.resources, SERVICE_RESOURCES)
    yield from _limits_cover_requests(f"{at}.resources", found)
    if spec.shm_size and memory_bytes(spec.shm_size) > memory_bytes(found.memory_limit):
        yield Problem(f"{at}.shmSize", f"must fit in the memory limit ({found.memory_limit}): a memory-backed "
                                       "/dev/shm counts against it", spec.shm_size)
    if spec.model_cache:
        yield from _model_cache(f"{at}.modelCache", spec.model_cache)
    for i, toleration in enumerate(spec.tolerations):
        key = f"{at}.tolerations[{i}]"
        if toleration.operator == "Exists" and toleration.value:
            yield Problem(f"{key}.value", "must be empty: operator Exists matches any value", toleration.value)
        if toleration.toleration_seconds is not None and toleration.effect != "NoExecute":
            yield Problem(f"{key}.tolerationSeconds", "applies to effect NoExecute only", toleration.toleration_seconds)
    yield from _metrics(f"{at}.metrics", spec.metrics)
    metrics = contract(spec.metrics, spec.model.name)
    yield from _slo(f"{at}.slo", spec.slo, metrics)
    if spec.autoscaling.metric == "queue" and (missing := metrics.missing(("queue",))):
        yield Problem(f"{at}.autoscaling.metric", f"cannot be measured: {missing}", "queue")
    if spec.autoscaling.metric == "cpu" and spec.autoscaling.engine != "hpa":
        yield Problem(f"{at}.autoscaling.engine", "must be hpa when scaling on cpu (KEDA here scales on the queue)",
                      spec.autoscaling.engine)
    if spec.rollout.enabled:
        yield from _rollout(f"{at}.rollout", spec.rollout, metrics)


def _rollout(at: str, rollout: schema.Rollout, metrics: MetricContract) -> Iterator[Problem]:
    """Steps that rise, and an analysis that can measure the canary."""
    if not rollout.steps:
        yield Problem(f"{at}.steps", "must hold at least one step: a canary without steps is a plain rollout")
    for i, (before, step) in enumerate(zip(rollout.steps, rollout.steps[1:], strict=False), start=1):
        if step.weight <= before.weight:
            yield Problem(f"{at}.steps[{i}].weight", f"must be above the step before it ({before.weight})",
                          step.weight)
    if missing := metrics.missing(("requests", "errors")):
        yield Problem(f"{at}.enabled", f"cannot be analysed: {missing}", True)
    if prometheus_seconds(rollout.analysis_window) < prometheus_seconds(rollout.analysis_interval):
        yield Problem(f"{at}.analysisWindow", f"must cover at least the interval ({rollout.analysis_interval}): "
                                              "measurements would skip requests", rollout.analysis_window)


def _image_problem(at: str, image: str, production: bool) -> list[Problem]:
    if production and "@sha256:" not in image:
        return [Problem(f"{at}.image", "must be pinned by digest in a production stack (name:tag@sha256:...): a tag "
                                       "can be moved to other content, a digest cannot", image)]
    return []


def _extended_resources(at: str, spec: schema.ServiceResources) -> Iterator[Problem]:
    """Extended resources (<vendor domain>/<resource>: whole devices) go under limits only."""
    for name in spec.requests.model_extra or {}:
        if "/" in name:
            yield Problem(f"{at}.requests.{name}", f"set {name} under limits only: Kubernetes requests an extended "
                                                   "resource at its limit")
        else:
            yield unknown(name, ["cpu", "memory"], f"{at}.requests.")
    for name, count in (spec.limits.model_extra or {}).items():
        domain, slash, resource = name.partition("/")
        if not slash:
            yield unknown(name, ["cpu", "memory", "<vendor domain>/<resource>"], f"{at}.limits.")
        elif not re.fullmatch(limits.EXTENDED_RESOURCE_DOMAIN, domain) or \
                not re.fullmatch(limits.DNS_LABEL, resource) or domain == "kubernetes.io" or \
                domain.endswith(".kubernetes.io"):
            yield Problem(f"{at}.limits.{name}", "is not an extended resource name like nvidia.com/gpu "
                                                 "(<vendor domain>/<resource>, outside kubernetes.io)")
        elif not isinstance(count, int) or isinstance(count, bool) or count < 1:
            yield Problem(f"{at}.limits.{name}", "must be an integer of at least 1", count)


def _limits_cover_requests(at: str, found: Any) -> Iterator[Problem]:
    if millicores(found.cpu_limit) < millicores(found.cpu_request):
        yield Problem(f"{at}.limits.cpu", f"must be at least the CPU request ({found.cpu_request})", found.cpu_limit)
    if memory_bytes(found.memory_limit) < memory_bytes(found.memory_request):
        yield Problem(f"{at}.limits.memory", f"must be at least the memory request ({found.memory_request})",
                      found.memory_limit)


def _model_cache(at: str, cache: schema.ModelCache) -> Iterator[Problem]:
    if cache.mount_path in limits.RESERVED_MOUNTS:
        yield Problem(f"{at}.mountPath", f"is taken ({', '.join(limits.RESERVED_MOUNTS)} are the program's)",
                      cache.mount_path)
    if (cache.size_limit is None) == (cache.claim_name is None):
        yield Problem(at, "must set exactly one of sizeLimit (an emptyDir of that size) or claimName (an existing "
                          "PersistentVolumeClaim)")
    elif cache.read_only and cache.claim_name is None:
        yield Problem(f"{at}.readOnly", "needs claimName: a new emptyDir starts empty, so it cannot be read-only", True)


def _metrics(at: str, metrics: schema.Metrics) -> Iterator[Problem]:
    preset = metrics.preset
    server = contract(metrics, "").server
    if metrics.backend_model is not None and not contract(metrics, "").backend_roles:
        yield Problem(f"{at}.backendModel", f"names the engine model behind an ensemble; the {preset} preset's "
                                            "server reports every role under the model it serves")
    if preset != "default":
        for key in sorted(metrics.model_fields_set & {_field(k) for k in DEFAULT_ONLY_METRICS}):
            yield Problem(f"{at}.{to_camel(key)}", f"renames a metric of the default contract; the {preset} "
                                                          f"preset uses {server}'s own names (set metrics.preset: "
                                                          "default to name your own)")
    buckets = metrics.latency_buckets
    if not buckets or buckets != sorted(set(buckets)):
        yield Problem(f"{at}.latencyBuckets", "must list the histogram's finite upper bounds (its le labels), "
                                              "ascending and each once", buckets)


def _field(camel: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in camel)


def _slo(at: str, slo: schema.Slo, metrics: MetricContract) -> Iterator[Problem]:
    period = int(slo.period[:-1])
    yield from _target(f"{at}.availability", slo.availability, period)
    latency = slo.latency
    if latency.p99_seconds < latency.p95_seconds:
        yield Problem(f"{at}.latency.p99Seconds", f"must be at least the P95 threshold ({plain(latency.p95_seconds)}s)",
                      latency.p99_seconds)
    if metrics.latency and metrics.latency.buckets:
        for key, seconds in (("p95Seconds", latency.p95_seconds), ("p99Seconds", latency.p99_seconds)):
            if not _is_bound(metrics.latency, seconds):
                yield Problem(f"{at}.latency.{key}", _bound_problem(metrics.latency,
                                                                    "the share of requests slower than it"), seconds)
    for key, (_, role) in LATENCY_SLOS.items():
        objective = getattr(slo.latency_objectives, _field(key))
        if objective is None:
            continue
        where = f"{at}.latencyObjectives.{key}"
        yield from _target(f"{where}.target", objective.target, period)
        histogram = metrics.role(role)
        if not isinstance(histogram, Histogram):
            yield Problem(where, f"cannot be measured: {metrics.missing((role,))}")
        elif not _is_bound(histogram, objective.threshold_seconds):
            yield Problem(f"{where}.thresholdSeconds", _bound_problem(histogram, "a ratio of requests at or under it"),
                          objective.threshold_seconds)
    for key, role in QUALITY_ROLES.items():
        limit = getattr(slo.quality, _field(key))
        missing = metrics.missing((role, "feedback") if role == "negative_feedback" else (role,))
        if limit is not None and missing:
            yield Problem(f"{at}.quality.{key}", f"cannot be measured: {missing}", limit)


def _target(key: str, target: float, period_days: int) -> Iterator[Problem]:
    """An SLO target must leave a budget every burn-rate window of the period can alert on."""
    objective = Objective(target, period_days)
    for window in burn_rate.impossible_windows(objective)[:1]:
        yield Problem(key, f"leaves a {plain(objective.error_budget * 100)}% error budget, too large for the "
                           f"{period_days}d policy's {window.name} {window.route} window: its "
                           f"{plain(window.burn_rate)}x burn rate would need {plain(window.threshold(objective) * 100)}"
                           f"% bad events to fire; use a target above "
                           f"{plain(burn_rate.loosest_target(period_days) * 100)}% (see the burn-rate table in "
                           "docs/alerting.md)", target)


def _is_bound(histogram: Histogram, seconds: float) -> bool:
    return any(math.isclose(seconds, bound, rel_tol=1e-9) for bound in histogram.bounds_seconds)


def _bound_problem(histogram: Histogram, what: str) -> str:
    bounds = ", ".join(plain(b) for b in histogram.bounds_seconds)
    return (f"must be a bucket boundary of {histogram.metric} ({bounds} seconds): {what} is read from that "
            "bucket, and between two buckets there is none")


# -- across the stack ----------------------------------------------------------------------------

def stack_problems(values: Mapping[str, Any], services: Services, names: Mapping[str, str],
                   stack: str) -> Iterator[Problem]:
    """`values`: each top-level field the schema let through (or its default), by field name."""
    get = values.get
    if not re.fullmatch(limits.DNS_LABEL, stack):
        yield Problem("the stack name", "must be lowercase letters, digits and hyphens; it is part of resource names "
                                        "and the environment tag")
    tags = get("tags") or {}
    if len(tags) + len(limits.RESERVED_TAGS) > limits.AZURE_MAX_TAGS:
        yield Problem("tags", "Azure allows at most 50 tags per resource, including the 3 reserved ones", tags)
    production = bool(get("production"))
    for index, spec in services:
        yield from service_problems(f"services[{index}]", spec, production)
    named = [spec.name for _, spec in services]
    for name in sorted({n for n in named if named.count(n) > 1}):
        yield Problem("services", "service names must be unique", name)
    yield from _azure(get)
    yield from _kubernetes(get, stack)
    yield from _collector(get, production)
    routed = _routed(services, names)
    yield from _datadog(get, services, routed)
    yield from _alertmanager(get, routed)
    canaries = [spec.name for _, spec in services if spec.rollout.enabled]
    if canaries and not get("prometheus_url") and not get("datadog_enabled"):
        yield Problem("prometheus.url", f"is required: {', '.join(canaries)} roll(s) out as canaries, whose analysis "
                                        "asks Prometheus (or Datadog, with datadog.enabled); set the in-cluster "
                                        "Prometheus URL")
    scaled = [spec.name for _, spec in services if spec.autoscaling.engine == "keda"]
    if scaled and not get("prometheus_url"):
        yield Problem("prometheus.url", f"is required: {', '.join(scaled)} scale(s) with KEDA's Prometheus scaler, "
                                        "which queries it; set the in-cluster Prometheus URL")


def _azure(get: Any) -> Iterator[Problem]:
    emails, hooks = get("azure_email_receivers") or {}, get("azure_webhook_receivers") or []
    every = [*emails, *hooks]
    for name in sorted({n for n in every if every.count(n) > 1}):
        yield Problem("azure.webhookReceivers", "receiver names must be unique across e-mail and webhook receivers",
                      name)
    if get("azure_email_receivers") is not None and get("azure_webhook_receivers") is not None and not every:
        yield Problem("azure.emailReceivers", "the action group needs at least one e-mail or webhook receiver", {})
    how = ("pulumi config set --secret azure.webhookUrls '{"
           + ", ".join(f'"{name}": "https://…"' for name in hooks or ["slack"]) + "}'")
    urls = _secret_map("azure.webhookUrls", get("azure_webhook_urls"))
    if isinstance(urls, Problem):
        yield urls
    elif urls is None:
        if hooks:
            yield Problem("azure.webhookUrls", f"is required for webhook receivers {', '.join(hooks)}; set it with: "
                                               f"{how}")
    else:
        for name, url in urls.items():
            if (problem := https_url(url) if isinstance(url, str) else "must be a string"):
                yield Problem(f"azure.webhookUrls.{name}", problem, None)
        missing = [name for name in hooks if name not in urls]
        if missing:
            yield Problem("azure.webhookUrls", f"has no URL for webhook receiver(s) {', '.join(missing)}; set the "
                                               f"whole map with: {how}")
        for name in urls:
            if name not in hooks:
                yield Problem("azure.webhookUrls",
                              f'has a URL for "{name}", which azure.webhookReceivers does not list')
    alerts: schema.AzureAlerts | None = get("azure_alerts")
    tests = get("azure_availability_tests") or []
    if alerts is not None:
        failed = alerts.availability.failed_locations
        fewest = min((len(test.locations) for test in tests), default=None)
        if failed and fewest is not None and failed > fewest:
            yield Problem("azure.alerts.availability.failedLocations",
                          f"must not exceed the locations of every availability test ({fewest})", failed)
        for name in aliases(schema.AzureAlerts):
            rule = getattr(alerts, _field(name))
            yield from _schedule(f"azure.alerts.{name}", rule, isinstance(rule, schema.DailyCap))
    for i, test in enumerate(tests):
        if not test.locations:
            yield Problem(f"azure.availabilityTests[{i}].locations",
                          "must list at least one location (Azure recommends five)", [])
    names = [test.name for test in tests]
    if len(set(names)) != len(names):
        yield Problem("azure.availabilityTests", "test names must be unique", names)


def _schedule(at: str, rule: Any, log: bool) -> Iterator[Problem]:
    window, frequency = iso_minutes(rule.window), iso_minutes(rule.frequency)
    if window < frequency:
        yield Problem(f"{at}.window", f"must be at least the evaluation frequency ({rule.frequency})", rule.window)
    elif log and frequency == 1 and window > 360:
        yield Problem(f"{at}.window", "must be at most PT6H when the frequency is PT1M", rule.window)
    elif log and frequency != 1 and window == 1:
        yield Problem(f"{at}.window", "may be PT1M only when the frequency is PT1M", rule.window)


def _secret_map(key: str, text: str | None) -> dict[str, Any] | Problem | None:
    """A secret JSON map of names to strings, a problem saying it is none (its value never shown), or None."""
    if text is None:
        return None
    try:
        found = json.loads(text)
    except ValueError:
        found = None
    if not isinstance(found, dict):
        return Problem(key, 'must be a JSON object of names to strings, e.g. {"slack": "https://…"}', None)
    return found


def _kubernetes(get: Any, stack: str) -> Iterator[Problem]:
    application = get("application")
    if get("kubernetes_namespace") is None and application and len(f"{application}-{stack}") > 63:
        yield Problem("kubernetes.namespace", f"defaults to {application}-{stack} (<application>-<stack>), longer than "
                                              "Kubernetes' 63 characters; set it")


def _collector(get: Any, production: bool) -> Iterator[Problem]:
    collector: schema.Collector | None = get("collector")
    if collector is None:
        return
    yield from _image_problem("collector", collector.image, production)
    if collector.exporters is not None and not collector.exporters:
        yield Problem("collector.exporters", "must list at least one backend for the collector to export to", [])
    found = resources(collector.resources, COLLECTOR_RESOURCES)
    yield from _limits_cover_requests("collector.resources", found)
    if parses(memory_bytes, found.memory_limit) and mebibytes(found.memory_limit) < limits.MIN_COLLECTOR_MEMORY_MIB:
        yield Problem("collector.resources.limits.memory",
                      f"must be at least {limits.MIN_COLLECTOR_MEMORY_MIB}Mi; the memory limiter is sized from it",
                      found.memory_limit)
    exporters = collector.exporters or []
    if collector.exporters is not None and collector.sampling.percentage < 100 and \
            not set(limits.TRACE_BACKENDS) & set(exporters):
        yield Problem("collector.sampling.percentage", f"has no traces to sample: no exporter of {exporters} takes "
                                                       "traces (azuremonitor and datadog do); leave it at 100",
                      collector.sampling.percentage)
    if "datadog" in exporters and get("datadog_enabled") is False:
        yield Problem("collector.exporters", "may list datadog only when datadog.enabled is true", exporters)
    if "azuremonitor" in exporters and get("azure_app_insights_local_auth") is False:
        yield Problem("collector.exporters", "lists azuremonitor, whose exporter authenticates with the "
                                             "instrumentation key only; set azure.appInsightsLocalAuth to true, "
                                             "or drop azuremonitor",
                      exporters)


def _routed(services: Services, names: Mapping[str, str]) -> dict[str, str]:
    """Each route some service's alerts take, with who sends which severities there, for a message:
    `services[1] (embeddings) sends its critical alerts to page (slo.routing, by default critical: page)`."""
    found: dict[str, list[str]] = {}
    for index, spec in services:
        routing = {**DEFAULT_ROUTING, **spec.slo.routing}
        for route in sorted(set(routing.values())):
            severities = [s for s, r in routing.items() if r == route]
            found.setdefault(route, []).append(f"services[{index}] ({spec.name}) sends its "
                                               f"{' and '.join(severities)} alerts to {route}")
    default = ", ".join(f"{severity}: {route}" for severity, route in DEFAULT_ROUTING.items())
    return {route: "; ".join(senders) + f" (slo.routing, by default {default})" for route, senders in found.items()}


def _datadog(get: Any, services: Services, routed: Mapping[str, str]) -> Iterator[Problem]:
    enabled = get("datadog_enabled")
    for key, (what, digits) in limits.DATADOG_KEY_DIGITS.items():
        value = get(f"datadog_{_field(key)}")
        if value is not None and not re.fullmatch(f"[0-9a-f]{{{digits}}}", value):
            yield Problem(f"datadog.{key}", f"must be a Datadog {what}: {digits} hexadecimal characters", None)
        if enabled and value is None:
            yield Problem(f"datadog.{key}", "is required when datadog.enabled is true; set it with: pulumi config set "
                                            f"--secret datadog.{key} <key>")
    notify: schema.Notify | None = get("datadog_notify")
    if not enabled or notify is None:
        return
    for index, spec in services:
        targets = [(f"services[{index}].slo.availability", spec.slo.availability)]
        targets += [(f"services[{index}].slo.latencyObjectives.{key}.target", s.target)
                    for key in LATENCY_SLOS if (s := getattr(spec.slo.latency_objectives, _field(key))) is not None]
        for key, target in targets:
            if not math.isclose(round(target * 100, 3), target * 100, abs_tol=1e-9):
                yield Problem(key, f"has more decimals than a Datadog SLO keeps: {plain(target * 100)}% has more than "
                                   "three after the point; use at most five in the fraction (0.99999), or turn "
                                   "datadog.enabled off", target)
    for route, senders in routed.items():
        if not getattr(notify, route):
            yield Problem(f"datadog.notify.{route}", f"must list at least one handle: {senders}; add a Datadog handle "
                                                     "here (@pagerduty-…, @slack-…), or route them elsewhere with "
                                                     "their slo.routing", [])


def _alertmanager(get: Any, routed: Mapping[str, str]) -> Iterator[Problem]:
    receivers = get("alertmanager_receivers") or {}
    if receivers:
        for route, senders in routed.items():
            if route not in receivers:
                yield Problem(f"alertmanager.receivers.{route}",
                              f"is required: {senders}, and they would reach no one; name a receiver here, or route "
                              "them elsewhere with their slo.routing")
    example = ", ".join(f'"{route}": "{"<routing key>" if kind == "pagerduty" else "https://…"}"'
                        for route, kind in (receivers or {"ticket": "slack"}).items())
    how = f"pulumi config set --secret alertmanager.credentials '{{{example}}}'"
    credentials = _secret_map("alertmanager.credentials", get("alertmanager_credentials"))
    if isinstance(credentials, Problem):
        yield credentials
        return
    if credentials is None:
        if receivers:
            yield Problem("alertmanager.credentials", f"is required for receivers {', '.join(receivers)}; set it "
                                                      f"with: {how}")
        return
    for route, kind in receivers.items():
        if route not in credentials:
            yield Problem("alertmanager.credentials", f"has nothing for the {route} receiver; set the whole map with: "
                                                      f"{how}")
        elif (problem := _receiver_credential(kind, credentials[route])):
            yield Problem(f"alertmanager.credentials.{route}", problem, None)
    for route in sorted(set(credentials) - set(receivers)):
        yield Problem("alertmanager.credentials", f'has a credential for "{route}", which alertmanager.receivers '
                                                  "does not list")


def _receiver_credential(kind: str, value: Any) -> str | None:
    if not isinstance(value, str):
        return "must be a string"
    if kind == "pagerduty":
        return None if re.fullmatch(r"[A-Za-z0-9]{32}", value) else \
            "must be a PagerDuty Events API v2 integration key: 32 letters and digits"
    return https_url(value)

