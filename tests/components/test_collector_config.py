"""The collector's config for every combination of backends."""

import itertools

import pytest

from components.collector_config import (
    APM_STATS_PIPELINE,
    DATADOG_CONNECTOR,
    PORTS,
    collector_config,
    memory_limits,
    sampler_config,
    sampling_policies,
)
from components.workloads import APPINSIGHTS_KEY, DATADOG_API_KEY, SECRETS_DIR
from config.limits import COLLECTOR_EXPORTERS
from config.settings import Redaction
from tests import collector_contract as contract
from tests.helpers import collector_config_problems as problems
from tests.helpers import problem_for
from tests.helpers import problems as problems_for

REDACTING = Redaction(enabled=True, genai_content="drop", truncate_to=256)
COMBINATIONS = [c for n in range(1, 4) for c in itertools.combinations(COLLECTOR_EXPORTERS, n)]


@pytest.mark.parametrize("backends", COMBINATIONS, ids=["+".join(c) for c in COMBINATIONS])
def test_every_combination_is_well_formed(backends):
    config = collector_config(backends, "datadoghq.eu", 512, REDACTING)
    assert problems(config) == []
    pipelines = config["service"]["pipelines"]
    for name, pipeline in pipelines.items():
        if name != APM_STATS_PIPELINE:  # the Datadog connector's own: below
            redacted = ["filter/genai-content-events", "transform/redaction"] if name in ("traces", "logs") else []
            assert pipeline["processors"] == ["memory_limiter", "k8s_attributes", *redacted, "batch"]
            assert pipeline["receivers"] == ["otlp"]
    # Metrics always flow; traces and logs only when a backend takes them.
    assert "metrics" in pipelines
    assert ("traces" in pipelines) == (backends != ("prometheus",))
    exported = {e for p in pipelines.values() for e in p["exporters"]}
    assert ("azuremonitor" in exported) == ("azuremonitor" in backends)
    assert ("prometheus" in exported) == ("prometheus" in backends)
    assert ("datadog/exporter" in exported) == ("datadog" in backends)


@pytest.mark.parametrize("backends", [c for c in COMBINATIONS if "datadog" in c], ids="+".join)
def test_datadog_computes_apm_stats_through_its_connector_for_datadog_alone(backends):
    """The connector emits APM stats as one opaque metric, dd.internal.stats.payload, that only the
    Datadog exporter decodes (connector/datadogconnector README: its own metrics pipeline to datadog)."""
    config = collector_config(backends, "datadoghq.eu", 512, REDACTING)
    pipelines = config["service"]["pipelines"]
    assert DATADOG_CONNECTOR in pipelines["traces"]["exporters"]
    fed = {name: p for name, p in pipelines.items() if DATADOG_CONNECTOR in p["receivers"]}
    assert list(fed) == [APM_STATS_PIPELINE]
    assert fed[APM_STATS_PIPELINE]["receivers"] == [DATADOG_CONNECTOR]
    assert fed[APM_STATS_PIPELINE]["exporters"] == ["datadog/exporter"]
    assert config["exporters"]["datadog/exporter"] == {
        "api": {"key": f"${{file:{SECRETS_DIR}/{DATADOG_API_KEY}}}", "site": "datadoghq.eu"}}


def test_secrets_come_from_the_mounted_secret_files_not_the_config():
    """The collector's file provider expands ${file:<path>} to the file's content at start."""
    config = collector_config(COLLECTOR_EXPORTERS, "datadoghq.com", 512, REDACTING)
    assert config["exporters"]["azuremonitor"] == {"connection_string": f"${{file:{SECRETS_DIR}/{APPINSIGHTS_KEY}}}"}
    assert config["exporters"]["datadog/exporter"]["api"]["key"] == f"${{file:{SECRETS_DIR}/{DATADOG_API_KEY}}}"


def test_endpoints_listen_on_the_declared_container_ports():
    config = collector_config(COLLECTOR_EXPORTERS, "datadoghq.com", 512, REDACTING)
    protocols = config["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"].endswith(f":{PORTS['otlp-grpc']}") and PORTS["otlp-grpc"] == 4317
    assert protocols["http"]["endpoint"].endswith(f":{PORTS['otlp-http']}") and PORTS["otlp-http"] == 4318
    assert config["extensions"]["health_check"]["endpoint"].endswith(":13133") and PORTS["health"] == 13133
    assert config["exporters"]["prometheus"]["endpoint"].endswith(f":{PORTS['prometheus']}")
    reader, = config["service"]["telemetry"]["metrics"]["readers"]
    assert reader["pull"]["exporter"]["prometheus"]["port"] == PORTS["metrics"] == 8888


@pytest.mark.parametrize("limit, expected", [(512, (409, 102)), (1024, (819, 204)), (2048, (1638, 409))])
def test_memory_limiter_is_sized_from_the_container_limit(limit, expected):
    assert memory_limits(limit) == expected
    limiter = collector_config(["prometheus"], "datadoghq.com", limit, REDACTING)["processors"]["memory_limiter"]
    assert (limiter["limit_mib"], limiter["spike_limit_mib"]) == expected


def test_problems_catches_broken_configs():
    config = collector_config(["azuremonitor"], "datadoghq.com", 512, REDACTING)
    config["exporters"]["debug"] = {}
    config["service"]["pipelines"]["logs"]["exporters"].append("otlphttp")
    config["service"]["pipelines"]["traces"]["processors"] = ["batch", "memory_limiter"]
    found = problems(config)
    assert "exporter debug is declared but used by no pipeline" in found
    assert "pipeline logs uses undeclared exporter otlphttp" in found
    assert "processors must start with memory_limiter and end with batch" in found



SAMPLER_HOST = "otel-collector-sampler.ns.svc.cluster.local"


@pytest.mark.parametrize("backends", [c for c in COMBINATIONS if {"azuremonitor", "datadog"} & set(c)],
                         ids="+".join)
def test_with_sampling_every_span_is_seen_by_the_datadog_connector_then_balanced_by_trace_id(backends):
    """The first tier: the connector computes APM stats from every span (before sampling, so they stay whole);
    the traces backends get the spans through the load balancer, each trace's to one sampler."""
    first = collector_config(backends, "datadoghq.eu", 512, REDACTING, SAMPLER_HOST)
    assert problems(first) == []
    traces = first["service"]["pipelines"]["traces"]
    assert traces["exporters"] == [*([DATADOG_CONNECTOR] if "datadog" in backends else []), "loadbalancing"]
    assert "transform/redaction" in traces["processors"]  # redacted before leaving the pod, to either
    balancer = first["exporters"]["loadbalancing"]
    assert balancer["routing_key"] == "traceID"
    assert balancer["resolver"] == {"dns": {"hostname": SAMPLER_HOST, "port": PORTS["otlp-grpc"]}}
    # Metrics and logs do not go through the samplers: the alerts read /metrics, which sampling never touches.
    for signal in ("metrics", "logs"):
        assert "loadbalancing" not in first["service"]["pipelines"].get(signal, {"exporters": []})["exporters"]

    policies = sampling_policies({"chat": 2.5}, 10)
    second = sampler_config(backends, "datadoghq.eu", 512, policies)
    assert problems(second) == []
    sampled = second["service"]["pipelines"]["traces"]
    assert sampled["processors"] == ["memory_limiter", "tail_sampling", "batch"]
    assert set(sampled["exporters"]) == ({"azuremonitor"} & set(backends)) | (
        {"datadog/exporter"} if "datadog" in backends else set())
    assert list(second["receivers"]["otlp"]["protocols"]) == ["grpc"]  # the load balancer's protocol


def test_sampling_keeps_every_error_every_trace_slower_than_its_objective_and_a_share_of_the_rest():
    errors, slow, rest = sampling_policies({"chat": 2.5}, 10)
    assert errors["status_code"] == {"status_codes": ["ERROR"]}
    service, latency = slow["and"]["and_sub_policy"]
    assert service["string_attribute"] == {"key": "service.name", "values": ["chat"]}
    assert latency["latency"] == {"threshold_ms": 2500}
    assert rest["probabilistic"] == {"sampling_percentage": 10}


# -- against the collector's own code at the pinned version (tests/collector_contract.py) ------------------------

@pytest.mark.parametrize("genai_content", ["drop", "truncate", "keep"])
@pytest.mark.parametrize("backends", COMBINATIONS, ids=["+".join(c) for c in COMBINATIONS])
def test_every_key_pipeline_and_ottl_statement_is_one_the_collector_accepts(backends, genai_content):
    redacting = Redaction(enabled=True, genai_content=genai_content, truncate_to=64)
    tiers = [collector_config(backends, "datadoghq.eu", 512, redacting, SAMPLER_HOST),
             sampler_config(backends, "datadoghq.eu", 512, sampling_policies({"chat": 2.5}, 10))]
    for config in tiers:
        assert contract.key_problems(config) == []
        assert contract.signal_problems(config) == []
        assert contract.ottl_problems(config) == []


def test_the_contract_checks_catch_what_the_collector_would_refuse():
    config = collector_config(COLLECTOR_EXPORTERS, "datadoghq.com", 512, REDACTING, SAMPLER_HOST)
    config["exporters"]["loadbalancing"]["resolver"]["dns"]["hostnme"] = "typo"
    config["processors"]["tail_sampling"] = {"decision_wait": "10s"}
    config["service"]["pipelines"]["metrics"]["processors"].insert(1, "tail_sampling")
    config["service"]["pipelines"]["logs"]["exporters"].append("prometheus")
    transform = config["processors"]["transform/redaction"]
    transform["trace_statements"][0]["statements"].append('set(span.attributes["x"], Redact(span.name))')
    transform["log_statements"][0]["statements"].append('delete_key(log.bodies, "x")')
    assert contract.key_problems(config) == [
        "exporter loadbalancing: resolver.dns.hostnme is not a key of its config"]
    assert sorted(contract.signal_problems(config)) == [
        "pipeline logs: exporter prometheus does not take logs",
        "pipeline metrics: processor tail_sampling does not take metrics"]
    found = contract.ottl_problems(config)
    assert any("Redact(): not an OTTL function at this version" in problem for problem in found)
    assert any("log.bodies: log has no field bodies" in problem for problem in found)


def test_sampling_a_stack_whose_collector_exports_no_traces_is_refused_with_its_key():
    found = problems_for("minimal", {"collector": {"exporters": ["prometheus"], "sampling": {"percentage": 10}}})
    assert "has no traces to sample" in problem_for("collector.sampling.percentage", found)
