"""A service's objectives: availability and latency SLOs, and the thresholds of its signal alerts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

DAY = 1440  # minutes
SEVERITIES = ("critical", "warning")
ROUTES = ("page", "ticket")
DEFAULT_ROUTING = {"critical": "page", "warning": "ticket"}  # where each severity goes unless slo.routing says
AVAILABILITY = "availability"  # the availability SLO's name
# The latency SLOs a service may declare: settings key -> (SLO name, the contract role it measures).
LATENCY_SLOS = {
    "requestDuration": ("request-duration", "latency"),
    "timeToFirstToken": ("time-to-first-token", "ttft"),
    "timePerOutputToken": ("time-per-output-token", "tpot"),
}
SLO_ROLES = dict(LATENCY_SLOS.values())  # SLO name -> role


@dataclass(frozen=True)
class Objective:
    """A success-ratio objective over a rolling period."""

    target: float  # e.g. 0.99
    period_days: int  # 7, 30 or 90

    @property
    def error_budget(self) -> float:
        return 1 - self.target

    @property
    def period_minutes(self) -> int:
        return self.period_days * DAY


@dataclass(frozen=True)
class LatencySlo:
    """A share of events at or under a threshold: "99% of first tokens within 0.5 s over 30 days"."""

    name: str  # e.g. time-to-first-token
    role: str  # the contract's histogram: latency, ttft or tpot
    threshold_seconds: float  # a bucket boundary of that histogram
    objective: Objective


@dataclass(frozen=True)
class Saturation:
    """When a server is full: waiting requests per replica, KV cache, and (with GPUs) the GPU's use."""

    queue_requests: float = 10  # average waiting requests per replica
    kv_cache_usage: float = 0.9  # share of the KV cache in use, on the fullest replica
    gpu_utilization: float = 0.95  # share of time the GPU was busy
    gpu_memory_usage: float = 0.95  # share of framebuffer memory in use


@dataclass(frozen=True)
class Quality:
    """Model quality objectives; each alert exists only when its limit is set."""

    min_score: float | None = None  # accuracy, or any score where higher is better
    max_drift: float | None = None
    max_hallucination_rate: float | None = None
    max_negative_feedback: float | None = None  # share of feedback that is negative, over a day


@dataclass(frozen=True)
class ServiceSlo:
    objective: Objective  # availability: the share of successful requests over the period
    error_rate: float  # the error-ratio alert's threshold
    p95_seconds: float
    p99_seconds: float
    cost_per_hour: float  # USD
    tokens_per_hour: int
    routing: Mapping[str, str]  # severity -> route (page or ticket)
    latency_slos: tuple[LatencySlo, ...] = ()
    saturation: Saturation = Saturation()
    quality: Quality = Quality()
