"""The alert catalogue and the dialects' own rules, on objectives built here."""

from dataclasses import dataclass, replace
from typing import Any

import promql_parser
import pytest

from model import catalogue, routing
from model.contract import Histogram, MetricContract
from model.dialects import azure, datadog, prometheus
from model.presets import DEFAULT
from model.slo import Objective, ServiceSlo

RUNBOOKS = "https://runbooks.example.com/team"


def slo(target=0.99, days=30, routes=None):
    return ServiceSlo(Objective(target, days), error_rate=0.05, p95_seconds=1, p99_seconds=5, cost_per_hour=10,
                      tokens_per_hour=1000, routing=routes or {"critical": "page", "warning": "ticket"})


@dataclass(frozen=True)
class Service:
    """The fields catalogue.for_service reads of a service's settings."""

    name: str
    slo: ServiceSlo
    metrics: MetricContract = DEFAULT
    gpus: int = 0


def service_alerts(slo: ServiceSlo, runbooks: str = RUNBOOKS, **fields: Any) -> tuple[catalogue.Alert, ...]:
    return catalogue.for_service(Service("svc", slo, **fields), runbooks).alerts


def test_every_alert_is_named_once_routed_by_its_severity_and_linked_to_its_runbook():
    alerts = service_alerts(slo(routes={"critical": "ticket", "warning": "ticket"}), RUNBOOKS + "/")
    names = [a.name for a in alerts]
    assert len(set(names)) == len(names) and all(n.startswith(catalogue.PREFIX) for n in names)
    assert {a.route for a in alerts} == {"ticket"}
    assert all(a.runbook_url == f"{RUNBOOKS}/{a.name}" for a in alerts)
    assert all(a.severity in ("critical", "warning") for a in alerts)
    # Burn rates hold through their short window; a signal alert holds for a while before Prometheus fires it.
    assert all(a.hold_minutes == 0 for a in alerts if "BurnRate" in a.name)
    assert all(a.hold_minutes > 0 for a in alerts if "BurnRate" not in a.name)  # no GPU, no quality objective
    assert {a.slug for a in alerts} >= {"slo-burn-rate-page", "error-rate-high", "latency-p99-high"}


@pytest.mark.parametrize("quantile, requests", [(0.5, 2), (0.9, 10), (0.95, 20), (0.99, 100), (0.999, 1000)])
def test_a_quantile_is_judged_once_one_request_cannot_decide_it(quantile, requests):
    assert catalogue.min_requests(quantile) == requests


def test_the_error_ratio_is_recorded_over_every_window_an_alert_reads():
    alerts = service_alerts(slo(days=7))
    assert catalogue.ratio_windows(alerts) == {"availability": [5, 30, 60, 120, 180, 360, 1440, 2160]}


def test_a_backend_that_cannot_measure_a_signal_excludes_the_alerts_using_it():
    alerts = {a.name: a for a in service_alerts(slo())}
    assert (catalogue.exclusion(alerts["AIInferenceCostBudgetExceeded"], azure.UNSUPPORTED) or "").startswith(
        "App Insights")
    assert catalogue.exclusion(alerts["AIInferenceErrorRateHigh"], azure.UNSUPPORTED) is None
    with pytest.raises(ValueError, match="cannot be expressed in KQL"):
        azure.query(alerts["AIInferenceTokenUsageHigh"], "ns.svc", ["/health"])


@pytest.mark.parametrize("days", [7, 30, 90])
def test_every_alert_is_valid_promql_selecting_the_service(days):
    alerts = service_alerts(slo(target=0.999, days=days))
    group = prometheus.rule_group(alerts, slo(target=0.999, days=days), DEFAULT, "ns", "team")
    for rule in group["rules"]:
        promql_parser.parse(rule["expr"])
    assert [r["record"] for r in group["rules"] if "record" in r][:8] == [
        f"slo:sli_error:ratio_rate{w}" for w in ("5m", "30m", "1h", "2h", "3h", "6h", "1d", "36h")]


def test_latency_objectives_count_the_requests_slower_than_them_in_each_backend_and_its_unit():
    """P95 over 1s is more than 5% of requests slower than 1s: the 1s bucket against the count in Prometheus,
    a threshold query in Datadog (in the histogram's unit: Triton's are milliseconds), and App Insights'
    durations (milliseconds) in KQL."""
    alerts = {a.name: a for a in service_alerts(slo())}
    p95 = alerts["AIInferenceLatencyP95High"]
    latency, guard = p95.any_of[0]
    assert isinstance(latency, catalogue.Threshold) and isinstance(guard, catalogue.Threshold)
    assert (latency.value, latency.seconds, guard.value) == (0.05, 1, 20)
    promql = prometheus.measure(latency, DEFAULT, {"job": "svc"}, "svc")
    assert 'ai_inference_latency_seconds_bucket{job="svc",le=~"1\\\\.0|1"}[5m]' in promql
    assert 'ai_inference_latency_seconds_count{job="svc"}[5m]' in promql
    millis = replace(DEFAULT, latency=Histogram("latency_ms", (500, 1000, 2000), unit_seconds=0.001))
    assert "count(v: v>1000):inference.latency_ms{env:e,service:svc}.as_count()" in \
        datadog.threshold_query(latency, millis, "e", "svc")
    kql = azure.query(p95, "ns.svc", ["/health"])
    assert "countif(timestamp > ago(8m) and duration > 1000)" in kql and "over_p95_5m > 0.05" in kql


def test_routing_with_one_route_needs_no_inhibition():
    spec = routing.alertmanager_config({"ticket": "slack"}, "secret")
    assert "inhibitRules" not in spec and spec["route"]["receiver"] == "ticket"
    assert [r["receiver"] for r in spec["route"]["routes"]] == ["ticket"]
    spec = routing.alertmanager_config({"page": "webhook"}, "secret")
    assert spec["route"]["receiver"] == "page"
    assert spec["receivers"] == [{"name": "page", "webhookConfigs": [
        {"urlSecret": {"name": "secret", "key": "page"}, "sendResolved": True}]}]


def test_every_threshold_source_is_a_key_the_settings_read():
    from tests.helpers import problems

    sources = {a.threshold_source for a in service_alerts(slo()) if a.threshold_source}
    assert sources >= {"slo.availability", "slo.errorRate", "slo.latency.p95Seconds", "slo.tokensPerHour"}
    for source in sources:
        value: Any = "not a number"
        for part in reversed(source.split(".")):
            value = {part: value}
        service = {"name": "s", "image": "registry.example.com/s:1", "model": {"name": "m", "version": "1"}, **value}
        found = problems("alerting", {"services": [service]})
        assert any(p.startswith(f"ai-observability:services[0] (s).{source} ") for p in found), (source, found)


def test_a_service_gets_gpu_alerts_with_gpus_and_loses_what_its_server_cannot_measure():
    from model.presets import TGI
    plain = catalogue.for_service(Service("svc", slo()), RUNBOOKS)
    gpu = catalogue.for_service(Service("svc", slo(), gpus=2), RUNBOOKS)
    added = {a.name for a in gpu.alerts} - {a.name for a in plain.alerts}
    assert added == {"AIInferenceGPUSaturated", "AIInferenceGPUMemoryHigh", "AIInferenceGPUXidError"}
    assert plain.excluded == ()  # the default contract measures every entry
    tgi = catalogue.for_service(Service("svc", slo(), metrics=TGI), RUNBOOKS)
    # TGI lacks the cost, TTFT and KV-cache roles (model/presets.py): their alerts go, each with TGI's reason.
    assert {a.name for a in tgi.declared} == {a.name for a in plain.declared}
    assert set(tgi.reasons) == {"AIInferenceCostBudgetExceeded", "AIInferenceKVCacheSaturated"}
    assert tgi.reasons["AIInferenceKVCacheSaturated"].startswith("TGI does not provide KV-cache usage")
    assert not set(tgi.reasons) & {a.name for a in tgi.alerts}
