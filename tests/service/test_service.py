"""The reference inference service in process: predictions, the contract's counting, faults, traces, logs.

Expected values come from outside the service: Iris rows whose species the data set records, the
request counts the test itself sends, and the platform's own render of the Deployment's environment.
"""

import contextlib
import gzip
import http.server
import io
import json
import logging
import random
import socket

import pytest
from fastapi.testclient import TestClient
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from components.inference_service import environment
from service import model, telemetry
from service.app import Config, create_app
from tests.helpers import free_port, load_settings, loopback_server
from tools import contract_check

# Rows 1, 51 and 101 of Fisher's Iris data, one of each species.
SETOSA, VERSICOLOR, VIRGINICA = [5.1, 3.5, 1.4, 0.2], [7.0, 3.2, 4.7, 1.4], [6.3, 3.3, 6.0, 2.5]


@pytest.fixture(scope="module")
def classifier():
    return model.train()


def serve(classifier, **environ):
    return TestClient(create_app(Config.from_environ({k: str(v) for k, v in environ.items()}), classifier, environ={}))


def samples(client):
    """Each sample of the service's metrics: (name, labels) -> value."""
    text = generate_latest(client.app.state.metrics.registry).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def requests(client, status, model_name="iris-classifier"):
    return samples(client)[("ai_inference_requests_total", (("model", model_name), ("status", status)))]


def test_the_model_learns_iris_and_predicts_each_species(classifier):
    assert classifier.accuracy >= 0.9
    with serve(classifier) as client:
        answer = client.post("/predict", json={"instances": [SETOSA, VERSICOLOR, VIRGINICA]})
    assert answer.status_code == 200
    assert answer.json() == {"predictions": ["setosa", "versicolor", "virginica"], "model": "iris-classifier",
                             "model_version": "1"}


def test_probes_answer_on_the_http_port(classifier):
    with serve(classifier) as client:
        assert client.get("/health").status_code == 200
        ready = client.get("/ready")
    assert ready.status_code == 200 and ready.json()["ready"] is True


def test_each_prediction_is_counted_with_its_tokens_cost_and_latency(classifier):
    with serve(classifier, MODEL_NAME="flowers", PRICE_PER_PREDICTION_USD=0.5) as client:
        for batch in ([SETOSA], [SETOSA, VIRGINICA], [VERSICOLOR] * 3):
            assert client.post("/predict", json={"instances": batch}).status_code == 200
        found = samples(client)
    assert requests(client, "success", "flowers") == 3
    assert requests(client, "error", "flowers") == requests(client, "rejected", "flowers") == 0
    # Six flowers: four feature values each in, one prediction each out, 0.5 USD per prediction.
    assert found[("ai_tokens_used_total", (("model", "flowers"), ("token_type", "input")))] == 24
    assert found[("ai_tokens_used_total", (("model", "flowers"), ("token_type", "output")))] == 6
    assert found[("ai_inference_cost_dollars_total", (("model", "flowers"),))] == 3.0
    assert found[("ai_inference_latency_seconds_count", (("model", "flowers"),))] == 3


@pytest.mark.parametrize("body", [
    {"instances": [[5.1, 3.5, 1.4]]},  # three numbers, not four
    {"instances": []},
    {"instances": [["a", 3.5, 1.4, 0.2]]},
    {"flowers": [SETOSA]},
])
def test_invalid_input_gets_a_clear_422_and_counts_as_rejected_not_as_an_error(classifier, body):
    with serve(classifier) as client:
        answer = client.post("/predict", json=body)
        assert answer.status_code == 422
        assert "expected {\"instances\": [[sepal length" in answer.json()["error"]
        assert answer.json()["problems"]
        assert (requests(client, "rejected"), requests(client, "error")) == (1, 0)


def test_a_body_that_is_not_json_is_rejected_too(classifier):
    with serve(classifier) as client:
        answer = client.post("/predict", content=b"not json", headers={"content-type": "application/json"})
        assert answer.status_code == 422 and requests(client, "rejected") == 1


def test_injected_faults_answer_503_and_count_as_the_contracts_error(classifier):
    with serve(classifier, FAULT_RATE=1) as client:
        answers = [client.post("/predict", json={"instances": [SETOSA]}).status_code for _ in range(5)]
        assert answers == [503] * 5
        assert (requests(client, "error"), requests(client, "success")) == (5, 0)
        # A failed prediction used no tokens.
        assert samples(client)[("ai_tokens_used_total", (("model", "iris-classifier"), ("token_type", "input")))] == 0


def test_a_prediction_fails_when_its_uniform_draw_falls_under_the_fault_rate(classifier, monkeypatch):
    """One uniform draw per prediction, failing below FAULT_RATE: over many draws the failed share is the rate."""
    draws = [0.1, 0.5, 0.2499, 0.25, 0.99, 0.0]
    monkeypatch.setattr(random, "random", iter(draws).__next__)
    with serve(classifier, FAULT_RATE=0.25) as client:
        codes = [client.post("/predict", json={"instances": [SETOSA]}).status_code for _ in draws]
        counted = requests(client, "error"), requests(client, "success")
    assert codes == [503 if draw < 0.25 else 200 for draw in draws]
    assert counted == (3, 3)


def test_extra_latency_slows_every_prediction_by_that_much(classifier):
    with serve(classifier, EXTRA_LATENCY_SECONDS=0.12) as client:
        client.post("/predict", json={"instances": [SETOSA]})
        found = samples(client)
    labels = (("le", "0.1"), ("model", "iris-classifier"))
    assert found[("ai_inference_latency_seconds_bucket", labels)] == 0
    assert found[("ai_inference_latency_seconds_sum", (("model", "iris-classifier"),))] >= 0.12


def test_the_exposition_keeps_the_default_contract_of_a_stack():
    """The reference service against the contract a stack with default metrics declares."""
    service, = load_settings("minimal").services
    exposition = generate_latest(telemetry.Metrics("iris-classifier").registry).decode()
    findings = contract_check.check(exposition, service)
    assert [str(f) for f in findings if not f.ok] == []
    # Every role the stack's alerts use: requests, errors, latency, tokens, cost, queue and KV cache.
    assert {f.metric for f in findings} == {"ai_inference_requests_total", "ai_inference_latency_seconds",
                                            "ai_tokens_used_total", "ai_inference_cost_dollars_total",
                                            "ai_inference_queue_requests", "ai_inference_kv_cache_usage_ratio"}


@pytest.mark.parametrize("environ, message", [
    ({"FAULT_RATE": "2"}, "FAULT_RATE='2': must be a number from 0 to 1"),
    ({"EXTRA_LATENCY_SECONDS": "soon"}, "EXTRA_LATENCY_SECONDS='soon': must be a number from 0"),
    ({"HTTP_PORT": "0"}, "HTTP_PORT='0': must be a number from 1 to 65535"),
])
def test_bad_settings_name_the_variable_the_value_and_what_is_allowed(environ, message):
    with pytest.raises(ValueError, match="bad service settings") as error:
        Config.from_environ(environ)
    assert message in str(error.value)


def test_spans_carry_the_resource_the_deployment_sets_and_logs_carry_their_trace(classifier, monkeypatch, caplog):
    settings = load_settings("alerting")
    service, = [s for s in settings.services if s.name == "chat"]
    deployed = {e["name"]: e["value"] for e in environment(settings.identity, service, False, "http://collector:4317")
                if e["name"] in ("OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "MODEL_NAME", "MODEL_VERSION")}
    for name, value in deployed.items():
        monkeypatch.setenv(name, value)
    spans = InMemorySpanExporter()
    output = io.StringIO()
    handler = logging.StreamHandler(output)
    handler.setFormatter(telemetry.JsonFormatter())
    caplog.set_level(logging.INFO, logger="inference")
    logging.getLogger("inference").addHandler(handler)
    try:
        app = create_app(Config.from_environ(deployed), classifier, environ={})
        app.state.tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
        with TestClient(app) as client:
            client.post("/predict", json={"instances": [SETOSA]})
    finally:
        logging.getLogger("inference").removeHandler(handler)
    inference, = [s for s in spans.get_finished_spans() if s.name == "inference"]
    resource = dict(inference.resource.attributes)
    assert resource["service.name"] == "chat"
    assert resource["deployment.environment.name"] == "alerting"
    assert (resource["ai.model.name"], resource["service.version"]) == (service.model_name, service.version)
    assert dict(inference.attributes or {})["ai.tokens.input"] == 4
    server, = [s for s in spans.get_finished_spans() if s.kind.name == "SERVER"]
    assert inference.parent is not None and server.context is not None
    assert inference.parent.span_id == server.context.span_id
    entry, = [json.loads(line) for line in output.getvalue().splitlines() if '"predict"' in line]
    assert entry["trace_id"] == format(inference.context.trace_id, "032x")
    assert (entry["status"], entry["model"]) == ("success", service.model_name)


def test_probes_make_no_spans_and_every_prediction_does_whatever_its_host(classifier):
    spans = InMemorySpanExporter()
    with serve(classifier) as client:
        client.app.state.tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
        client.get("/health")
        client.get("/ready")
        assert spans.get_finished_spans() == ()
        for host in ("healthcare-ai.models.svc:8080", "already-scored.example.com"):
            client.post("/predict", json={"instances": [SETOSA]}, headers={"Host": host})
    served = [s for s in spans.get_finished_spans() if s.kind.name == "SERVER"]
    assert len(served) == 2


def test_traces_go_to_the_collector_when_one_is_set():
    provider = TracerProvider()
    assert isinstance(telemetry.span_exporter({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317"}, provider),
                      OTLPSpanExporter)
    assert telemetry.span_exporter({}, provider) is None


@contextlib.contextmanager
def ingestion():
    """An App Insights ingestion endpoint on loopback, collecting the envelopes posted to it."""
    received: list[dict] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            envelopes = json.loads(body)
            received.extend(envelopes)
            answer = json.dumps({"itemsReceived": len(envelopes), "itemsAccepted": len(envelopes),
                                 "errors": []}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    with loopback_server(Handler) as base:
        yield base, received


def test_without_a_collector_spans_go_to_app_insights_named_as_its_queries_expect(tmp_path, monkeypatch, caplog):
    """The connection string from the mounted file; the role name App Insights gives the service is
    <service.namespace>.<service.name> (Azure Monitor exporter documentation), what the KQL selects."""
    environment = {"OTEL_SERVICE_NAME": "chat", "OTEL_RESOURCE_ATTRIBUTES": "service.namespace=llm-platform",
                   "TMPDIR": str(tmp_path),  # the exporter's retry storage
                   # None of the SDK's own telemetry, which would outlive this test's endpoint.
                   "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true",
                   "APPLICATIONINSIGHTS_SDKSTATS_DISABLED": "true"}
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    secret = tmp_path / "appinsights-connection-string"
    with ingestion() as (endpoint, received):
        secret.write_text(f"InstrumentationKey=11111111-2222-3333-4444-555555555555;IngestionEndpoint={endpoint}\n")
        provider = telemetry.tracer_provider({"APPLICATIONINSIGHTS_CONNECTION_STRING_FILE": str(secret)})
        with provider.get_tracer("test").start_as_current_span("inference"):
            pass
        provider.shutdown()  # flushes the batch
    spans = [e for e in received if e["data"]["baseType"] == "RemoteDependencyData"]
    assert [e["tags"]["ai.cloud.role"] for e in spans] == ["llm-platform.chat"]
    assert {e["iKey"] for e in received} == {"11111111-2222-3333-4444-555555555555"}
    resource, = [e for e in received if e["data"]["baseType"] == "MetricData"]
    assert resource["data"]["baseData"]["metrics"][0]["name"] == "_OTELRESOURCE_"
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_the_connection_string_file_is_read_without_its_newline(tmp_path):
    secret = tmp_path / "appinsights-connection-string"
    secret.write_text("InstrumentationKey=11111111-2222-3333-4444-555555555555\n")
    environ = {"APPLICATIONINSIGHTS_CONNECTION_STRING_FILE": str(secret)}
    assert telemetry.connection_string(environ) == "InstrumentationKey=11111111-2222-3333-4444-555555555555"


# -- /generate: the LLM signals -------------------------------------------------------------------

def histogram_count(client, metric):
    return samples(client)[(f"{metric}_count", (("model", "iris-classifier"),))]


def test_generate_streams_the_same_tokens_for_the_same_prompt_and_counts_them(classifier):
    with serve(classifier, TOKEN_INTERVAL_SECONDS=0, FIRST_TOKEN_SECONDS=0) as client:
        first = client.post("/generate", json={"prompt": "tell me about irises", "max_tokens": 6})
        again = client.post("/generate", json={"prompt": "tell me about irises", "max_tokens": 6})
        found = samples(client)
        assert requests(client, "success") == 2
        assert histogram_count(client, "ai_inference_time_to_first_token_seconds") == 2
        assert histogram_count(client, "ai_inference_time_per_output_token_seconds") == 2 * 5  # between six tokens
    assert first.status_code == 200 and first.text == again.text
    assert len(first.text.splitlines()) == 6
    tokens = {kind: found[("ai_tokens_used_total", (("model", "iris-classifier"), ("token_type", kind)))]
              for kind in ("input", "output")}
    assert tokens == {"input": 2 * 4, "output": 2 * 6}  # four words a prompt, six tokens an answer


def test_the_first_token_waits_for_the_configured_delay_and_the_injected_latency(classifier):
    with serve(classifier, FIRST_TOKEN_SECONDS=0.02, EXTRA_LATENCY_SECONDS=0.1, TOKEN_INTERVAL_SECONDS=0) as client:
        client.post("/generate", json={"prompt": "slow", "max_tokens": 2})
        found = samples(client)
    ttft = found[("ai_inference_time_to_first_token_seconds_sum", (("model", "iris-classifier"),))]
    assert 0.12 <= ttft < 0.5
    # The 0.1 s bucket must not hold it; the 0.5 s bucket must.
    key = "ai_inference_time_to_first_token_seconds_bucket"
    assert found[(key, (("le", "0.1"), ("model", "iris-classifier")))] == 0
    assert found[(key, (("le", "0.5"), ("model", "iris-classifier")))] == 1


def test_streams_beyond_the_slots_wait_in_the_queue_and_hold_the_kv_cache(classifier):
    import asyncio

    import httpx2
    app = create_app(Config.from_environ({"GENERATION_SLOTS": "1", "TOKEN_INTERVAL_SECONDS": "0.02",
                                          "FIRST_TOKEN_SECONDS": "0", "KV_CACHE_TOKENS": "100"}),
                     classifier, environ={})
    metrics = app.state.metrics
    queue, cache = metrics.queue.labels("iris-classifier"), metrics.kv_cache.labels("iris-classifier")
    seen = {"queue": 0.0, "cache": 0.0}

    def value(gauge):
        return next(s.value for m in gauge.collect() for s in m.samples)

    async def watch(done):
        while not done.is_set():
            seen["queue"], seen["cache"] = max(seen["queue"], value(queue)), max(seen["cache"], value(cache))
            await asyncio.sleep(0.005)

    async def main():
        done = asyncio.Event()
        watcher = asyncio.create_task(watch(done))
        async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://test") as client:
            answers = await asyncio.gather(*(client.post("/generate", json={"prompt": "a b c d", "max_tokens": 5})
                                             for _ in range(3)))
        done.set()
        await watcher
        return answers

    loop = asyncio.new_event_loop()  # not asyncio.run, which leaves the thread without a loop for the mocks
    try:
        answers = loop.run_until_complete(main())
    finally:
        loop.close()
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert seen["queue"] == 2  # one slot: two of three streams wait
    # One stream at a time: never more than one prompt and its answer (4 + 5 of 100), and more than a prompt.
    assert 4 / 100 < seen["cache"] <= (4 + 5) / 100
    assert (value(queue), value(cache)) == (0, 0)


def test_a_generation_fault_is_the_contracts_error_and_bad_input_is_rejected(classifier):
    with serve(classifier, FAULT_RATE=1) as client:
        assert client.post("/generate", json={"prompt": "x"}).status_code == 503
        assert client.post("/generate", json={"prompt": "", "max_tokens": 0}).status_code == 422
        assert (requests(client, "error"), requests(client, "rejected")) == (1, 1)


def test_feedback_is_counted_by_kind_and_quality_is_the_held_out_accuracy(classifier):
    with serve(classifier) as client:
        for positive in (True, True, False):
            assert client.post("/feedback", json={"positive": positive}).status_code == 204
        found = samples(client)
    assert [found[("ai_model_feedback_total", (("feedback", kind), ("model", "iris-classifier")))]
            for kind in ("positive", "negative")] == [2, 1]
    assert found[("ai_model_quality_score", (("model", "iris-classifier"),))] == pytest.approx(classifier.accuracy)


def test_a_taken_port_is_one_line_naming_it_and_how_to_pick_another(capsys, monkeypatch):
    from service.__main__ import main
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        for variable, value in (("HOST", "127.0.0.1"), ("HTTP_PORT", str(port)), ("METRICS_PORT", str(free_port()))):
            monkeypatch.setenv(variable, value)
        assert main() == 2
    said = capsys.readouterr().err.strip()
    assert said.splitlines() == [said]
    assert f"port {port} on 127.0.0.1 is taken" in said and f"HTTP_PORT={port + 1}" in said
