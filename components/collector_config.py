"""The OpenTelemetry Collector's config, built from settings. Pure, so every backend combination is testable.

Processors run memory_limiter first (refuse data before running out of memory),
k8s_attributes next, then, in the traces and logs pipelines, the redaction (model/redaction.py:
GenAI content and PII, before any exporter or connector), batch last. Each enabled backend adds
its exporters; a pipeline exists only when something exports its signal.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

from components.workloads import APPINSIGHTS_KEY, DATADOG_API_KEY, secret_file
from config.settings import Redaction
from model import redaction

BASE = Path(__file__).resolve().parent.parent / "k8s" / "otel-collector.yaml"

# Container ports, named as the Deployment and Service name them.
PORTS = {"otlp-grpc": 4317, "otlp-http": 4318, "metrics": 8888, "prometheus": 8889, "health": 13133}
HEALTH_PATH = "/"
SIGNALS = ("traces", "metrics", "logs")
PROCESSORS = ["memory_limiter", "k8s_attributes", "batch"]  # k8s_attributes: the type's name since contrib 0.151
REDACTION = "transform/redaction"
CONTENT_EVENTS = "filter/genai-content-events"  # with genaiContent: drop, the content events go whole
REDACTED = ("traces", "logs")  # the signals that carry content: attributes, span events, log bodies
DATADOG_CONNECTOR = "datadog/connector"  # computes APM stats from the traces it is exported to
# The connector's output, APM stats as one opaque metric (dd.internal.stats.payload, a serialized
# payload attribute), means something to the Datadog exporter only: its pipeline exports nowhere else.
APM_STATS_PIPELINE = "metrics/datadog-apm-stats"
POD_IP = "${env:MY_POD_IP}"
LOAD_BALANCER = "loadbalancing"  # the first tier's traces exporter: every span of a trace to one sampler
SAMPLED_EXPORTERS = ("azuremonitor", "datadog/exporter")  # the traces backends, behind the sampler
DECISION_WAIT = "30s"  # how long a trace's spans are gathered before it is judged: longer than a stream
DECISIONS_KEPT = 100_000  # trace ids whose decision is remembered, per sampler

# The credentials each backend's exporter reads, from the files the Deployment mounts (the
# collector's `file` config provider expands ${file:<path>} to the file's content).
CREDENTIALS = {"azuremonitor": APPINSIGHTS_KEY, "datadog": DATADOG_API_KEY}


def credential(backend: str) -> str:
    return f"${{file:{secret_file(CREDENTIALS[backend])}}}"


@functools.lru_cache(maxsize=1)
def _base() -> dict:
    return yaml.safe_load(BASE.read_text())


def memory_limits(limit_mib: int) -> tuple[int, int]:
    """memory_limiter's hard limit (80% of the container's) and spike allowance (20%)."""
    return limit_mib * 80 // 100, limit_mib * 20 // 100


def _exporters(backend: str, datadog_site: str) -> dict[str, tuple[dict, tuple[str, ...]]]:
    """The exporters a backend adds, with the signals each takes."""
    if backend == "azuremonitor":
        return {"azuremonitor": ({"connection_string": credential(backend)}, SIGNALS)}
    if backend == "datadog":
        return {"datadog/exporter": ({"api": {"key": credential(backend), "site": datadog_site}}, SIGNALS)}
    if backend == "prometheus":
        return {"prometheus": ({"endpoint": f"{POD_IP}:{PORTS['prometheus']}",
                                "resource_to_telemetry_conversion": {"enabled": True}}, ("metrics",))}
    raise ValueError(f"unknown backend {backend}")


def _literal(statement: str) -> str:
    """An OTTL statement as the collector's config holds it: `$` is written `$$` (one `$` starts ${...})."""
    return statement.replace("$", "$$")


def redaction_processors(genai_content: str, truncate_to: int) -> dict[str, dict]:
    """model/redaction.py's statements in the transform processor, and with `drop` the filter processor that
    drops the content events. A statement or condition that fails drops its batch (error_mode propagate)
    rather than letting it through unredacted."""
    found = redaction.statements(genai_content, truncate_to)
    processors = {REDACTION: {"error_mode": "propagate", "trace_statements": [
        {"context": context, "statements": [_literal(s) for s in lines]} for context, lines in found.traces],
        "log_statements": [{"context": context, "statements": [_literal(s) for s in lines]}
                           for context, lines in found.logs]}}
    if found.dropped_span_events:
        processors[CONTENT_EVENTS] = {"error_mode": "propagate",
                                      "trace_conditions": [_literal(c) for c in found.dropped_span_events],
                                      "log_conditions": [_literal(c) for c in found.dropped_log_records]}
    return processors


def sampling_policies(slow_after: Mapping[str, float], percentage: float) -> list[dict]:
    """Every trace with an error, every trace of a service slower than its latency objective (`slow_after`:
    seconds, by service.name), and `percentage` of the rest (the tail_sampling processor keeps a trace when
    any policy samples it)."""
    slow = [{"name": f"slower-than-objective-{service}", "type": "and", "and": {"and_sub_policy": [
        {"name": "service", "type": "string_attribute", "string_attribute": {"key": "service.name",
                                                                              "values": [service]}},
        {"name": "slow", "type": "latency", "latency": {"threshold_ms": round(seconds * 1000)}}]}}
        for service, seconds in sorted(slow_after.items())]
    return [{"name": "errors", "type": "status_code", "status_code": {"status_codes": ["ERROR"]}}, *slow,
            {"name": "the-rest", "type": "probabilistic", "probabilistic": {"sampling_percentage": percentage}}]


def sampler_config(backends: Iterable[str], datadog_site: str, memory_limit_mib: int,
                   policies: list[dict]) -> dict:
    """The sampling tier's config: OTLP from the first tier's load balancer (every span of a trace reaches the
    same sampler), tail sampling, then the traces backends."""
    config = collector_config(backends, datadog_site, memory_limit_mib, Redaction(False, "keep", 0))
    del config["receivers"]["otlp"]["protocols"]["http"]
    for unused in ("k8s_attributes", REDACTION, CONTENT_EVENTS):
        config["processors"].pop(unused, None)
    # Decisions remembered, so a span arriving after its trace was judged (batched late, or a stream's root
    # span ending) follows the decision instead of being judged alone as a new trace.
    config["processors"]["tail_sampling"] = {"decision_wait": DECISION_WAIT, "decision_cache": {
        "sampled_cache_size": DECISIONS_KEPT, "non_sampled_cache_size": DECISIONS_KEPT}, "policies": policies}
    exporters = {name: config["exporters"][name] for name in SAMPLED_EXPORTERS if name in config["exporters"]}
    config["exporters"] = exporters
    config.pop("connectors", None)
    config["service"]["pipelines"] = {"traces": {"receivers": ["otlp"], "processors": [
        "memory_limiter", "tail_sampling", "batch"], "exporters": list(exporters)}}
    return config


def collector_config(backends: Iterable[str], datadog_site: str, memory_limit_mib: int,
                     redacting: Redaction, sampler: str | None = None) -> dict:
    """`sampler`: the sampling tier's headless Service (host name), to which the traces go, balanced by trace id,
    instead of to their backends; the Datadog connector still sees every span (APM stats stay whole)."""
    config = copy.deepcopy(_base())
    protocols = config["receivers"]["otlp"]["protocols"]
    protocols["grpc"]["endpoint"] = f"{POD_IP}:{PORTS['otlp-grpc']}"
    protocols["http"]["endpoint"] = f"{POD_IP}:{PORTS['otlp-http']}"
    config["extensions"]["health_check"].update(endpoint=f"{POD_IP}:{PORTS['health']}", path=HEALTH_PATH)
    config["service"]["telemetry"]["metrics"]["readers"] = [
        {"pull": {"exporter": {"prometheus": {"host": POD_IP, "port": PORTS["metrics"]}}}}]
    limit, spike = memory_limits(memory_limit_mib)
    config["processors"]["memory_limiter"].update(limit_mib=limit, spike_limit_mib=spike)

    exporters: dict[str, dict] = {}
    takes: dict[str, list[str]] = {signal: [] for signal in SIGNALS}
    for backend in backends:
        for name, (settings, signals) in _exporters(backend, datadog_site).items():
            exporters[name] = settings
            for signal in signals:
                takes[signal].append(name)
    config["exporters"] = exporters

    redacted = [signal for signal in REDACTED if redacting.enabled and takes[signal]]
    redacting_processors = redaction_processors(redacting.genai_content, redacting.truncate_to) if redacted else {}
    config["processors"].update(redacting_processors)

    def processors(signal: str) -> list[str]:
        # Content events dropped whole first, then what remains redacted.
        added = [p for p in (CONTENT_EVENTS, REDACTION) if p in redacting_processors] if signal in redacted else []
        return [*PROCESSORS[:-1], *added, PROCESSORS[-1]]

    pipelines = {signal: {"receivers": ["otlp"], "processors": processors(signal), "exporters": takes[signal]}
                 for signal in SIGNALS if takes[signal]}
    if "datadog/exporter" in exporters:
        config["connectors"] = {DATADOG_CONNECTOR: {}}
        pipelines["traces"]["exporters"].append(DATADOG_CONNECTOR)
        pipelines[APM_STATS_PIPELINE] = {"receivers": [DATADOG_CONNECTOR], "processors": ["memory_limiter", "batch"],
                                         "exporters": ["datadog/exporter"]}
    if sampler and "traces" in pipelines:
        traces = pipelines["traces"]
        traces["exporters"] = [e for e in traces["exporters"] if e not in SAMPLED_EXPORTERS] + [LOAD_BALANCER]
        exporters[LOAD_BALANCER] = {"routing_key": "traceID", "protocol": {"otlp": {"tls": {"insecure": True}}},
                                    "resolver": {"dns": {"hostname": sampler, "port": PORTS["otlp-grpc"]}}}
    config["service"]["pipelines"] = pipelines
    return config
