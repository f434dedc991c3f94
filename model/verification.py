"""The post-deploy gate's rules: what is measured, against which limit, and the verdict (pure).

Every limit comes from the service's own objectives (ServiceSlo: the same numbers its alerts
use), so a threshold is never written twice. A deployment is also judged against the same
service before it (a baseline) or, for a canary, against the stable version beside it:
a regression beyond a tolerance fails even while the objective still holds.

tools/verify.py asks Prometheus; this module only builds the queries and judges the answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from model import catalogue
from model.contract import Matcher, MetricContract, Series
from model.dialects import prometheus as dialect
from model.numbers import plain
from model.slo import ServiceSlo

PASS, FAIL, NO_DATA = "pass", "fail", "no data"
EXIT_CODES = {PASS: 0, FAIL: 1, NO_DATA: 2}  # no data: the gate could not judge
QUANTILES = {"p50": 0.5, "p95": 0.95, "p99": 0.99}
# Requests a window needs to be judged: enough for P99 to mean anything (with fewer, one request decides it).
MIN_REQUESTS = catalogue.min_requests(0.99)


@dataclass(frozen=True)
class Tolerance:
    """How much worse than its reference (baseline or stable) a deployment may measure."""

    error_ratio: float = 0.01  # absolute: one more failed request in a hundred
    latency: float = 0.2  # relative: 20% slower
    # Below this a latency difference is the histogram's interpolation, not a regression.
    latency_floor_seconds: float = 0.025


def queries(contract: MetricContract, labels: Mapping[str, str], window: str, window_seconds: float,
            extra: tuple[Matcher, ...] = ()) -> dict[str, str]:
    """The PromQL of each measured signal the server provides over `window`, for the series `labels` and
    `extra` select.

    A signal whose series do not exist answers nothing, which the gate reports as no data;
    an existing counter that did not grow answers 0.
    """
    def count(role: Series) -> str:
        return f"sum(increase({dialect.series(role.metric, labels, extra + role.matchers)}[{window}]))"

    per_hour = plain(3600 / window_seconds)
    found: dict[str, str] = {}
    if contract.requests:
        found["requests"] = requests = count(contract.requests)
        if contract.errors:  # no error series yet means no errors yet: 0 whenever requests were served
            found["error_ratio"] = f"({count(contract.errors)} or 0 * {requests}) / {requests}"
    if contract.latency:
        latency = contract.latency
        buckets = dialect.series(f"{latency.metric}_bucket", labels, extra + latency.matchers)
        found.update({name: latency.in_seconds(f"histogram_quantile({plain(q)}, sum by (le) "
                                               f"(increase({buckets}[{window}])))")
                      for name, q in QUANTILES.items()})
    if contract.input_tokens and contract.output_tokens:
        found["tokens_per_hour"] = f"({count(contract.input_tokens)} + {count(contract.output_tokens)}) * {per_hour}"
    if contract.cost:
        found["cost_per_hour"] = f"{count(contract.cost)} * {per_hour}"
    return found


@dataclass(frozen=True)
class Check:
    name: str  # what a reader sees: "error ratio", "P95 vs baseline"
    value: float | None  # None: no data
    limit: float | None
    result: str  # PASS, FAIL or NO_DATA
    source: str  # where the limit comes from

    @property
    def reason(self) -> str:
        if self.result == NO_DATA:
            return f"{self.name}: no data"
        relation = "above" if self.result == FAIL else "within"
        return f"{self.name} {show(self.value)} {relation} {show(self.limit)} ({self.source})"


def show(value: float | None) -> str:
    return "-" if value is None else plain(round(value, 4))


@dataclass(frozen=True)
class Judgement:
    service: str
    checks: tuple[Check, ...]
    measured: Mapping[str, float | None] = field(default_factory=dict)

    @property
    def result(self) -> str:
        return overall(c.result for c in self.checks)

    @property
    def reasons(self) -> list[str]:
        return [c.reason for c in self.checks if c.result != PASS]


def overall(results) -> str:
    """Any failure fails; otherwise any missing measurement means the gate could not judge."""
    results = list(results)
    if FAIL in results:
        return FAIL
    return NO_DATA if NO_DATA in results or not results else PASS


def at_most(name: str, value: float | None, limit: float, source: str) -> Check:
    if value is None:
        return Check(name, None, limit, NO_DATA, source)
    return Check(name, value, limit, PASS if value <= limit else FAIL, source)


def objectives(slo: ServiceSlo, measured: Mapping[str, float | None], min_requests: int) -> list[Check]:
    """The window against the service's objectives; too little traffic is no data, not health."""
    requests = measured.get("requests")
    if requests is None or requests < min_requests:
        return [Check("requests", requests, min_requests, NO_DATA, f"at least {min_requests} to judge")]
    # A signal the server does not provide was never asked for (queries), so it is not judged.
    return [Check("requests", requests, min_requests, PASS, f"at least {min_requests} to judge"),
            *(at_most(name, measured.get(key), limit, source) for name, key, limit, source in limits(slo)
              if key in measured)]


def limits(slo: ServiceSlo) -> tuple[tuple[str, str, float, str], ...]:
    """What a window is held to: (check, measured signal, limit, the stack key the limit comes from)."""
    return (("error ratio", "error_ratio", slo.error_rate, "slo.errorRate"),
            ("P95 s", "p95", slo.p95_seconds, "slo.latency.p95Seconds"),
            ("P99 s", "p99", slo.p99_seconds, "slo.latency.p99Seconds"),
            ("tokens/h", "tokens_per_hour", slo.tokens_per_hour, "slo.tokensPerHour"),
            ("cost/h USD", "cost_per_hour", slo.cost_per_hour, "slo.costPerHour"))


def latency_limit(reference: float, tolerance: Tolerance) -> float:
    """How slow a quantile may measure against its reference's: a share slower, or a floor's worth."""
    return max(reference * (1 + tolerance.latency), reference + tolerance.latency_floor_seconds)


def regressions(measured: Mapping[str, float | None], reference: Mapping[str, float | None], against: str,
                tolerance: Tolerance, min_requests: int) -> list[Check]:
    """The window against a reference window (`against`: "baseline" or "stable"): error ratio and latency."""
    source = f"{against} + tolerance"
    if (reference.get("requests") or 0) < min_requests:
        return [Check(f"requests of {against}", reference.get("requests"), min_requests, NO_DATA,
                      f"at least {min_requests} to compare")]
    checks = []
    ratio, reference_ratio = measured.get("error_ratio"), reference.get("error_ratio")
    checks.append(at_most(f"error ratio vs {against}", ratio, (reference_ratio or 0) + tolerance.error_ratio, source)
                  if reference_ratio is not None else Check(f"error ratio vs {against}", ratio, None, NO_DATA, source))
    for name in ("p95", "p99"):
        value, before = measured.get(name), reference.get(name)
        label = f"{name.upper()} s vs {against}"
        if before is None:
            checks.append(Check(label, value, None, NO_DATA, source))
            continue
        checks.append(at_most(label, value, latency_limit(before, tolerance), source))
    return checks
