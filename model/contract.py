"""The metric contract: what an inference service emits, by role. Every alert, monitor and query is built from it.

A role is something the platform measures (requests, failed requests, request latency, time
to first token, ...). The contract says where each role's samples are: a metric and the label
matchers that pick the role's series out of it, so one server's names (model/presets.py:
vLLM, TGI, Triton, the OpenTelemetry GenAI conventions) serve the same alerts as our own.
A role the server cannot provide is `lacking`, with the reason, and every alert that needs
it is excluded with that reason, never left to select nothing.

The default names follow the source documents (DESIGN.md, the seeds' best practices): a request
counter labelled by model and status, a latency histogram, token and cost counters. A failed
request is a server error: the service counts it with the error status and answers it with a
5xx, which is how App Insights tells it (model/naming/azure.py). A request the service refuses
(a 4xx, such as invalid input) is not a failure of the service.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from model.numbers import plain

# The endpoints every inference service serves: liveness and readiness on its http port (the
# kubelet probes them), its metrics on the metrics port.
HEALTH_PATH, READY_PATH, METRICS_PATH = "/health", "/ready", "/metrics"
PROBE_PATHS = (HEALTH_PATH, READY_PATH)

COUNTER, GAUGE = "counter", "gauge"


@dataclass(frozen=True)
class Matcher:
    """A label matcher: `label="value"`, `label!="value"` when negated, `label=~"value"` for a regex."""

    label: str
    value: str
    negated: bool = False
    regex: bool = False

    def __str__(self) -> str:
        operator = ("!" if self.negated else "=") + ("~" if self.regex else "=" if self.negated else "")
        return f'{self.label}{operator}"{self.value}"'


@dataclass(frozen=True)
class Series:
    """A counter or gauge role: the samples named `metric` (as Prometheus stores them) that `matchers` pick."""

    metric: str
    type: str  # COUNTER or GAUGE; a histogram's _count or _sum is a counter
    matchers: tuple[Matcher, ...] = ()
    histogram: str | None = None  # the histogram a _count or _sum series belongs to


@dataclass(frozen=True)
class Histogram:
    """A histogram role: `<metric>_bucket`, `_sum` and `_count`, in `unit_seconds` per unit of its `le`."""

    metric: str
    buckets: tuple[float, ...]  # the finite upper bounds (le), ascending, in the histogram's unit
    unit_seconds: float = 1.0  # Triton's histograms are in milliseconds: 0.001
    matchers: tuple[Matcher, ...] = ()

    @property
    def bounds_seconds(self) -> tuple[float, ...]:
        return tuple(round(b * self.unit_seconds, 9) for b in self.buckets)

    @property
    def top_bucket(self) -> float:
        """Seconds. histogram_quantile never reports more than this: a quantile in +Inf is reported as it."""
        return self.bounds_seconds[-1]

    def in_seconds(self, expression: str) -> str:
        """A query of this histogram's values (a quantile) in seconds: PromQL and Datadog both scale with `*`."""
        return expression if self.unit_seconds == 1 else f"{expression} * {plain(self.unit_seconds)}"

    def le(self, seconds: float) -> float:
        """The bucket bound, in the histogram's unit and exactly as the server writes it, that `seconds` is."""
        for bound, in_seconds in zip(self.buckets, self.bounds_seconds, strict=True):
            if math.isclose(in_seconds, seconds, rel_tol=1e-9):
                return bound
        raise ValueError(f"{seconds}s is not a bucket boundary of {self.metric}")

    @property
    def count(self) -> Series:
        return Series(f"{self.metric}_count", COUNTER, self.matchers, self.metric)


# Every role, with what it is. Requests and errors make the availability SLI; latency, TTFT and
# TPOT the latency SLIs; queue and KV cache the saturation signals; the rest are budgets and quality.
ROLES: dict[str, str] = {
    "requests": "inference requests served (a counter)",
    "errors": "requests that failed at the server (a counter)",
    "latency": "request duration (a histogram)",
    "ttft": "time to first token (a histogram)",
    "tpot": "time per output token (a histogram)",
    "input_tokens": "input (prompt) tokens (a counter)",
    "output_tokens": "output (generated) tokens (a counter)",
    "cost": "inference cost, USD (a counter)",
    "queue": "requests waiting to be scheduled (a gauge)",
    "kv_cache": "KV-cache usage, 0 to 1 (a gauge)",
    "quality": "a model quality score where higher is better, e.g. accuracy (a gauge)",
    "drift": "a model drift score (a gauge)",
    "hallucination_rate": "the share of evaluated answers judged hallucinated (a gauge)",
    "feedback": "user feedback received (a counter)",
    "negative_feedback": "negative user feedback received (a counter)",
}
HISTOGRAM_ROLES = ("latency", "ttft", "tpot")


@dataclass(frozen=True)
class MetricContract:
    preset: str  # the server whose names these are (model/presets.py)
    server: str  # how messages name it: "vLLM"
    model_label: str | None  # the label naming the model, when the server has one
    requests: Series | None = None
    errors: Series | None = None
    latency: Histogram | None = None
    ttft: Histogram | None = None
    tpot: Histogram | None = None
    input_tokens: Series | None = None
    output_tokens: Series | None = None
    cost: Series | None = None
    queue: Series | None = None
    kv_cache: Series | None = None
    quality: Series | None = None
    drift: Series | None = None
    hallucination_rate: Series | None = None
    feedback: Series | None = None
    negative_feedback: Series | None = None
    # Why the server cannot provide a role it leaves empty.
    lacking: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # Whether App Insights sees the server's requests: it sends OpenTelemetry HTTP server spans.
    sends_request_spans: bool = False
    # Whether the server reports every model it holds (an ensemble and its parts) under the model label,
    # so that a service's series are those of the model it serves.
    per_model: bool = False
    # Roles the server reports under the model that does the work (Triton: the TensorRT-LLM engine behind an
    # ensemble counts the tokens, holds the KV cache and queues the requests), and that model's usual name.
    backend_roles: tuple[str, ...] = ()
    backend_model: str | None = None

    def role(self, name: str) -> Series | Histogram | None:
        return getattr(self, name)

    def provided(self) -> dict[str, Series | Histogram]:
        return {name: found for name in ROLES if (found := self.role(name)) is not None}

    def missing(self, roles: tuple[str, ...]) -> str | None:
        """Why one of `roles` cannot be measured on this server, or None when all can."""
        for name in roles:
            if self.role(name) is None:
                return f"{self.server} does not provide {ROLES[name]}: {self.lacking.get(name, 'not in its metrics')}"
        return None

    def histogram(self, name: str) -> Histogram:
        found = self.role(name)
        if not isinstance(found, Histogram):
            raise ValueError(f"{self.server} has no {ROLES[name]}")
        return found

    def series(self, name: str) -> Series:
        found = self.role(name)
        if not isinstance(found, Series):
            raise ValueError(f"{self.server} has no {ROLES[name]}")
        return found

