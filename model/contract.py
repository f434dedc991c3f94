"""The metric contract: what an inference service emits. Every alert, monitor and query is built from it.

Defaults follow the source documents (DESIGN.md, the seeds' best practices): a request
counter labelled by model and status, a latency histogram, token and cost counters.

A failed request is a server error: the service counts it with the error status and answers
it with a 5xx, which is how App Insights tells it (model/naming/azure.py). A request the
service refuses (a 4xx, such as invalid input) is not a failure of the service.
"""

from __future__ import annotations

from dataclasses import dataclass

# The endpoints every inference service serves: liveness and readiness on its http port (the
# kubelet probes them), its metrics on the metrics port.
HEALTH_PATH, READY_PATH, METRICS_PATH = "/health", "/ready", "/metrics"
PROBE_PATHS = (HEALTH_PATH, READY_PATH)


@dataclass(frozen=True)
class MetricContract:
    requests: str  # counter, labelled model and status
    latency: str  # histogram (base name), labelled model
    tokens: str  # counter, labelled model and token_type
    cost: str  # counter, labelled model
    model_label: str
    status_label: str
    error_status: str  # the status label's value for a failed request
    token_type_label: str
    latency_buckets: tuple[float, ...]  # the histogram's finite upper bounds, ascending

    @property
    def top_bucket(self) -> float:
        """histogram_quantile never reports more than this: a quantile in +Inf is reported as it."""
        return self.latency_buckets[-1]


DEFAULT = MetricContract(
    requests="ai_inference_requests_total",
    latency="ai_inference_latency_seconds",
    tokens="ai_tokens_used_total",
    cost="ai_inference_cost_dollars_total",
    model_label="model",
    status_label="status",
    error_status="error",
    token_type_label="token_type",
    # The Prometheus clients' default buckets, extended to a minute for generative models.
    latency_buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
