"""Server presets: each contract role in a model server's own metric names and labels.

`default` is our contract (the reference service keeps it); the others are what vLLM, TGI,
Triton and the OpenTelemetry GenAI conventions (as the collector's Prometheus exporter names
them) expose on /metrics, taken from each server's source, cited beside it. A role a server
cannot provide is lacking, with the reason: its alerts are excluded and reported, never left
to select nothing. tests/fixtures/metrics/<preset>.prom is each server's exposition, built
from the same sources, which the preset is checked against.
"""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType
from typing import Any

from model.contract import COUNTER, GAUGE, Histogram, Matcher, MetricContract, Series

# The Prometheus clients' default buckets, extended to a minute for generative models.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# The GenAI semantic conventions' advisory buckets (gen_ai.server.time_to_first_token,
# gen_ai.server.time_per_output_token), which our own contract uses too.
TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
TPOT_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5)
QUALITY_LACKING = "a model server does not judge its answers; quality signals come from an evaluation " \
                  "pipeline or user feedback, which the default contract names (preset default)"


def default(requests: str = "ai_inference_requests_total", latency: str = "ai_inference_latency_seconds",
            tokens: str = "ai_tokens_used_total", cost: str = "ai_inference_cost_dollars_total",
            model_label: str = "model", status_label: str = "status", error_status: str = "error",
            token_type_label: str = "token_type",
            latency_buckets: tuple[float, ...] = LATENCY_BUCKETS) -> MetricContract:
    """Our contract, with the names a stack may change (services[].metrics)."""
    return MetricContract(
        preset="default", server="the service", model_label=model_label, sends_request_spans=True,
        requests=Series(requests, COUNTER),
        errors=Series(requests, COUNTER, (Matcher(status_label, error_status),)),
        latency=Histogram(latency, latency_buckets),
        ttft=Histogram("ai_inference_time_to_first_token_seconds", TTFT_BUCKETS),
        tpot=Histogram("ai_inference_time_per_output_token_seconds", TPOT_BUCKETS),
        input_tokens=Series(tokens, COUNTER, (Matcher(token_type_label, "input"),)),
        output_tokens=Series(tokens, COUNTER, (Matcher(token_type_label, "output"),)),
        cost=Series(cost, COUNTER),
        queue=Series("ai_inference_queue_requests", GAUGE),
        kv_cache=Series("ai_inference_kv_cache_usage_ratio", GAUGE),
        quality=Series("ai_model_quality_score", GAUGE),
        drift=Series("ai_model_drift_score", GAUGE),
        hallucination_rate=Series("ai_model_hallucination_ratio", GAUGE),
        feedback=Series("ai_model_feedback_total", COUNTER),
        negative_feedback=Series("ai_model_feedback_total", COUNTER, (Matcher("feedback", "negative"),)),
    )


DEFAULT = default()


def _geometric(start: float, factor: float, count: int) -> tuple[float, ...]:
    """Buckets as TGI computes them: multiply, then push, `count` times."""
    found, value = [], start
    for _ in range(count):
        value *= factor
        found.append(value)
    return tuple(found)


def _lacking(server: str, **reasons: str) -> MappingProxyType[str, str]:
    """What a model server lacks: `reasons`, and, as every server, cost and the quality signals."""
    return MappingProxyType({
        **reasons,
        "cost": f"{server} does not price requests; serve ai_inference_cost_dollars_total beside it (preset default)",
        **dict.fromkeys(("quality", "drift", "hallucination_rate", "feedback", "negative_feedback"),
                        QUALITY_LACKING)})

# vLLM 0.11 (V1 engine): vllm/v1/metrics/loggers.py, and the OpenAI server's prometheus-fastapi-
# instrumentator on the same /metrics (vllm/entrypoints/openai/api_server.py, mount_metrics).
VLLM = MetricContract(
    preset="vllm", server="vLLM", model_label="model_name",
    # vLLM 0.11 counts no failed request of its own: the HTTP server's counter does, by status class
    # (a stream that fails after its 200 stays 2xx). Its health, metrics and version paths are not counted.
    requests=Series("http_requests_total", COUNTER),
    errors=Series("http_requests_total", COUNTER, (Matcher("status", "5xx"),)),
    latency=Histogram("vllm:e2e_request_latency_seconds", (
        0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0,
        960.0, 1920.0, 7680.0)),
    ttft=Histogram("vllm:time_to_first_token_seconds", (
        0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0,
        80.0, 160.0, 640.0, 2560.0)),
    # Since 0.10.2; vllm:time_per_output_token_seconds, its older name, is hidden from 0.12.
    tpot=Histogram("vllm:inter_token_latency_seconds", (
        0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0)),
    input_tokens=Series("vllm:prompt_tokens_total", COUNTER),
    output_tokens=Series("vllm:generation_tokens_total", COUNTER),
    queue=Series("vllm:num_requests_waiting", GAUGE),
    kv_cache=Series("vllm:kv_cache_usage_perc", GAUGE),  # a fraction, 0 to 1, despite its name
    lacking=_lacking("vLLM"),
)

# text-generation-inference 3.3 router (router/src/server.rs; metrics-exporter-prometheus renders
# counters without _total). One model per server: no model label.
TGI_DURATION_BUCKETS = _geometric(0.0001, 1.5, 35)  # set_buckets_for_metric(Suffix("duration"))
TGI = MetricContract(
    preset="tgi", server="TGI", model_label=None,
    requests=Series("tgi_request_count", COUNTER),
    errors=Series("tgi_request_failure", COUNTER),
    latency=Histogram("tgi_request_duration", TGI_DURATION_BUCKETS),  # successful requests
    tpot=Histogram("tgi_request_mean_time_per_token_duration", TGI_DURATION_BUCKETS),  # prefill included
    input_tokens=Series("tgi_request_input_length_sum", COUNTER, histogram="tgi_request_input_length"),
    output_tokens=Series("tgi_request_generated_tokens_sum", COUNTER, histogram="tgi_request_generated_tokens"),
    queue=Series("tgi_queue_size", GAUGE),
    lacking=_lacking(
        "TGI",
        ttft="TGI's router records no first-token time (tgi_request_queue_duration is the time queued only)",
        kv_cache="TGI exposes no KV-cache usage, only the batch's token reservation"),
)

# Triton (triton-inference-server/core src/metrics.cc; prometheus-cpp renders counters without _total)
# with the TensorRT-LLM backend's metrics (inflight_batcher_llm custom_metrics_reporter.cc).
TRITON = MetricContract(
    preset="triton", server="Triton", model_label="model", per_model=True,
    # The ensemble's own queue stays empty while requests wait in the engine (pending count of the model
    # that queues them); tokens and the KV cache exist only under the engine (tests/fixtures/metrics/triton.prom).
    backend_roles=("input_tokens", "output_tokens", "queue", "kv_cache"), backend_model="tensorrt_llm",
    errors=Series("nv_inference_request_failure", COUNTER),
    # Only with --metrics-config histogram_latencies=true; a first token for decoupled (streaming) models.
    ttft=Histogram("nv_inference_first_response_histogram_ms", (100, 500, 2000, 5000), unit_seconds=0.001),
    input_tokens=Series("nv_llm_input_token_len_sum", COUNTER,
                        (Matcher("response_metric_type", "total_input_tokens"),), histogram="nv_llm_input_token_len"),
    output_tokens=Series("nv_llm_output_token_len_sum", COUNTER,
                         (Matcher("response_metric_type", "total_output_tokens"),),
                         histogram="nv_llm_output_token_len"),
    queue=Series("nv_inference_pending_request_count", GAUGE),
    kv_cache=Series("nv_trt_llm_kv_cache_block_metrics", GAUGE, (Matcher("kv_cache_block_type", "fraction"),)),
    lacking=_lacking(
        "Triton",
        requests="Triton counts successful and failed requests in two counters "
                 "(nv_inference_request_success, nv_inference_request_failure) and no total",
        latency="Triton has no request latency histogram: only cumulative microsecond counters "
                "(nv_inference_request_duration_us) and an opt-in summary",
        tpot="neither Triton nor its TensorRT-LLM backend measures the time per output token"),
)

# The OpenTelemetry GenAI semantic conventions (v1.41) as OpenTelemetry's Prometheus exporters name
# them (prometheus/otlptranslator: "." -> "_", unit s -> _seconds, {token} adds nothing), on the
# service's own metrics port. Errors are an error_type label on the request duration.
OTEL_GENAI = MetricContract(
    preset="otel-genai", server="an OpenTelemetry GenAI server", model_label="gen_ai_request_model",
    requests=Histogram("gen_ai_server_request_duration_seconds", ()).count,
    errors=Series("gen_ai_server_request_duration_seconds_count", COUNTER, (Matcher("error_type", "", negated=True),),
                  "gen_ai_server_request_duration_seconds"),
    latency=Histogram("gen_ai_server_request_duration_seconds", (
        0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)),
    ttft=Histogram("gen_ai_server_time_to_first_token_seconds", TTFT_BUCKETS),
    tpot=Histogram("gen_ai_server_time_per_output_token_seconds", TPOT_BUCKETS),
    # The conventions define token usage for clients only: a histogram of tokens per operation.
    input_tokens=Series("gen_ai_client_token_usage_sum", COUNTER, (Matcher("gen_ai_token_type", "input"),),
                        "gen_ai_client_token_usage"),
    output_tokens=Series("gen_ai_client_token_usage_sum", COUNTER, (Matcher("gen_ai_token_type", "output"),),
                         "gen_ai_client_token_usage"),
    lacking=_lacking("an OpenTelemetry GenAI server", queue="the GenAI conventions define no queue metric",
                     kv_cache="the GenAI conventions define no KV-cache metric"),
)

PRESETS = {contract.preset: contract for contract in (DEFAULT, VLLM, TGI, TRITON, OTEL_GENAI)}


def serving(contract: MetricContract, model: str | None) -> MetricContract:
    """`contract` for the model a service serves (services[].model.name), where the server reports every
    model it holds: each role's series also match the model that reports it, the served one or, for the
    roles the engine behind it reports, its backend model (services[].metrics.backendModel)."""
    if not contract.per_model or contract.model_label is None or not model:
        return contract
    roles: dict[str, Any] = {}
    for name, found in contract.provided().items():
        reporter = contract.backend_model if name in contract.backend_roles and contract.backend_model else model
        roles[name] = replace(found, matchers=(*found.matchers, Matcher(contract.model_label, reporter)))
    return replace(contract, **roles)
