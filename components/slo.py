"""SLO math, pure: error budget, multi-window multi-burn-rate windows, detection time, and the
PromQL, Datadog and KQL built from the same windows so the three backends cannot drift apart.

A window says: page (or open a ticket) when the error ratio over the long window, and still
over the short one, burns the error budget fast enough to spend `budget_share` of the whole
period's budget within the long window. Its burn rate follows (Google SRE workbook, ch. 5):

    burn rate = budget share x period / long window
    error ratio threshold = burn rate x (1 - target)

so a table written for one period scales to any other by its shares.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Mapping, Optional

from components import datadog_metrics
from components.durations import iso, prometheus

if TYPE_CHECKING:
    from components.settings import MetricContract

DAY = 1440  # minutes
PERIODS_DAYS = (7, 30, 90)  # the SLO periods Datadog offers, so every backend can share one
AZURE_MAX_LOOKBACK = 2 * DAY  # log search alerts query at most two days


@dataclass(frozen=True)
class Window:
    route: str  # "page" or "ticket"
    long_minutes: int
    short_minutes: int
    budget_share: float  # of the period's error budget spent when burning over the long window

    @property
    def name(self) -> str:
        return f"{prometheus(self.long_minutes)}-{prometheus(self.short_minutes)}"


# Google SRE workbook, table 5-8: the recommended starting point, for a 30-day SLO.
SRE_WORKBOOK = (
    Window("page", 60, 5, 0.02),
    Window("page", 6 * 60, 30, 0.05),
    Window("ticket", 3 * DAY, 6 * 60, 0.10),
)

# Datadog's recommended burn rate alerts for its SLO periods (long windows at most 48 hours).
DATADOG_RECOMMENDED = {
    7: (Window("page", 60, 5, 0.10), Window("page", 6 * 60, 30, 0.20), Window("ticket", DAY, 120, 0.40)),
    30: (Window("page", 60, 5, 0.02), Window("page", 6 * 60, 30, 0.05), Window("ticket", DAY, 120, 0.10)),
    90: (Window("page", 60, 5, 0.01), Window("page", 6 * 60, 30, 0.03), Window("ticket", DAY, 120, 0.05)),
}


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

    def burn_rate(self, window: Window) -> float:
        return window.budget_share * self.period_minutes / window.long_minutes

    def error_ratio_threshold(self, window: Window) -> float:
        return self.burn_rate(window) * self.error_budget

    def detection_minutes(self, window: Window, error_ratio: float) -> Optional[float]:
        """How long an outage at `error_ratio`, starting from a clean window, takes to trip `window`.

        The long window's ratio grows linearly to `error_ratio` over the long window; the short
        one gets there sooner. None when the outage never crosses the threshold.
        """
        threshold = self.error_ratio_threshold(window)
        if error_ratio <= threshold:
            return None
        return window.long_minutes * threshold / error_ratio

    def page_detection_minutes(self, windows: tuple[Window, ...], error_ratio: float) -> Optional[float]:
        times = [t for w in windows if w.route == "page"
                 for t in [self.detection_minutes(w, error_ratio)] if t is not None]
        return min(times) if times else None

    def impossible_windows(self, windows: tuple[Window, ...]) -> list[Window]:
        """Windows whose threshold needs an error ratio above 100%: the target is too loose."""
        return [w for w in windows if self.error_ratio_threshold(w) >= 1]


def capped(window: Window, max_long_minutes: int) -> Window:
    """The same burn rate over a backend's longest lookback, the short window kept at 1/12."""
    if window.long_minutes <= max_long_minutes:
        return window
    factor = max_long_minutes / window.long_minutes
    return replace(window, long_minutes=max_long_minutes, short_minutes=max_long_minutes // 12,
                   budget_share=window.budget_share * factor)


def number(value: float) -> str:
    """A threshold as rules show it: 14.4, 6, 0.01 (six significant digits)."""
    return f"{value:.6g}"


# -- Prometheus ------------------------------------------------------------------------

RECORDED_ERROR_RATIO = "slo:sli_error:ratio_rate{window}"


def matchers(labels: Mapping[str, str]) -> str:
    return ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))


def error_ratio(contract: MetricContract, selector: Mapping[str, str], minutes: int) -> str:
    """Failed over all requests in the window; NaN (never alerting) without traffic."""
    errors = {**selector, contract.status_label: contract.error_status}
    window = prometheus(minutes)
    return (f"sum(rate({contract.requests}{{{matchers(errors)}}}[{window}]))\n"
            f"/\nsum(rate({contract.requests}{{{matchers(selector)}}}[{window}]))")


def recorded_error_ratio(minutes: int) -> str:
    return RECORDED_ERROR_RATIO.format(window=prometheus(minutes))


def burn_rate_condition(objective: Objective, windows: tuple[Window, ...], slo_labels: Mapping[str, str]) -> str:
    """Any window whose long and short error ratios both exceed its threshold (recorded ratios)."""
    clauses = []
    for window in windows:
        threshold = f"({number(objective.burn_rate(window))} * {number(objective.error_budget)})"
        clauses.append(f"(\n  {recorded_error_ratio(window.long_minutes)}{{{matchers(slo_labels)}}} > {threshold}\n"
                       f"  and\n  {recorded_error_ratio(window.short_minutes)}{{{matchers(slo_labels)}}} > {threshold}\n)")
    return "\nor\n".join(clauses)


def latency_quantile(contract: MetricContract, selector: Mapping[str, str], quantile: float, minutes: int) -> str:
    return (f"histogram_quantile({number(quantile)}, sum by (le) "
            f"(rate({contract.latency}_bucket{{{matchers(selector)}}}[{prometheus(minutes)}])))")


# -- Datadog ---------------------------------------------------------------------------

def datadog_scope(tags: Mapping[str, str], exclude: Mapping[str, str] | None = None) -> str:
    scope = [f"{key}:{value}" for key, value in sorted(tags.items())]
    scope += [f"!{key}:{value}" for key, value in sorted((exclude or {}).items())]
    return "{" + ",".join(scope) + "}"


def datadog_slo_query(contract: MetricContract, tags: Mapping[str, str]) -> tuple[str, str]:
    """Numerator (good requests) and denominator (all requests) of a metric-based SLO."""
    metric = datadog_metrics.count(contract.requests)
    good = datadog_scope(tags, exclude={contract.status_label: contract.error_status})
    return f"sum:{metric}{good}.as_count()", f"sum:{metric}{datadog_scope(tags)}.as_count()"


def datadog_burn_rate_query(slo_id: str, objective: Objective, window: Window) -> str:
    return (f'burn_rate("{slo_id}").over("{objective.period_days}d")'
            f'.long_window("{prometheus(window.long_minutes)}").short_window("{prometheus(window.short_minutes)}")'
            f" > {number(objective.burn_rate(window))}")


# -- Azure Monitor (KQL over the App Insights requests) --------------------------------------

def kql_burn_rate(objective: Objective, window: Window, role: str) -> str:
    """One row when both windows' error ratios exceed the threshold; the alert fires on any row."""
    threshold = number(objective.error_ratio_threshold(window))
    return (
        "let error_ratio = (lookback: timespan) {\n"
        "    toscalar(requests\n"
        f"        | where timestamp > ago(lookback) and cloud_RoleName == {json.dumps(role)}\n"
        "        | summarize iff(count() == 0, 0.0, todouble(countif(success == false)) / count()))\n"
        "};\n"
        # KQL reads timespans such as 5m, 1h and 2d the way Prometheus writes them.
        f"print long_window = error_ratio({prometheus(window.long_minutes)}), "
        f"short_window = error_ratio({prometheus(window.short_minutes)})\n"
        f"| where long_window > {threshold} and short_window > {threshold}"
    )


def azure_window(window: Window) -> tuple[str, str]:
    """The rule's evaluation frequency and query window (ISO 8601) for a burn-rate window."""
    frequency = "PT5M" if window.route == "page" else "PT1H"
    return frequency, iso(window.long_minutes)
