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

from model import burn_rate
from model.burn_rate import Window
from model.durations import prometheus
from model.numbers import plain
from model.slo import ServiceSlo

# What a clause measures.
ERROR_RATIO = "error_ratio"  # failed requests over all requests
LATENCY = "latency"  # a quantile of request latency, in seconds
REQUESTS = "requests"  # how many requests were served
TOKENS = "tokens"  # input and output tokens used
COST = "cost"  # inference cost, USD
TARGETS_UP = "targets_up"  # the service's metrics endpoints that answer a scrape
SIGNALS = (ERROR_RATIO, LATENCY, REQUESTS, TOKENS, COST, TARGETS_UP)

ABOVE, AT_LEAST, BELOW = ">", ">=", "<"
PREFIX = "AIInference"  # every alert's name starts with it


@dataclass(frozen=True)
class Threshold:
    """`signal` over the last `window_minutes` compared with `value` (an instant when the window is 0)."""

    signal: str
    window_minutes: int
    comparator: str
    value: float
    quantile: float | None = None  # which latency quantile

    def __str__(self) -> str:
        what = f"p{plain(self.quantile * 100)} latency" if self.quantile else self.signal.replace("_", " ")
        over = f" over {prometheus(self.window_minutes)}" if self.window_minutes else ""
        return f"{what}{over} {self.comparator} {plain(self.value)}"


@dataclass(frozen=True)
class BurnRate:
    """The error ratio over both windows of a policy row above the row's threshold."""

    window: Window
    threshold: float  # the error ratio: burn rate x error budget

    def clauses(self) -> tuple[Threshold, Threshold]:
        return (Threshold(ERROR_RATIO, self.window.long_minutes, ABOVE, self.threshold),
                Threshold(ERROR_RATIO, self.window.short_minutes, ABOVE, self.threshold))


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


def error_ratio_windows(alerts: tuple[Alert, ...]) -> list[int]:
    """Every window an error ratio is measured over, shortest first."""
    return sorted({t.window_minutes for alert in alerts for t in alert.thresholds() if t.signal == ERROR_RATIO})


# -- the catalogue -------------------------------------------------------------------

HOUR, DAY = 60, 1440
SIGNAL_WINDOW = 5  # minutes: the seeds' signal alerts look at the last five minutes


def service_alerts(service: str, slo: ServiceSlo, runbook_base_url: str) -> tuple[Alert, ...]:
    """The alerts of one service, from its objectives and the stack's routing."""
    objective = slo.objective
    budget = objective.error_budget
    target = f"{plain(objective.target * 100)}%"
    period = f"{objective.period_days}d"

    def alert(name: str, summary: str, description: str, severity: str, hold: int,
              any_of: tuple[tuple[Clause, ...], ...], source: str | None) -> Alert:
        return Alert(name, service, summary, description, severity, slo.routing[severity], hold, any_of, source,
                     f"{runbook_base_url.rstrip('/')}/{name}")

    def burn_rates(route: str) -> tuple[tuple[Clause, ...], ...]:
        return tuple((BurnRate(w, w.threshold(objective)),) for w in burn_rate.windows(objective, route))

    def windows_text(route: str) -> str:
        return "; ".join(f"{plain(w.burn_rate)}x over {w.name} ({w.budget_share(objective):.0%} of the budget)"
                         for w in burn_rate.windows(objective, route))

    def latency(quantile: float, seconds: float) -> tuple[tuple[Clause, ...], ...]:
        return ((Threshold(LATENCY, SIGNAL_WINDOW, ABOVE, seconds, quantile),
                 Threshold(REQUESTS, SIGNAL_WINDOW, AT_LEAST, min_requests(quantile))),)

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
              f"{service} P95 latency over the last 5 minutes is above {p95}s "
              f"(judged once at least {min_requests(0.95)} requests were served in them).",
              "warning", 5, latency(0.95, slo.p95_seconds), "slo.latency.p95Seconds"),
        alert("AIInferenceLatencyP99High", f"{service} P99 latency is above {p99}s",
              f"{service} P99 latency over the last 5 minutes is above {p99}s "
              f"(judged once at least {min_requests(0.99)} requests were served in them).",
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
    )
