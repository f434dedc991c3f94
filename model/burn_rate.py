"""The burn-rate policy: which windows page or open a ticket, per SLO period. Pure window maths.

A window fires when the error ratio over its long window, and still over its short one
(a twelfth of it, so the alert resolves soon after the errors stop), exceeds

    error ratio threshold = burn rate x error budget

where the burn rate says how many times faster than sustainable the budget is being
spent (Google SRE workbook, ch. 5). Sustained for the whole long window, a burn rate
spends burn rate x long window / period of the period's budget.

One table per SLO period, shared by Prometheus, Datadog and Azure, so the three alert
at the same burn rates over the same windows. The first three rows are Datadog's published
recommendations (docs.datadoghq.com/service_management/service_level_objectives/burn_rate).
The last is the slow burn the SRE workbook tickets at 1x (its 3d/6h row): any burn above
1x exhausts the budget before the period ends, and a 2x burn, which the 3x ticket never
sees, would spend a 30-day budget in 15 days. Its window is 36 hours, the longest every
backend can read with room to spare: Datadog's burn-rate alerts take at most 48 hours, and
an Azure log alert looks back at most two days, ingestion delay included. Below 1x nothing
fires: such a burn leaves budget at the period's end.
"""

from __future__ import annotations

from dataclasses import dataclass

from model.durations import prometheus
from model.slo import DAY, Objective

HOUR = 60


@dataclass(frozen=True)
class Window:
    route: str  # page or ticket
    long_minutes: int
    short_minutes: int
    burn_rate: float

    @property
    def name(self) -> str:
        return f"{prometheus(self.long_minutes)}-{prometheus(self.short_minutes)}"

    def threshold(self, objective: Objective) -> float:
        """The error ratio both windows must exceed."""
        return self.burn_rate * objective.error_budget

    def budget_share(self, objective: Objective) -> float:
        """The share of the period's budget spent by burning at this rate for the long window."""
        return self.burn_rate * self.long_minutes / objective.period_minutes


SLOW_BURN = Window("ticket", 36 * HOUR, 3 * HOUR, 1.0)  # any burn that would exhaust the budget in the period


def _rows(fast: float, slow: float, ticket: float) -> tuple[Window, ...]:
    return (Window("page", HOUR, 5, fast), Window("page", 6 * HOUR, 30, slow), Window("ticket", DAY, 2 * HOUR, ticket),
            SLOW_BURN)


# Datadog's recommended burn rates per SLO period, for 1h/5m and 6h/30m pages and a 24h/2h ticket; then
# the slow burn's 36h/3h ticket at 1x.
POLICY: dict[int, tuple[Window, ...]] = {
    7: _rows(16.8, 5.6, 2.8),
    30: _rows(14.4, 6, 3),
    90: _rows(21.6, 10.8, 4.5),
}
PERIODS_DAYS = tuple(POLICY)


def windows(objective: Objective, route: str | None = None) -> tuple[Window, ...]:
    return tuple(w for w in POLICY[objective.period_days] if route is None or w.route == route)


def impossible_windows(objective: Objective) -> list[Window]:
    """Windows whose threshold needs an error ratio of 100% or more: the budget is too large."""
    return [w for w in windows(objective) if w.threshold(objective) >= 1]


def loosest_target(period_days: int) -> float:
    """Targets must be above this for every window of the period to be able to fire."""
    return 1 - 1 / max(w.burn_rate for w in POLICY[period_days])
