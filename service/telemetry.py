"""What the service tells the platform: the metric contract, traces, and JSON logs carrying the trace id.

The metrics are the platform's default contract exactly (names, types, label names;
model/contract.py), because its alerts, monitors and queries are built from it:

- ai_inference_requests_total{model,status}: every /predict request, status `success`,
  `error` (a server error, answered 5xx) or `rejected` (invalid input, answered 422);
- ai_inference_latency_seconds{model}: each /predict request's duration;
- ai_tokens_used_total{model,token_type}: for this classifier, the input tokens of a request
  are its feature values (four per flower) and the output tokens its predictions (one each);
- ai_inference_cost_dollars_total{model}: the price of the predictions served, at
  PRICE_PER_PREDICTION_USD each (what the compute behind one prediction costs), and of the
  tokens generated, at PRICE_PER_OUTPUT_TOKEN_USD each;
- ai_inference_time_to_first_token_seconds{model} and ai_inference_time_per_output_token_seconds{model}:
  each /generate stream's first token, and each interval between two of its tokens;
- ai_inference_queue_requests{model}: /generate requests waiting for a generation slot;
- ai_inference_kv_cache_usage_ratio{model}: the share of the generator's KV cache the running streams hold;
- ai_model_quality_score{model}: the classifier's accuracy on the held-out quarter of Iris;
- ai_model_feedback_total{model,feedback}: user feedback, `positive` or `negative` (POST /feedback).

/predict and /generate requests are both counted in the request counter and latency histogram.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from pathlib import Path

import prometheus_client
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

STATUSES = ("success", "error", "rejected")
TOKEN_TYPES = ("input", "output")
# The platform's default contract buckets (model/contract.py), written out because the image
# carries no platform code; tests/service checks they agree. The settings refuse a latency
# objective at or above the top bucket, so these cover every objective they accept.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# The OpenTelemetry GenAI conventions' advisory buckets, which the default contract uses too.
TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
TPOT_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5)
FEEDBACK = ("positive", "negative")

# `_created` series would double what the Datadog Agent and dashboards see; the contract has none.
prometheus_client.disable_created_metrics()


class Metrics:
    """The contract's metrics on a registry of their own, every label combination there from the start
    (so a ratio over them is 0, not missing, before the first error)."""

    def __init__(self, model: str):
        self.model = model
        self.registry = prometheus_client.CollectorRegistry()
        self.requests = prometheus_client.Counter(
            "ai_inference_requests_total", "Inference requests, by model and outcome.", ["model", "status"],
            registry=self.registry)
        self.latency = prometheus_client.Histogram(
            "ai_inference_latency_seconds", "Inference request duration, seconds.", ["model"],
            buckets=LATENCY_BUCKETS, registry=self.registry)
        self.tokens = prometheus_client.Counter(
            "ai_tokens_used_total", "Tokens used: input features and output predictions.", ["model", "token_type"],
            registry=self.registry)
        self.cost = prometheus_client.Counter(
            "ai_inference_cost_dollars_total", "Inference cost, USD.", ["model"], registry=self.registry)
        self.ttft = prometheus_client.Histogram(
            "ai_inference_time_to_first_token_seconds", "Time to the first generated token, seconds.", ["model"],
            buckets=TTFT_BUCKETS, registry=self.registry)
        self.tpot = prometheus_client.Histogram(
            "ai_inference_time_per_output_token_seconds", "Time between two generated tokens, seconds.", ["model"],
            buckets=TPOT_BUCKETS, registry=self.registry)
        self.queue = prometheus_client.Gauge(
            "ai_inference_queue_requests", "Generation requests waiting for a slot.", ["model"],
            registry=self.registry)
        self.kv_cache = prometheus_client.Gauge(
            "ai_inference_kv_cache_usage_ratio", "Share of the KV cache the running generations hold, 0 to 1.",
            ["model"], registry=self.registry)
        self.quality = prometheus_client.Gauge(
            "ai_model_quality_score", "Model quality: the classifier's held-out accuracy.", ["model"],
            registry=self.registry)
        self.feedback = prometheus_client.Counter(
            "ai_model_feedback_total", "User feedback, by kind.", ["model", "feedback"], registry=self.registry)
        for status in STATUSES:
            self.requests.labels(model, status)
        for token_type in TOKEN_TYPES:
            self.tokens.labels(model, token_type)
        for kind in FEEDBACK:
            self.feedback.labels(model, kind)
        for metric in (self.latency, self.cost, self.ttft, self.tpot, self.queue, self.kv_cache, self.quality):
            metric.labels(model)

    def request(self, status: str, seconds: float) -> None:
        self.requests.labels(self.model, status).inc()
        self.latency.labels(self.model).observe(seconds)

    def usage(self, input_tokens: int, output_tokens: int, dollars: float) -> None:
        self.tokens.labels(self.model, "input").inc(input_tokens)
        self.tokens.labels(self.model, "output").inc(output_tokens)
        self.cost.labels(self.model).inc(dollars)


def connection_string(environ: Mapping[str, str]) -> str | None:
    """App Insights' connection string: from the file the platform mounts, or the variable."""
    path = environ.get("APPLICATIONINSIGHTS_CONNECTION_STRING_FILE")
    if path:
        return Path(path).read_text().strip()
    return environ.get("APPLICATIONINSIGHTS_CONNECTION_STRING") or None


def span_exporter(environ: Mapping[str, str], provider: TracerProvider) -> SpanExporter | None:
    """OTLP to the collector when one is configured (it exports to every backend, App Insights
    included); straight to App Insights only without one, so no request is recorded twice."""
    if environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        return OTLPSpanExporter()  # endpoint, protocol and headers from the OTEL_EXPORTER_OTLP_* variables
    connection = connection_string(environ)
    if connection:
        from azure.monitor.opentelemetry.exporter import AzureMonitorTraceExporter
        # The provider names the resource App Insights records (without it, the global one, unset here).
        return AzureMonitorTraceExporter(connection_string=connection, tracer_provider=provider)
    return None


def tracer_provider(environ: Mapping[str, str]) -> TracerProvider:
    """Spans named by the resource the Deployment sets (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES)."""
    provider = TracerProvider(resource=Resource.create())
    exporter = span_exporter(environ, provider)
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the trace and span of the request it belongs to."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
                 + f".{int(record.msecs):03d}Z",
                 "level": record.levelname, "logger": record.name, "message": record.getMessage(),
                 **getattr(record, "fields", {})}
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            entry["trace_id"] = format(context.trace_id, "032x")
            entry["span_id"] = format(context.span_id, "016x")
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def json_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=level, handlers=[handler], force=True)
    # The Azure SDK logs every HTTP request it makes, headers included, at INFO.
    logging.getLogger("azure").setLevel(logging.WARNING)
