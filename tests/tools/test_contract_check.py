"""The metric contract check (`make contract-check`) on the reference service's exposition, and on
that exposition broken the ways a team's server breaks it: a renamed metric, a wrong type or label,
a counter without `_total`, no error series, buckets that miss the objectives or the declaration.

The command runs against a /metrics URL served on 127.0.0.1 for the length of one test.
"""

import contextlib
import http.server
import re

import pytest
from prometheus_client import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest

from service.telemetry import Metrics
from tests.helpers import FIXTURES, load_settings, loopback_server
from tools import contract_check

REFERENCE = generate_latest(Metrics("classifier").registry).decode()


def check(exposition, stack="minimal", overrides=None, name="ai-inference"):
    service, = [s for s in load_settings(stack, overrides).services if s.name == name]
    return contract_check.check(exposition, service)


def failures(exposition, **kwargs):
    return {f.metric: f.said for f in check(exposition, **kwargs) if not f.ok}


@contextlib.contextmanager
def serving(text, content_type="text/plain; version=0.0.4; charset=utf-8"):
    """`text` as /metrics on a loopback port, until the block ends."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = text.encode()
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    with loopback_server(Handler) as base:
        yield f"{base}metrics"


def run(url, *args, stack="minimal", service="ai-inference"):
    return contract_check.main([url, "--stack", stack, "--service", service, "--config-dir", str(FIXTURES), *args])


def test_the_reference_service_keeps_the_default_contract():
    findings = check(REFERENCE)
    assert [f for f in findings if not f.ok] == []
    # requests, errors, latency, input and output tokens, cost, queue, KV cache: what the stack's alerts read.
    assert len(findings) == 8


def test_the_command_passes_the_reference_service(capsys):
    with serving(REFERENCE) as url:
        assert run(url) == 0
    out = capsys.readouterr().out
    assert "the service keeps the contract" in out
    assert "ok   ai_inference_latency_seconds: histogram, 13 buckets up to 60s" in out


def test_the_command_fails_when_the_service_renames_a_contract_metric(capsys):
    renamed = REFERENCE.replace("ai_tokens_used_total", "ai_tokens_consumed_total")
    with serving(renamed) as url:
        assert run(url) == 1
    out = capsys.readouterr().out
    assert "FAIL ai_tokens_used_total: missing: no counter of this name is exposed" in out
    assert "2 problem(s): the service breaks the contract" in out  # input and output tokens


def test_a_server_that_answers_in_openmetrics_is_read_as_openmetrics(capsys):
    exposition = openmetrics_latest(Metrics("classifier").registry).decode()
    with serving(exposition, "application/openmetrics-text; version=1.0.0; charset=utf-8") as url:
        assert run(url) == 0
    assert "the service keeps the contract" in capsys.readouterr().out


def test_an_answer_that_is_not_prometheus_metrics_exits_2(capsys):
    with serving("<html><body>Sign in</body></html>\n") as url:
        assert run(url) == 2
    assert "cannot parse what" in capsys.readouterr().err


def test_a_wrong_type_is_named():
    gauge = REFERENCE.replace("# TYPE ai_inference_cost_dollars_total counter",
                              "# TYPE ai_inference_cost_dollars_total gauge")
    assert failures(gauge)["ai_inference_cost_dollars_total"] == "is a gauge; the contract's is a counter"
    untyped = REFERENCE.replace("# TYPE ai_tokens_used_total counter\n", "")
    assert failures(untyped)["ai_tokens_used_total"] == "is untyped (no # TYPE line); the contract's is a counter"


def test_other_label_names_are_named_with_the_contracts():
    relabelled = REFERENCE.replace('ai_inference_requests_total{model="classifier"',
                                   'ai_inference_requests_total{model_name="classifier"')
    said = failures(relabelled)["ai_inference_requests_total"]
    assert said == "labelled {model_name,status}; the contract selects on {model,status}"


def test_a_counter_sample_without_total_is_refused():
    bare = REFERENCE.replace("# TYPE ai_inference_requests_total counter", "# TYPE ai_inference_requests counter")
    bare = bare.replace("ai_inference_requests_total{", "ai_inference_requests{")
    assert failures(bare)["ai_inference_requests_total"].startswith(
        "exposed as ai_inference_requests, without _total: Prometheus stores it under that name")


def test_a_service_that_never_reports_the_error_status_fails():
    no_errors = "\n".join(line for line in REFERENCE.splitlines() if 'status="error"' not in line) + "\n"
    assert 'no {status="error"} series' in failures(no_errors)["ai_inference_requests_total"]


def test_buckets_without_one_at_an_objective_are_named_with_it():
    # The default P99 objective is 5s; these buckets stop at 2.5s, so no bucket counts the requests under 5s.
    short = "\n".join(line for line in REFERENCE.splitlines()
                      if not re.search(r'le="(5|10|30|60)\.0"', line)) + "\n"
    said = failures(short)["ai_inference_latency_seconds"]
    assert said.startswith("has no bucket at the P99 5s objective (its buckets: ")


def test_buckets_other_than_the_stack_declares_are_named_with_both():
    declared = {"services": [{"name": "ai-inference", "image": "registry.example.com/ml/ai-inference:1.0.0",
                              "model": {"name": "classifier", "version": "1"},
                              "metrics": {"latencyBuckets": [0.1, 0.5, 1, 2.5, 5, 10]},
                              "slo": {"latency": {"p95Seconds": 1, "p99Seconds": 5}}}]}
    said = failures(REFERENCE, overrides=declared)["ai_inference_latency_seconds"]
    assert said.startswith("buckets [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], "
                           "but services[].metrics.latencyBuckets declares [0.1, 0.5, 1, 2.5, 5, 10]")


def test_a_renamed_contract_is_checked_by_its_own_names():
    # The scorer's stack renames every metric and the status label: the reference service keeps none of it.
    found = failures(REFERENCE, stack="alerting", name="scorer")
    assert set(found) == {"scoring_requests_total", "scoring_duration_seconds", "scoring_tokens_total",
                          "scoring_cost_usd_total"}


@pytest.mark.parametrize("args, message", [
    (("--service", "nope"), "stack minimal has no service 'nope'; it has ai-inference"),
    (("--stack", "absent"), "Pulumi.absent.yaml"),
])
def test_what_cannot_be_checked_exits_2_with_the_reason(args, message, capsys):
    options = dict(zip(args[::2], args[1::2], strict=True))
    with serving(REFERENCE) as url:
        code = run(url, stack=options.get("--stack", "minimal"), service=options.get("--service", "ai-inference"))
    assert code == 2
    assert message in capsys.readouterr().err


def test_an_unreachable_url_exits_2(capsys):
    with serving(REFERENCE) as url:
        closed = url  # the port is free again once the server has stopped
    assert run(closed) == 2
    assert f"cannot read {closed}" in capsys.readouterr().err
