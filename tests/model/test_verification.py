"""The post-deploy gate's rules (model/verification.py): its queries, limits and verdicts.

Limits are the fixture stack's objectives as its file sets them; the tool against a real
Prometheus is tested in tests/e2e.
"""

import promql_parser
import pytest

from model import verification
from model.contract import Matcher
from model.durations import prometheus_seconds
from model.verification import FAIL, NO_DATA, PASS, Tolerance
from tests.helpers import load_settings, metric_of

SERVICE = load_settings("alerting").services[0]
SLO = SERVICE.slo
HEALTHY = {"requests": 500, "error_ratio": 0.0, "p50": 0.01, "p95": 0.05, "p99": 0.1,
           "tokens_per_hour": 10, "cost_per_hour": 0.01}


def results(checks):
    return {c.name: c.result for c in checks}


def vector_selectors(query: str) -> list:
    found: list = []
    promql_parser.walk(promql_parser.parse(query), lambda node: found.append(node) if isinstance(
        node, promql_parser.VectorSelector) else None)
    return found


def test_every_query_parses_and_selects_only_the_contracts_series_of_the_service():
    contract, labels = SERVICE.metrics, {"job": SERVICE.name, "namespace": "ns"}
    canary = (Matcher("version", "2.0.0", negated=True),)
    for signal, query in verification.queries(contract, labels, "10m", 600, canary).items():
        selected = vector_selectors(query)
        assert selected, signal
        for node in selected:
            assert node.name in {metric_of(contract, "requests"), f"{metric_of(contract, 'latency')}_bucket",
                                 metric_of(contract, "input_tokens"), metric_of(contract, "cost")}
            ops = {(m.name, str(m.op), m.value) for m in node.matchers.matchers}
            equal, not_equal = str(promql_parser.MatchOp.Equal), str(promql_parser.MatchOp.NotEqual)
            assert {("job", equal, SERVICE.name), ("namespace", equal, "ns"), ("version", not_equal, "2.0.0")} <= ops


def test_a_healthy_window_passes_every_objective_of_the_stack():
    checks = verification.objectives(SLO, HEALTHY, 100)
    assert set(results(checks).values()) == {PASS}
    # Each limit is the stack's own number, named by its key.
    limits = {c.source: c.limit for c in checks}
    assert limits["slo.errorRate"] == SLO.error_rate and limits["slo.latency.p95Seconds"] == SLO.p95_seconds
    assert limits["slo.latency.p99Seconds"] == SLO.p99_seconds and limits["slo.costPerHour"] == SLO.cost_per_hour


@pytest.mark.parametrize(("signal", "check", "over"), [
    ("error_ratio", "error ratio", SLO.error_rate), ("p95", "P95 s", SLO.p95_seconds),
    ("p99", "P99 s", SLO.p99_seconds), ("tokens_per_hour", "tokens/h", SLO.tokens_per_hour),
    ("cost_per_hour", "cost/h USD", SLO.cost_per_hour)])
def test_each_objective_fails_just_above_its_limit_and_holds_at_it(signal, check, over):
    at = results(verification.objectives(SLO, {**HEALTHY, signal: over}, 100))
    above = verification.objectives(SLO, {**HEALTHY, signal: over * 1.001}, 100)
    assert at[check] == PASS and results(above)[check] == FAIL
    assert verification.Judgement("s", tuple(above)).result == FAIL
    assert verification.Judgement("s", tuple(above)).reasons[0].startswith(f"{check} ")


def test_too_little_traffic_is_no_data_not_health():
    for requests in (None, 0, 99):
        checks = verification.objectives(SLO, {**HEALTHY, "requests": requests}, 100)
        assert results(checks) == {"requests": NO_DATA}
        assert verification.Judgement("s", tuple(checks)).result == NO_DATA


def test_a_missing_signal_is_no_data_and_a_failure_outweighs_it():
    missing = verification.objectives(SLO, {**HEALTHY, "tokens_per_hour": None}, 100)
    assert verification.overall(c.result for c in missing) == NO_DATA
    both = verification.objectives(SLO, {**HEALTHY, "tokens_per_hour": None, "error_ratio": 0.9}, 100)
    assert verification.overall(c.result for c in both) == FAIL
    assert verification.overall([]) == NO_DATA  # nothing judged is not a pass


def test_a_regression_beyond_the_tolerance_fails_under_the_objective():
    tolerance = Tolerance(error_ratio=0.01, latency=0.2, latency_floor_seconds=0.025)
    before = {**HEALTHY, "error_ratio": 0.002, "p95": 0.5, "p99": 0.6}
    within = {**HEALTHY, "error_ratio": 0.012, "p95": 0.6, "p99": 0.72}
    worse = {**HEALTHY, "error_ratio": 0.0121, "p95": 0.601, "p99": 0.73}
    assert set(results(verification.regressions(within, before, "baseline", tolerance, 100)).values()) == {PASS}
    failed = results(verification.regressions(worse, before, "baseline", tolerance, 100))
    assert failed == {"error ratio vs baseline": FAIL, "P95 s vs baseline": FAIL, "P99 s vs baseline": FAIL}


def test_a_fast_reference_allows_the_latency_floor_not_a_fifth():
    tolerance = Tolerance()
    before = {**HEALTHY, "p95": 0.005, "p99": 0.005}
    checks = {c.name: c for c in verification.regressions({**HEALTHY, "p95": 0.029, "p99": 0.031}, before,
                                                           "stable", tolerance, 100)}
    assert checks["P95 s vs stable"].result == PASS and checks["P99 s vs stable"].result == FAIL
    assert checks["P95 s vs stable"].limit == pytest.approx(0.005 + tolerance.latency_floor_seconds)


def test_a_reference_without_traffic_cannot_be_compared():
    checks = verification.regressions(HEALTHY, {**HEALTHY, "requests": 3}, "stable", Tolerance(), 100)
    assert results(checks) == {"requests of stable": NO_DATA}


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("10m", 600), ("1h", 3600), ("2d", 172800)])
def test_windows_read_as_prometheus_writes_them(text, seconds):
    assert prometheus_seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "10", "m", "0m", "1.5h", "1h30m", "-5m", "10w"])
def test_other_windows_are_refused(text):
    with pytest.raises(ValueError, match="Prometheus duration"):
        prometheus_seconds(text)
