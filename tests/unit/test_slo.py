"""The SLO math against the published tables, and the queries built from it."""

import promql_parser
import pytest

from components import slo
from components.settings import MetricContract

CONTRACT = MetricContract("ai_inference_requests_total", "ai_inference_latency_seconds", "ai_tokens_used_total",
                          "ai_inference_cost_dollars_total", "model", "status", "error", "token_type")
SELECTOR = {"job": "ai-inference", "namespace": "ai-inference"}


def rows(objective, windows):
    return [(w.route, w.long_minutes, w.short_minutes, round(objective.burn_rate(w), 6)) for w in windows]


def test_sre_workbook_30_day_page_and_ticket_rows():
    """Google SRE workbook, table 5-8."""
    objective = slo.Objective(0.999, 30)
    assert rows(objective, slo.SRE_WORKBOOK) == [("page", 60, 5, 14.4), ("page", 360, 30, 6), ("ticket", 4320, 360, 1)]
    assert [round(objective.error_ratio_threshold(w), 6) for w in slo.SRE_WORKBOOK] == [0.0144, 0.006, 0.001]


@pytest.mark.parametrize("days, published", [
    (7, [("page", 60, 5, 16.8), ("page", 360, 30, 5.6), ("ticket", 1440, 120, 2.8)]),
    (30, [("page", 60, 5, 14.4), ("page", 360, 30, 6), ("ticket", 1440, 120, 3)]),
    (90, [("page", 60, 5, 21.6), ("page", 360, 30, 10.8), ("ticket", 1440, 120, 4.5)]),
])
def test_datadog_recommended_rows(days, published):
    """docs.datadoghq.com, SLO burn rate alerts: recommended values for 7, 30 and 90-day targets."""
    assert rows(slo.Objective(0.999, days), slo.DATADOG_RECOMMENDED[days]) == published


def test_other_periods_scale_the_workbook_by_the_share_each_window_may_spend():
    assert [round(slo.Objective(0.99, 90).burn_rate(w), 6) for w in slo.SRE_WORKBOOK] == [43.2, 18, 3]
    assert [round(slo.Objective(0.99, 7).burn_rate(w), 6) for w in slo.SRE_WORKBOOK] == [3.36, 1.4, 0.233333]


def test_error_budget():
    assert slo.Objective(0.99, 30).error_budget == pytest.approx(0.01)
    assert slo.Objective(0.999, 30).error_budget == pytest.approx(0.001)


def test_detection_time_of_an_outage():
    fast, slow, ticket = slo.SRE_WORKBOOK
    objective = slo.Objective(0.99, 30)
    # A total outage trips the 1h window once it holds 14.4% errors: 8.64 minutes in.
    assert objective.detection_minutes(fast, 1.0) == pytest.approx(8.64)
    assert objective.detection_minutes(slow, 1.0) == pytest.approx(21.6)
    assert objective.detection_minutes(fast, 0.5) == pytest.approx(17.28)
    assert objective.page_detection_minutes(slo.SRE_WORKBOOK, 1.0) == pytest.approx(8.64)
    # 10% errors never trip the 14.4x window but do trip the 6x one.
    assert objective.detection_minutes(fast, 0.10) is None
    assert objective.page_detection_minutes(slo.SRE_WORKBOOK, 0.10) == pytest.approx(360 * 0.06 / 0.10)
    # Errors within the budget's rate never page.
    assert objective.page_detection_minutes(slo.SRE_WORKBOOK, 0.005) is None
    # The workbook's 99.9% example: a 100% outage is caught by the 1h window in 0.864 minutes.
    assert slo.Objective(0.999, 30).detection_minutes(fast, 1.0) == pytest.approx(0.864)


def test_a_target_too_loose_for_a_window_is_found():
    assert slo.Objective(0.99, 30).impossible_windows(slo.SRE_WORKBOOK) == []
    assert slo.Objective(0.9, 30).impossible_windows(slo.SRE_WORKBOOK) == [slo.SRE_WORKBOOK[0]]


def test_capping_a_window_keeps_its_burn_rate():
    objective = slo.Objective(0.99, 30)
    ticket = slo.SRE_WORKBOOK[2]
    capped = slo.capped(ticket, slo.AZURE_MAX_LOOKBACK)
    assert (capped.long_minutes, capped.short_minutes) == (2880, 240)
    assert objective.burn_rate(capped) == pytest.approx(objective.burn_rate(ticket)) == pytest.approx(1)
    assert slo.capped(slo.SRE_WORKBOOK[0], slo.AZURE_MAX_LOOKBACK) is slo.SRE_WORKBOOK[0]


def test_promql_parses_and_selects_the_contract():
    for minutes in (5, 60, 4320):
        parsed = promql_parser.parse(slo.error_ratio(CONTRACT, SELECTOR, minutes))
        names = []
        promql_parser.walk(parsed, lambda node: names.append(node.name)
                           if isinstance(node, promql_parser.VectorSelector) else None)
        assert names == ["ai_inference_requests_total"] * 2
    condition = slo.burn_rate_condition(slo.Objective(0.99, 30), slo.SRE_WORKBOOK[:2], {"service": "s", "slo": "a"})
    promql_parser.parse(condition)
    assert 'slo:sli_error:ratio_rate1h{service="s",slo="a"} > (14.4 * 0.01)' in condition
    assert 'slo:sli_error:ratio_rate30m{service="s",slo="a"} > (6 * 0.01)' in condition
    promql_parser.parse(slo.latency_quantile(CONTRACT, SELECTOR, 0.95, 5))


def test_error_ratio_counts_the_contract_error_status():
    query = slo.error_ratio(CONTRACT, SELECTOR, 5)
    assert 'ai_inference_requests_total{job="ai-inference",namespace="ai-inference",status="error"}[5m]' in query


def test_datadog_queries_use_the_same_windows_and_burn_rates():
    objective = slo.Objective(0.99, 30)
    assert slo.datadog_burn_rate_query("abc123", objective, slo.DATADOG_RECOMMENDED[30][0]) == \
        'burn_rate("abc123").over("30d").long_window("1h").short_window("5m") > 14.4'
    numerator, denominator = slo.datadog_slo_query(CONTRACT, {"env": "prod", "service": "ai-inference"})
    assert numerator == "sum:inference.ai_inference_requests.count{env:prod,service:ai-inference,!status:error}.as_count()"
    assert denominator == "sum:inference.ai_inference_requests.count{env:prod,service:ai-inference}.as_count()"


def test_kql_uses_the_window_and_its_threshold():
    query = slo.kql_burn_rate(slo.Objective(0.99, 30), slo.SRE_WORKBOOK[0], "ai-inference")
    assert 'cloud_RoleName == "ai-inference"' in query
    assert "error_ratio(1h)" in query and "error_ratio(5m)" in query
    assert "| where long_window > 0.144 and short_window > 0.144" in query
    assert slo.azure_window(slo.SRE_WORKBOOK[0]) == ("PT5M", "PT1H")
    assert slo.azure_window(slo.capped(slo.SRE_WORKBOOK[2], slo.AZURE_MAX_LOOKBACK)) == ("PT1H", "P2D")


def test_thresholds_are_written_readably():
    assert [slo.number(v) for v in (14.4, 6.0, 1.0, 0.01, 1 - 0.999, 0.2333333333)] == \
        ["14.4", "6", "1", "0.01", "0.001", "0.233333"]
