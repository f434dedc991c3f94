"""Every alert an inference service gets, declared once, in no backend's language.

An entry says what it means, what it measures (its clauses: a signal over a window
against a threshold), where the threshold comes from in the stack file, how long the
condition must hold, how loud it is (severity, and the route that severity takes in
the stack) and which runbook explains it. The dialects in model/dialects translate
entries into PromQL, Datadog monitors and KQL; a backend that cannot measure a
signal declares why, and the entry is excluded there with that reason.

A condition is a list of alternatives, each a list of clauses that must all hold:
a burn-rate alert fires when any of its windows burns too fast over both its long
and its short window.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol

from model import burn_rate
from model.burn_rate import Window
from model.contract import MetricContract
from model.durations import prometheus
from model.numbers import plain
from model.slo import AVAILABILITY, LATENCY_SLOS, SLO_ROLES, LatencySlo, Objective, ServiceSlo

# What a clause measures.
ERROR_RATIO = "error_ratio"  # failed requests over all requests: the availability SLO's bad events
SLOW_RATIO = "slow_ratio"  # events over a latency SLO's threshold, over all events
LATENCY = "latency"  # the share of requests slower than an objective (its quantile's), judged from buckets
REQUESTS = "requests"  # how many requests were served
TOKENS = "tokens"  # input and output tokens used
COST = "cost"  # inference cost, USD
TARGETS_UP = "targets_up"  # the service's metrics endpoints that answer a scrape
QUEUE = "queue"  # requests waiting, per replica
KV_CACHE = "kv_cache"  # KV-cache usage of the fullest replica, 0 to 1
GPU_UTILIZATION = "gpu_utilization"  # the service's GPUs' busy time, 0 to 1 (DCGM)
GPU_MEMORY = "gpu_memory"  # framebuffer memory in use on the fullest GPU, 0 to 1 (DCGM)
GPU_XID = "gpu_xid"  # the last XID error a GPU reported; 0 while none (DCGM)
QUALITY = "quality"  # the model's quality score
DRIFT = "drift"  # the model's drift score
HALLUCINATION_RATE = "hallucination_rate"
NEGATIVE_FEEDBACK = "negative_feedback"  # negative over all user feedback
FEEDBACK = "feedback"  # how much user feedback arrived
# The telemetry pipeline's own signals, from the collector's internal metrics (exporterhelper, receiverhelper).
COLLECTOR_UP = "collector_up"  # the collector's scrape targets that answer
EXPORT_FAILURES = "export_failures"  # items an exporter failed to send, over all it tried, per exporter
ENQUEUE_FAILURES = "enqueue_failures"  # items an exporter dropped because its sending queue was full, per second
REFUSED = "refused"  # items the receivers refused (the memory limiter's doing), over all they got
QUEUE_FILL = "queue_fill"  # an exporter's sending queue over its capacity, the fullest
# Exports the first tier's load balancer failed to hand to a sampler, over all it tried (its own counter: each
# sampler's exporter queues and retries out of sight of the exporter metrics above).
HANDOFF_FAILURES = "handoff_failures"
PIPELINE_SIGNALS = (COLLECTOR_UP, EXPORT_FAILURES, ENQUEUE_FAILURES, REFUSED, QUEUE_FILL, HANDOFF_FAILURES)
SIGNALS = (ERROR_RATIO, SLOW_RATIO, LATENCY, REQUESTS, TOKENS, COST, TARGETS_UP, QUEUE, KV_CACHE, GPU_UTILIZATION,
           GPU_MEMORY, GPU_XID, QUALITY, DRIFT, HALLUCINATION_RATE, NEGATIVE_FEEDBACK, FEEDBACK, *PIPELINE_SIGNALS)
# The contract roles each signal is measured from (a slow ratio: its SLO's histogram; GPUs: DCGM's metrics).
SIGNAL_ROLES: dict[str, tuple[str, ...]] = {
    ERROR_RATIO: ("requests", "errors"), LATENCY: ("latency",), REQUESTS: ("requests",),
    TOKENS: ("input_tokens", "output_tokens"), COST: ("cost",), QUEUE: ("queue",), KV_CACHE: ("kv_cache",),
    QUALITY: ("quality",), DRIFT: ("drift",), HALLUCINATION_RATE: ("hallucination_rate",),
    NEGATIVE_FEEDBACK: ("feedback", "negative_feedback"), FEEDBACK: ("feedback",),
}

ABOVE, AT_LEAST, BELOW = ">", ">=", "<"
PREFIX = "AIInference"  # every alert's name starts with it


@dataclass(frozen=True)
class Threshold:
    """`signal` over the last `window_minutes` compared with `value` (an instant when the window is 0)."""

    signal: str
    window_minutes: int
    comparator: str
    value: float
    quantile: float | None = None  # which latency quantile the objective is
    slo: str = AVAILABILITY  # whose bad-event ratio an error or slow ratio is
    seconds: float | None = None  # a latency objective: requests slower than this are counted

    def __str__(self) -> str:
        what = (f"share over {plain(self.seconds)}s (p{plain(self.quantile * 100)})"
                if self.quantile and self.seconds is not None else self.signal.replace("_", " "))
        if self.signal == SLOW_RATIO:
            what = f"{self.slo} {what}"
        over = f" over {prometheus(self.window_minutes)}" if self.window_minutes else ""
        return f"{what}{over} {self.comparator} {plain(self.value)}"


@dataclass(frozen=True)
class BurnRate:
    """An SLO's bad-event ratio over both windows of a policy row above the row's threshold."""

    window: Window
    threshold: float  # the bad-event ratio: burn rate x error budget
    slo: str = AVAILABILITY

    @property
    def signal(self) -> str:
        return ERROR_RATIO if self.slo == AVAILABILITY else SLOW_RATIO

    def clauses(self) -> tuple[Threshold, Threshold]:
        return (Threshold(self.signal, self.window.long_minutes, ABOVE, self.threshold, slo=self.slo),
                Threshold(self.signal, self.window.short_minutes, ABOVE, self.threshold, slo=self.slo))


Clause = Threshold | BurnRate


def expand(clause: Clause) -> tuple[Threshold, ...]:
    """A clause as thresholds: a burn rate is its two error ratios."""
    return clause.clauses() if isinstance(clause, BurnRate) else (clause,)


@dataclass(frozen=True)
class Alert:
    name: str
    service: str
    summary: str
    description: str
    severity: str  # critical or warning
    route: str  # page or ticket: where this severity goes in this stack
    # How long the condition must hold before Prometheus fires (`for:`); Datadog and Azure judge each
    # evaluation. Burn rates need none: their short window already keeps a blip from firing them.
    hold_minutes: int
    any_of: tuple[tuple[Clause, ...], ...]
    threshold_source: str | None  # the service's settings key the threshold comes from; None: fixed here
    runbook_url: str

    @property
    def slug(self) -> str:
        """The name in resource names: AIInferenceSLOBurnRatePage -> slo-burn-rate-page."""
        words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "-", self.name.removeprefix(PREFIX))
        return words.lower()

    def thresholds(self) -> list[Threshold]:
        """Every clause, burn rates expanded into their two error ratios."""
        return [t for clauses in self.any_of for clause in clauses for t in expand(clause)]


def min_requests(quantile: float) -> int:
    """Requests a window needs before its quantile means anything: one slow request in
    1/(1-q) is exactly the q quantile, so with fewer a single request decides it."""
    return math.ceil(round(1 / (1 - quantile), 6))


def exclusion(alert: Alert, unsupported: Mapping[str, str]) -> str | None:
    """Why a backend that cannot measure some signals cannot express `alert`, or None."""
    reasons = [unsupported[t.signal] for t in alert.thresholds() if t.signal in unsupported]
    return reasons[0] if reasons else None


def roles(alert: Alert) -> list[str]:
    """The contract roles `alert` is measured from, in order, each once."""
    found = [role for t in alert.thresholds()
             for role in ((SLO_ROLES[t.slo],) if t.signal == SLOW_RATIO else SIGNAL_ROLES.get(t.signal, ()))]
    return list(dict.fromkeys(found))


def unmeasurable(alert: Alert, contract: MetricContract) -> str | None:
    """Why the service's server cannot provide what `alert` measures, or None."""
    return contract.missing(tuple(roles(alert)))


class Service(Protocol):
    """What decides a service's alerts: its objectives, what its server measures, whether it has GPUs."""

    @property
    def name(self) -> str: ...
    @property
    def slo(self) -> ServiceSlo: ...
    @property
    def metrics(self) -> MetricContract: ...
    @property
    def gpus(self) -> int: ...


@dataclass(frozen=True)
class ServiceAlerts:
    """The alerts a service gets, and those it is declared but cannot get, with the reason."""

    alerts: tuple[Alert, ...]  # what every backend translates
    excluded: tuple[tuple[Alert, str], ...]  # (entry, why the service's server cannot measure it)

    @property
    def declared(self) -> tuple[Alert, ...]:
        return self.alerts + tuple(alert for alert, _ in self.excluded)

    @property
    def reasons(self) -> Mapping[str, str]:
        """Excluded alert name -> why."""
        return MappingProxyType({alert.name: reason for alert, reason in self.excluded})


def for_service(service: Service, runbook_base_url: str) -> ServiceAlerts:
    """The one place that decides which alerts a service gets: the catalogue's entries for its
    objectives (its GPU alerts when it has GPUs), minus what its server cannot measure."""
    alerts, excluded = [], []
    for alert in _declared(service.name, service.slo, runbook_base_url, gpus=service.gpus > 0):
        reason = unmeasurable(alert, service.metrics)
        if reason is None:
            alerts.append(alert)
        else:
            excluded.append((alert, reason))
    return ServiceAlerts(tuple(alerts), tuple(excluded))


def ratio_windows(alerts: tuple[Alert, ...]) -> dict[str, list[int]]:
    """Every window each SLO's bad-event ratio is measured over, shortest first, by SLO name."""
    found: dict[str, set[int]] = {}
    for t in (t for alert in alerts for t in alert.thresholds() if t.signal in (ERROR_RATIO, SLOW_RATIO)):
        found.setdefault(t.slo, set()).add(t.window_minutes)
    return {slo: sorted(minutes) for slo, minutes in found.items()}


# -- the catalogue -------------------------------------------------------------------

HOUR, DAY = 60, 1440
SIGNAL_WINDOW = 5  # minutes: the seeds' signal alerts look at the last five minutes
MIN_FEEDBACK = 20  # a day's feedback below this is a handful of opinions, not a signal


def _declared(service: str, slo: ServiceSlo, runbook_base_url: str, gpus: bool) -> tuple[Alert, ...]:
    """The catalogue's entries for one service, from its objectives and the stack's routing; GPU alerts when it
    has GPUs. Which of them it gets is for_service's to say."""
    objective = slo.objective
    budget = objective.error_budget
    target = f"{plain(objective.target * 100)}%"
    period = f"{objective.period_days}d"

    def alert(name: str, summary: str, description: str, severity: str, hold: int,
              any_of: tuple[tuple[Clause, ...], ...], source: str | None) -> Alert:
        return Alert(name, service, summary, description, severity, slo.routing[severity], hold, any_of, source,
                     f"{runbook_base_url.rstrip('/')}/{name}")

    def burn_rates(route: str, latency_slo: LatencySlo | None = None) -> tuple[tuple[Clause, ...], ...]:
        of = latency_slo.objective if latency_slo else objective
        name = latency_slo.name if latency_slo else AVAILABILITY
        return tuple((BurnRate(w, w.threshold(of), name),) for w in burn_rate.windows(of, route))

    def windows_text(route: str, of: Objective = objective) -> str:
        return "; ".join(f"{plain(w.burn_rate)}x over {w.name} ({w.budget_share(of):.0%} of the budget)"
                         for w in burn_rate.windows(of, route))

    def latency(quantile: float, seconds: float) -> tuple[tuple[Clause, ...], ...]:
        # "P99 over 5s" is "more than 1% of requests slower than 5s": read from the bucket at 5s against the
        # count, it holds however far the tail runs past the top bucket, where a quantile stops.
        return ((Threshold(LATENCY, SIGNAL_WINDOW, ABOVE, round(1 - quantile, 9), quantile, seconds=seconds),
                 Threshold(REQUESTS, SIGNAL_WINDOW, AT_LEAST, min_requests(quantile))),)

    def latency_slo_alerts(latency_slo: LatencySlo) -> tuple[Alert, ...]:
        of = latency_slo.objective
        name = "".join(word.title() for word in latency_slo.name.split("-"))
        what = latency_slo.name.replace("-", " ")
        promise = (f"{plain(of.target * 100)}% of requests within {plain(latency_slo.threshold_seconds)}s of "
                   f"{what} over {of.period_days}d")
        source = f"slo.latencyObjectives.{next(k for k, v in LATENCY_SLOS.items() if v[0] == latency_slo.name)}"
        return (
            alert(f"AIInference{name}BurnRatePage", f"{service} is burning its {what} budget fast",
                  f"{service} is too slow often enough to spend the budget of its {what} objective ({promise}) "
                  f"within days: {windows_text('page', of)}.",
                  "critical", 0, burn_rates("page", latency_slo), source),
            alert(f"AIInference{name}BurnRateTicket", f"{service} is burning its {what} budget steadily",
                  f"{service} is too slow often enough to spend the budget of its {what} objective ({promise}) "
                  f"before the period ends: {windows_text('ticket', of)}.",
                  "warning", 0, burn_rates("ticket", latency_slo), source),
        )

    def saturation_alerts() -> tuple[Alert, ...]:
        limits = slo.saturation
        return (
            alert("AIInferenceQueueBacklog", f"{service} requests are queueing",
                  f"{service} replicas hold more than {plain(limits.queue_requests)} waiting requests each on "
                  "average over the last 5 minutes: it needs more replicas, or they are stuck.",
                  "warning", 10, ((Threshold(QUEUE, SIGNAL_WINDOW, ABOVE, limits.queue_requests),),),
                  "slo.saturation.queueRequests"),
            alert("AIInferenceKVCacheSaturated", f"{service} KV cache is nearly full",
                  f"A {service} replica used more than {plain(limits.kv_cache_usage * 100)}% of its KV cache over "
                  "the last 5 minutes: new requests wait or preempt running ones.",
                  "warning", 10, ((Threshold(KV_CACHE, SIGNAL_WINDOW, ABOVE, limits.kv_cache_usage),),),
                  "slo.saturation.kvCacheUsage"),
        )

    def gpu_alerts() -> tuple[Alert, ...]:
        limits = slo.saturation
        return (
            alert("AIInferenceGPUSaturated", f"{service} GPUs are saturated",
                  f"{service} GPUs were busy more than {plain(limits.gpu_utilization * 100)}% of the last "
                  "15 minutes: requests queue behind them.",
                  "warning", 15, ((Threshold(GPU_UTILIZATION, 15, ABOVE, limits.gpu_utilization),),),
                  "slo.saturation.gpuUtilization"),
            alert("AIInferenceGPUMemoryHigh", f"{service} GPU memory is nearly full",
                  f"A {service} GPU used more than {plain(limits.gpu_memory_usage * 100)}% of its framebuffer "
                  "memory over the last 5 minutes: the server cannot grow its batches or KV cache.",
                  "warning", 5, ((Threshold(GPU_MEMORY, SIGNAL_WINDOW, ABOVE, limits.gpu_memory_usage),),),
                  "slo.saturation.gpuMemoryUsage"),
            alert("AIInferenceGPUXidError", f"{service} GPU reported an XID error",
                  f"A {service} GPU reported a new XID error (a driver or hardware fault) in the last 5 minutes; "
                  "the value is the error's XID number.",
                  "critical", 0, ((Threshold(GPU_XID, SIGNAL_WINDOW, ABOVE, 0),),), None),
        )

    def quality_alerts() -> tuple[Alert, ...]:
        quality, found = slo.quality, []
        if quality.min_score is not None:
            found.append(alert("AIInferenceModelQualityLow", f"{service} model quality is below objective",
                               f"{service} model quality score averaged under {plain(quality.min_score)} over the "
                               "last hour.", "warning", 0,
                               ((Threshold(QUALITY, HOUR, BELOW, quality.min_score),),), "slo.quality.minScore"))
        if quality.max_drift is not None:
            found.append(alert("AIInferenceModelDriftHigh", f"{service} model inputs are drifting",
                               f"{service} drift score averaged over {plain(quality.max_drift)} over the last hour.",
                               "warning", 0, ((Threshold(DRIFT, HOUR, ABOVE, quality.max_drift),),),
                               "slo.quality.maxDrift"))
        if quality.max_hallucination_rate is not None:
            found.append(alert("AIInferenceHallucinationRateHigh", f"{service} hallucinates too often",
                               f"More than {plain(quality.max_hallucination_rate * 100)}% of {service} answers were "
                               "judged hallucinated, on average over the last hour.", "warning", 0,
                               ((Threshold(HALLUCINATION_RATE, HOUR, ABOVE, quality.max_hallucination_rate),),),
                               "slo.quality.maxHallucinationRate"))
        if quality.max_negative_feedback is not None:
            found.append(alert("AIInferenceNegativeFeedbackHigh", f"{service} users are unhappy",
                               f"More than {plain(quality.max_negative_feedback * 100)}% of {service} user feedback "
                               f"over the last day was negative (judged once {MIN_FEEDBACK} arrived).", "warning", 0,
                               ((Threshold(NEGATIVE_FEEDBACK, DAY, ABOVE, quality.max_negative_feedback),
                                 Threshold(FEEDBACK, DAY, AT_LEAST, MIN_FEEDBACK)),),
                               "slo.quality.maxNegativeFeedback"))
        return tuple(found)

    p95, p99 = plain(slo.p95_seconds), plain(slo.p99_seconds)
    return (
        alert("AIInferenceSLOBurnRatePage", f"{service} is burning its error budget fast",
              f"{service} is failing requests fast enough to spend its {period} error budget (target {target}) "
              f"within days: {windows_text('page')}.",
              "critical", 0, burn_rates("page"), "slo.availability"),
        alert("AIInferenceSLOBurnRateTicket", f"{service} is burning its error budget steadily",
              f"{service} is failing requests fast enough to spend its {period} error budget (target {target}) "
              f"before the period ends: {windows_text('ticket')}.",
              "warning", 0, burn_rates("ticket"), "slo.availability"),
        # The hour's ratio above the budget keeps short bursts within budget from firing it.
        alert("AIInferenceErrorRateHigh", f"{service} error rate is above {plain(slo.error_rate * 100)}%",
              f"More than {plain(slo.error_rate * 100)}% of {service} requests failed over the last 5 minutes, "
              f"and the last hour's errors are above the {target} objective's budget.",
              "warning", 2, ((Threshold(ERROR_RATIO, SIGNAL_WINDOW, ABOVE, slo.error_rate),
                              Threshold(ERROR_RATIO, HOUR, ABOVE, budget)),), "slo.errorRate"),
        alert("AIInferenceLatencyP95High", f"{service} P95 latency is above {p95}s",
              f"More than 5% of {service} requests over the last 5 minutes took longer than {p95}s, its P95 "
              f"objective (judged once at least {min_requests(0.95)} requests were served in them).",
              "warning", 5, latency(0.95, slo.p95_seconds), "slo.latency.p95Seconds"),
        alert("AIInferenceLatencyP99High", f"{service} P99 latency is above {p99}s",
              f"More than 1% of {service} requests over the last 5 minutes took longer than {p99}s, its P99 "
              f"objective (judged once at least {min_requests(0.99)} requests were served in them).",
              "critical", 3, latency(0.99, slo.p99_seconds), "slo.latency.p99Seconds"),
        alert("AIInferenceMetricsEndpointDown", f"{service} metrics cannot be collected",
              f"No metrics endpoint of {service} answers a scrape: its pods are gone or not serving "
              "metrics, and every other alert of the service is blind.",
              "critical", 5, ((Threshold(TARGETS_UP, 0, BELOW, 1),),), None),
        # Only a service that served requests in the last day: a fresh one has nothing to lose.
        alert("AIInferenceNoRequests", f"{service} receives no requests",
              f"{service} served requests in the last day but none in the last 5 minutes.",
              "warning", 5, ((Threshold(REQUESTS, SIGNAL_WINDOW, BELOW, 1),
                              Threshold(REQUESTS, DAY, AT_LEAST, 1)),), None),
        alert("AIInferenceTokenUsageHigh", f"{service} token usage is over budget",
              f"{service} used more than {plain(slo.tokens_per_hour)} input and output tokens in the last hour.",
              "warning", 5, ((Threshold(TOKENS, HOUR, ABOVE, slo.tokens_per_hour),),), "slo.tokensPerHour"),
        alert("AIInferenceCostBudgetExceeded", f"{service} inference cost is over budget",
              f"{service} spent more than ${plain(slo.cost_per_hour)} on inference in the last hour.",
              "warning", 5, ((Threshold(COST, HOUR, ABOVE, slo.cost_per_hour),),), "slo.costPerHour"),
    ) + tuple(a for latency_slo in slo.latency_slos for a in latency_slo_alerts(latency_slo)) \
        + saturation_alerts() + (gpu_alerts() if gpus else ()) + quality_alerts()


# -- the telemetry pipeline ------------------------------------------------------------------

PIPELINE = "otel-collector"  # the workload the pipeline alerts are about
PIPELINE_SHARE = 0.01  # of items failed or refused: a blip is not a loss worth a ticket, 1% is
QUEUE_NEAR_FULL = 0.8


def pipeline_routing(services: tuple[Service, ...]) -> dict[str, str]:
    """Where the pipeline's alerts go: every service's telemetry runs through it, so each severity takes the
    loudest route any service gives it (a page if any service pages on it)."""
    return {severity: "page" if any(s.slo.routing[severity] == "page" for s in services) else "ticket"
            for severity in ("critical", "warning")}


def pipeline_alerts(services: tuple[Service, ...], runbook_base_url: str) -> tuple[Alert, ...]:
    """The collector alerting on itself: App Insights and Datadog receive telemetry through it, so when it is down
    or cannot export, their alerts see no data and stay silent."""
    routing = pipeline_routing(services)

    def alert(name: str, summary: str, description: str, severity: str, hold: int, threshold: Threshold) -> Alert:
        return Alert(name, PIPELINE, summary, description, severity, routing[severity], hold, ((threshold,),),
                     None, f"{runbook_base_url.rstrip('/')}/{name}")

    share = f"{plain(PIPELINE_SHARE * 100)}%"
    return (
        alert("AIInferenceTelemetryCollectorDown", "The telemetry collector cannot be scraped",
              "No OpenTelemetry Collector pod answers a scrape: traces, logs and the metrics it exports reach no "
              "backend, and the App Insights and Datadog alerts that read them are blind.",
              "critical", 5, Threshold(COLLECTOR_UP, 0, BELOW, 1)),
        alert("AIInferenceTelemetryExportFailing", "The telemetry collector fails to export",
              f"An exporter of the collector failed to send more than {share} of what it tried over the last "
              "5 minutes (an expired key, a quota, the backend down): that backend's alerts may be blind.",
              "critical", 10, Threshold(EXPORT_FAILURES, SIGNAL_WINDOW, ABOVE, PIPELINE_SHARE)),
        alert("AIInferenceTelemetryDropped", "The telemetry collector drops data: a sending queue is full",
              "An exporter of the collector could not queue data in the last 5 minutes and dropped it: its "
              "backend is slower than the data arrives, or unreachable.",
              "warning", 5, Threshold(ENQUEUE_FAILURES, SIGNAL_WINDOW, ABOVE, 0)),
        alert("AIInferenceTelemetryRefused", "The telemetry collector refuses data",
              f"The collector's receivers refused more than {share} of the data sent to them over the last 5 "
              "minutes: the memory limiter is refusing it (the collector needs memory or replicas).",
              "warning", 10, Threshold(REFUSED, SIGNAL_WINDOW, ABOVE, PIPELINE_SHARE)),
        alert("AIInferenceTelemetryQueueNearFull", "A telemetry sending queue is nearly full",
              f"An exporter's sending queue held more than {plain(QUEUE_NEAR_FULL * 100)}% of its capacity over "
              "the last 10 minutes: it will drop data once full.",
              "warning", 10, Threshold(QUEUE_FILL, 0, ABOVE, QUEUE_NEAR_FULL)),
        alert("AIInferenceTelemetrySamplersFailing", "The collector fails to hand traces to the samplers",
              f"The load balancer of the first collector tier failed more than {share} of its exports to the "
              "sampling tier over the last 5 minutes (samplers down, refusing, or being replaced): those traces "
              "are lost before sampling.",
              "critical", 10, Threshold(HANDOFF_FAILURES, SIGNAL_WINDOW, ABOVE, PIPELINE_SHARE)),
    )
