"""A service's objectives: the availability SLO and the thresholds of its signal alerts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

DAY = 1440  # minutes
SEVERITIES = ("critical", "warning")
ROUTES = ("page", "ticket")


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
class ServiceSlo:
    objective: Objective  # availability: the share of successful requests over the period
    error_rate: float  # the error-ratio alert's threshold
    p95_seconds: float
    p99_seconds: float
    cost_per_hour: float  # USD
    tokens_per_hour: int
    routing: Mapping[str, str]  # severity -> route (page or ticket)
