"""The rendered Prometheus rules under promtool: `check rules` for every stack, and the alerting
behaviours the catalogue promises as `promtool test rules` cases on the `alerting` fixture stack.

Fixture: `chat` is 99.9% over 7 days (page 16.8x over 1h/5m: an error ratio of 0.0168; 5.6x over
6h/30m: 0.0056; ticket 2.8x over 24h/2h: 0.0028) with a 2% error-rate alert, P95 2 s, P99 8 s,
2M tokens and $40 an hour. `scorer` is 99% over 90 days (page 21.6x: 0.216; 10.8x: 0.108;
ticket 4.5x: 0.045) with the default 5% error-rate alert, P95 0.5 s, P99 2 s, on a renamed
contract (scoring_requests_total{outcome="failure"}). Both run in namespace `models` for team
`inference`. Each case's comment says when its alert must fire and why.
"""

import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests import promtool
from tests.helpers import FIXTURES, counter, read_yaml, stack_plan
from tools import render, stack_config

IN_CI = os.environ.get("CI") == "true"
EVERY_STACK = sorted(set(stack_config.stacks()) | set(stack_config.stacks(FIXTURES)))

# Real promtool, amtool and Alertmanager processes: the slow layer (make test runs it, make test-fast not).
pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    promtool.PROMTOOL is None and not IN_CI,
    reason="PROMTOOL NOT INSTALLED: the Prometheus rule tests did not run "
           "(install Debian's prometheus package; CI does, and fails without it)")]

NAMESPACE, TEAM = "models", "inference"
ALERTS = ("AIInferenceSLOBurnRatePage", "AIInferenceSLOBurnRateTicket", "AIInferenceErrorRateHigh",
          "AIInferenceLatencyP95High", "AIInferenceLatencyP99High", "AIInferenceMetricsEndpointDown",
          "AIInferenceNoRequests", "AIInferenceTokenUsageHigh", "AIInferenceCostBudgetExceeded")


@pytest.mark.parametrize("stack", EVERY_STACK)
def test_every_stacks_rules_pass_promtool_check(stack, tmp_path):
    (rules, text), = render.write_rules(stack_plan(stack), tmp_path).items()
    count = sum(len(group["rules"]) for group in read_yaml(text)["groups"])
    result = subprocess.run([promtool.executable(), "check", "rules", rules.name], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {count} rules found" in result.stdout


# -- series ------------------------------------------------------------------------------

def requests(service: str, success: str, errors: str) -> list[dict]:
    metric, status, error = (("scoring_requests_total", "outcome", "failure") if service == "scorer"
                             else ("ai_inference_requests_total", "status", "error"))
    labels = f'job="{service}",namespace="{NAMESPACE}"'
    return [{"series": f'{metric}{{{labels},{status}="success"}}', "values": success},
            {"series": f'{metric}{{{labels},{status}="{error}"}}', "values": errors}, scraped(service)]


def latency(service: str, buckets: dict[str, str]) -> list[dict]:
    """Histogram buckets (le -> cumulative counter), its count, and the request counter they imply."""
    histogram, requests, status = (("scoring_duration_seconds", "scoring_requests_total", "outcome")
                                   if service == "scorer" else
                                   ("ai_inference_latency_seconds", "ai_inference_requests_total", "status"))
    labels = f'job="{service}",namespace="{NAMESPACE}"'
    series = [{"series": f'{histogram}_bucket{{{labels},le="{le}"}}', "values": values}
              for le, values in buckets.items()]
    return series + [{"series": f"{histogram}_count{{{labels}}}", "values": buckets["+Inf"]},
                     {"series": f'{requests}{{{labels},{status}="success"}}', "values": buckets["+Inf"]},
                     scraped(service)]


def up(service: str, pod: str, values: str) -> dict:
    return {"series": f'up{{job="{service}",namespace="{NAMESPACE}",pod="{pod}"}}', "values": values}


def scraped(service: str) -> dict:
    """A pod of the service answering every scrape for the longest case (two days)."""
    return up(service, f"{service}-a", "1x2880")


def counter_series(service: str, metric: str, values: str, **labels: str) -> dict:
    extra = "".join(f',{key}="{value}"' for key, value in labels.items())
    return {"series": f'{metric}{{job="{service}",namespace="{NAMESPACE}",model="m"{extra}}}', "values": values}


# -- expectations --------------------------------------------------------------------------

def firing(alert: str, service: str, severity: str, from_series: dict | None = None) -> dict:
    """The alert as it must fire: its routing labels (what Alertmanager matches on); its annotations are the
    rendered rule's own, filled in by `run_case` from the groups under test."""
    route = {"critical": "page", "warning": "ticket"}[severity]
    labels = {"severity": severity, "routing": route, "service": service, "team": TEAM, "namespace": NAMESPACE,
              **(from_series or {})}
    return {"exp_labels": labels}


def with_annotations(checks: list[dict], groups: list[dict]) -> list[dict]:
    """Each expected alert with the annotations of the rule that raises it (by alert name and service)."""
    rules = {(rule["alert"], rule["labels"]["service"]): rule
             for group in groups for rule in group["rules"] if "alert" in rule}
    return [{**check, "exp_alerts": [
        {**expected, "exp_annotations": rules[check["alertname"], expected["exp_labels"]["service"]]["annotations"]}
        for expected in check["exp_alerts"]]} for check in checks]


SLO_LABELS = {"slo": "availability"}  # burn-rate and error-rate alerts come from the recorded ratios


def quiet(*eval_times: str, alerts=ALERTS) -> list[dict]:
    return [{"eval_time": t, "alertname": a, "exp_alerts": []} for t in eval_times for a in alerts]


def at(eval_time: str, alert: str, *expected: dict) -> dict:
    return {"eval_time": eval_time, "alertname": alert, "exp_alerts": list(expected)}


# -- the behaviours ------------------------------------------------------------------------

STEADY_BURN = requests("chat", counter((996, 600)), counter((4, 600)))  # 0.4% errors for ten hours

CASES: dict[str, tuple[Any, ...]] = {
    # 600 requests a minute, then a total outage at 480m. chat pages once the 1h ratio passes
    # 0.0168 (1.008 min of errors): at 482m the hour holds 1200 errors in 36000 requests (3.3%),
    # at 481m only 600 in 36000 (1.67%). A burn rate has no `for:`, so it fires at 482m:
    # 480 + 1.008 detection + 1 evaluation = 482.008.
    "chat: a total outage pages within its detection time": (
        requests("chat", counter((600, 480), (0, 60)), counter((0, 480), (600, 60))),
        [at("481m", "AIInferenceSLOBurnRatePage"),
         at("482m", "AIInferenceSLOBurnRatePage",
            firing("AIInferenceSLOBurnRatePage", "chat", "critical", SLO_LABELS))],
    ),
    # scorer pages at a 0.216 ratio over the hour: 12.96 min of a total outage. At 493m the hour
    # holds 7800 errors in 36000 requests (21.67%), at 492m 7200 (20%): 480 + 12.96 + 1 = 493.96.
    "scorer: a total outage pages within its detection time": (
        requests("scorer", counter((600, 480), (0, 60)), counter((0, 480), (600, 60))),
        [at("492m", "AIInferenceSLOBurnRatePage"),
         at("493m", "AIInferenceSLOBurnRatePage",
            firing("AIInferenceSLOBurnRatePage", "scorer", "critical", SLO_LABELS))],
    ),
    # Errors at half the budget's rate for two days (1 in 2000 for chat, 1 in 200 for scorer), sampled each
    # minute: no alert of either service may fire, ever. Judged hourly, as a constant rate allows
    # (promtool.CONSTANT_RATE_EVALUATION).
    "errors at half the budget rate never alert": (
        requests("chat", counter((1999, 2880)), counter((1, 2880)))
        + requests("scorer", counter((199, 2880)), counter((1, 2880))),
        quiet("1h", "6h", "1d", "2d"),
        promtool.CONSTANT_RATE_EVALUATION,
    ),
    # scorer errs 0.5% on average, in 3-minute bursts each hour of a working day (10% errors during a
    # burst): the 5-minute ratio passes 5% each hour, but the hour's never passes the 1% budget, so the
    # error-rate alert never fires, let alone eight times in eight hours.
    "hourly bursts within budget do not flap the error-rate alert": (
        requests("scorer", counter(*[(600, 57), (540, 3)] * 8), counter(*[(0, 57), (60, 3)] * 8)),
        [*quiet(*(f"{h * 60 + minute}m" for h in range(8) for minute in (58, 59, 60, 61, 62)),
                alerts=("AIInferenceErrorRateHigh",)),
         *quiet("8h")],
    ),
    # A real error burst: 20% of scorer's requests fail from 60m. The 5m ratio passes 5% and the
    # hour's passes 1% by 64m (about 4 failing minutes in the hour); firing 2m later.
    "a sustained error burst fires the error-rate alert": (
        requests("scorer", counter((600, 60), (480, 30)), counter((0, 60), (120, 30))),
        [at("63m", "AIInferenceErrorRateHigh"),
         at("66m", "AIInferenceErrorRateHigh",
            firing("AIInferenceErrorRateHigh", "scorer", "warning", SLO_LABELS))],
    ),
    # 0.4% errors for chat: over the 2.8x ticket rate (0.28%) and under the 5.6x page rate (0.56%).
    # The ticket fires as soon as both its windows hold a ratio (1m); for ten hours judged hourly, as a
    # constant rate allows (promtool.CONSTANT_RATE_EVALUATION), it keeps firing and nothing pages: hourly
    # evaluation sees what fires.
    "a steady burn over budget opens a ticket at once": (
        STEADY_BURN,
        [at("0m", "AIInferenceSLOBurnRateTicket"),
         at("2m", "AIInferenceSLOBurnRateTicket",
            firing("AIInferenceSLOBurnRateTicket", "chat", "warning", SLO_LABELS))],
    ),
    "a steady burn over budget keeps its ticket and never pages": (
        STEADY_BURN,
        [*(at(t, "AIInferenceSLOBurnRateTicket", firing("AIInferenceSLOBurnRateTicket", "chat", "warning",
                                                          SLO_LABELS)) for t in ("1h", "6h", "10h")),
         *quiet("1h", "6h", "10h", alerts=("AIInferenceSLOBurnRatePage",))],
        promtool.CONSTANT_RATE_EVALUATION,
    ),
    # A day and a half clean (the longest window, 36h, full of it), then a day and a half of errors at twice
    # the budget's rate (2 in 1000 for chat, 2 in 100 for scorer), sampled every 5 minutes: below every page
    # and below the fast ticket (2.8x, 4.5x). The slow burn's 36h ratio reaches 1x once 18 of its 36 hours are
    # errors: 2160 + 1080 = 3240m (quiet the evaluation before, 3225m: at 3240m the ratio is the threshold
    # itself, which no `>` passes but a rounding could); firing at the next one (3255m, every 15 minutes),
    # within a day of the burn's start, and never a page until every window holds nothing but the burn
    # (4320m). No window's ratio can pass the burn's 2x, so nothing can page between two evaluations.
    "a slow burn at twice the budget's rate opens a ticket within a day and never pages": (
        requests("chat", counter((10000, 432), (9980, 432)), counter((0, 432), (20, 432)))
        + requests("scorer", counter((1000, 432), (980, 432)), counter((0, 432), (20, 432))),
        [*quiet("2505m", "3225m", alerts=("AIInferenceSLOBurnRateTicket",)),
         *(at(t, "AIInferenceSLOBurnRateTicket",
              firing("AIInferenceSLOBurnRateTicket", "chat", "warning", SLO_LABELS),
              firing("AIInferenceSLOBurnRateTicket", "scorer", "warning", SLO_LABELS)) for t in ("3255m", "4305m")),
         *quiet("2145m", "2505m", "3000m", "3510m", "4005m", "4305m", alerts=("AIInferenceSLOBurnRatePage",))],
        "15m", "5m",
    ),
    # Every scrape target of chat vanishes at 10m (the pods are gone, not failing): the last
    # samples go stale 5m later, so no target is up from 16m, firing after `for: 5m` at 21m.
    "all of a service's targets vanishing pages": (
        [up("chat", "chat-a", "1x10"), up("chat", "chat-b", "1x10")],
        [at("20m", "AIInferenceMetricsEndpointDown"),
         at("21m", "AIInferenceMetricsEndpointDown",
            firing("AIInferenceMetricsEndpointDown", "chat", "critical"))],
    ),
    # Every target answers no more (up == 0) from 11m: firing after `for: 5m` at 16m.
    "all of a service's targets failing pages": (
        [up("chat", "chat-a", "1x10 0x20"), up("chat", "chat-b", "1x10 0x20")],
        [at("15m", "AIInferenceMetricsEndpointDown"),
         at("16m", "AIInferenceMetricsEndpointDown",
            firing("AIInferenceMetricsEndpointDown", "chat", "critical"))],
    ),
    # One pod down for half an hour while the other serves, then a rollout whose new pod opens
    # its metrics port only after 4 minutes of loading its model: the service never pages.
    "one pod down, or a slow rollout, does not page": (
        [up("chat", "chat-a", "1x30 0x30 _x30"), up("chat", "chat-b", "1x90"),
         up("chat", "chat-c", "_x60 0x4 1x25")],
        quiet("10m", "31m", "45m", "61m", "65m", "80m", alerts=("AIInferenceMetricsEndpointDown",)),
    ),
    # One request a minute, each taking 10-30 s: every one is slower than chat's objectives (2.5 s, 10 s), but
    # five requests in five minutes are too few for a share of them to mean anything.
    "a slow request at low traffic does not page": (
        latency("chat", {"2.5": "0x60", "10": "0x60", "30": "0+1x60", "+Inf": "0+1x60"}),
        quiet("10m", "30m", "60m", alerts=("AIInferenceLatencyP95High", "AIInferenceLatencyP99High")),
    ),
    # 100 requests a minute, 2 of them taking 10-30 s: 2% are slower than chat's 10 s P99 objective (more
    # than 1%), and 2% slower than its 2.5 s P95 objective (under 5%). Enough traffic from the start: pending
    # from 1m, firing after `for: 3m` at 4m.
    "a slow tail at real traffic pages on P99": (
        latency("chat", {"1": "0+98x30", "2.5": "0+98x30", "10": "0+98x30", "30": "0+100x30", "+Inf": "0+100x30"}),
        [at("3m", "AIInferenceLatencyP99High"),
         at("4m", "AIInferenceLatencyP99High", firing("AIInferenceLatencyP99High", "chat", "critical")),
         *quiet("30m", alerts=("AIInferenceLatencyP95High",))],
    ),
    # 10 of 100 requests a minute take 2.5-5 s: 10% are slower than chat's 2.5 s P95 objective (more than
    # 5%). Firing at 6m (`for: 5m`).
    "slow requests raise P95": (
        latency("chat", {"1": "0+90x30", "2.5": "0+90x30", "5": "0+100x30", "10": "0+100x30", "+Inf": "0+100x30"}),
        [at("5m", "AIInferenceLatencyP95High"),
         at("6m", "AIInferenceLatencyP95High", firing("AIInferenceLatencyP95High", "chat", "warning"))],
    ),
    # scorer's histogram tops out at 5 s, its P99 objective. 2 of 100 requests a minute take a minute, in the
    # +Inf bucket: a quantile would report 5 s at most and never exceed the objective; the share slower than
    # 5 s is 2%, over 1%. Firing after `for: 3m` at 4m.
    "a P99 far above the top bucket fires": (
        latency("scorer", {"0.5": "0+98x30", "5": "0+98x30", "+Inf": "0+100x30"}),
        [at("3m", "AIInferenceLatencyP99High"),
         at("4m", "AIInferenceLatencyP99High", firing("AIInferenceLatencyP99High", "scorer", "critical"))],
    ),
    # A fresh service whose counters exist but which serves nothing yet: no request is missed.
    "a fresh start before the first request is quiet": (
        requests("chat", "0x120", "0x120"),
        quiet("5m", "15m", "1h", "2h", alerts=("AIInferenceNoRequests",)),
    ),
    # A fresh pod whose counters appear only with the first request: quiet too.
    "a fresh start without any request series is quiet": (
        [up("chat", "chat-a", "1x120")],
        quiet("15m", "2h", alerts=("AIInferenceNoRequests",)),
    ),
    # Traffic stops at 120m. The 5m increase is 0 from 125m; after `for: 5m`, 10 minutes of
    # silence, it fires at 130m, with one label set whether or not the pods restarted.
    "traffic that stops": (
        requests("chat", counter((600, 120), (0, 60)), "0x180"),
        [at("129m", "AIInferenceNoRequests"),
         at("130m", "AIInferenceNoRequests", firing("AIInferenceNoRequests", "chat", "warning")),
         at("170m", "AIInferenceNoRequests", firing("AIInferenceNoRequests", "chat", "warning"))],
    ),
    # Traffic stops and every pod restarts: the old series go stale and no new ones appear.
    "traffic that stops while the pods restart": (
        requests("chat", counter((600, 120)), "0x120"),
        [at("139m", "AIInferenceNoRequests", firing("AIInferenceNoRequests", "chat", "warning"))],
    ),
    # chat's budget is 2M tokens an hour: 40k a minute is 2.4M an hour, passing 2M at ~51m (the
    # counter starts at 0, so nothing is extrapolated before it); firing 5m later.
    "token usage over budget": (
        [counter_series("chat", "ai_tokens_used_total", "0+30000x120", token_type="input"),
         counter_series("chat", "ai_tokens_used_total", "0+10000x120", token_type="output")],
        [at("55m", "AIInferenceTokenUsageHigh"),
         at("57m", "AIInferenceTokenUsageHigh", firing("AIInferenceTokenUsageHigh", "chat", "warning"))],
    ),
    "token usage within budget": (
        [counter_series("chat", "ai_tokens_used_total", "0+20000x180", token_type="input"),
         counter_series("chat", "ai_tokens_used_total", "0+10000x180", token_type="output")],
        quiet("2h", "3h", alerts=("AIInferenceTokenUsageHigh",)),
    ),
    # scorer's budget is $5 an hour: 10 cents a minute is $6 an hour, passing $5 at ~51m.
    "inference cost over budget": (
        [counter_series("scorer", "scoring_cost_usd_total", "0+0.1x120")],
        [at("55m", "AIInferenceCostBudgetExceeded"),
         at("57m", "AIInferenceCostBudgetExceeded", firing("AIInferenceCostBudgetExceeded", "scorer", "warning"))],
    ),
    "inference cost within budget": (
        [counter_series("scorer", "scoring_cost_usd_total", "0+0.05x180")],
        quiet("2h", "3h", alerts=("AIInferenceCostBudgetExceeded",)),
    ),
}


@pytest.fixture(scope="module")
def rule_groups():
    """The alerting fixture's rule file as the render writes it, by group name."""
    written = read_yaml(*render.write_rules(stack_plan("alerting"), Path(tempfile.mkdtemp())).values())
    return {group["name"]: group for group in written["groups"]}


def run_case(name: str, series: list[dict], checks: list[dict], groups: list[dict], tmp_path: Path,
             evaluation: str = "1m", interval: str = "1m") -> None:
    promtool.passes(promtool.start(tmp_path, "case", groups, [
        {"name": name, "interval": interval, "input_series": series,
         "alert_rule_test": with_annotations(checks, groups)}], evaluation))


def test_hourly_evaluation_refuses_rules_that_would_read_an_hour_old_recording():
    """promtool evaluates groups in order, each rule in order: a rule sees the current value of a recording
    evaluated before it, and the previous one of a recording evaluated after it."""
    groups = [{"name": "a", "rules": [{"alert": "A", "expr": "x:y > 1"}, {"record": "x:y", "expr": "vector(1)"}]},
              {"name": "b", "rules": [{"record": "x:z", "expr": "x:y * 2"}, {"alert": "B", "expr": "x:z > x:w"}]}]
    assert promtool.read_before_recorded(groups) == ["A reads x:y"]


# Days of samples: each takes seconds of promtool's time.
LONG_CASES = ("errors at half the budget rate never alert", "hourly bursts within budget do not flap the error-rate "
              "alert", "a slow burn at twice the budget's rate opens a ticket within a day and never pages")


@pytest.mark.parametrize("case", [pytest.param(case, marks=pytest.mark.slow) if case in LONG_CASES else case
                                  for case in CASES])
def test_alerting_behaviour(case, rule_groups, tmp_path):
    series, checks, evaluation, interval = (*CASES[case], "1m", "1m")[:4]
    # The groups of the services whose series the case feeds; the others would only evaluate to nothing.
    services = {name for name in ("chat", "scorer") if any(f'job="{name}"' in s["series"] for s in series)}
    run_case(case, series, checks, [rule_groups[f"{name}-slo"] for name in sorted(services)], tmp_path,
             evaluation, interval)


# -- the telemetry pipeline on its own metrics -------------------------------------------------------
# Names and labels as the collector's internal telemetry exposes them at its pinned version (0.153: no `_total`
# suffix; `exporter`, `receiver` and `transport`, `data_type` on the queue's gauges): exporterhelper's and
# receiverhelper's metadata.yaml; the PodMonitor gives them job="otel-collector" and the stack's namespace.

COLLECTOR = "otel-collector"
PIPELINE = ("AIInferenceTelemetryCollectorDown", "AIInferenceTelemetryExportFailing", "AIInferenceTelemetryDropped",
            "AIInferenceTelemetryRefused", "AIInferenceTelemetryQueueNearFull", "AIInferenceTelemetrySamplersFailing")
# The load balancer's own counter (loadbalancingexporter's metadata.yaml: backend_outcome, `success` and `endpoint`).
OUTCOMES = "otelcol_loadbalancer_backend_outcome"


def collector(metric: str, values: str, **labels: str) -> dict:
    extra = "".join(f',{key}="{value}"' for key, value in labels.items())
    return {"series": f'{metric}{{job="{COLLECTOR}",namespace="{NAMESPACE}"{extra}}}', "values": values}


def collector_up(pod: str, values: str = "1x60") -> dict:
    return up(COLLECTOR, pod, values)


DATADOG, AZURE = {"exporter": "datadog/exporter"}, {"exporter": "azuremonitor"}
OTLP = {"receiver": "otlp", "transport": "grpc"}
PIPELINE_CASES: dict[str, tuple[list[dict], list[dict]]] = {
    # Both collector pods stop answering at 11m: firing after `for: 5m` at 16m. One pod down: quiet.
    "every collector pod down pages": (
        [collector_up(f"{COLLECTOR}-a", "1x10 0x20"), collector_up(f"{COLLECTOR}-b", "1x10 0x20")],
        [at("15m", PIPELINE[0]), at("16m", PIPELINE[0], firing(PIPELINE[0], COLLECTOR, "critical"))],
    ),
    "one collector pod down is quiet": (
        [collector_up(f"{COLLECTOR}-a", "1x10 0x20"), collector_up(f"{COLLECTOR}-b", "1x30")],
        quiet("16m", "30m", alerts=(PIPELINE[0],)),
    ),
    # Datadog's exporter sends 1000 spans a minute; from 10m it fails 50 more (an expired key, say): 4.8% over
    # 1%, pending from 11m, firing after `for: 10m` at 21m. Azure's fails 5 of 1000 (0.5%): that alone is quiet.
    "an exporter failing to send fires": (
        [collector_up(f"{COLLECTOR}-a"), collector("otelcol_exporter_sent_spans", "0+1000x40", **DATADOG),
         collector("otelcol_exporter_send_failed_spans", "_x10 0+50x30", **DATADOG),
         collector("otelcol_exporter_sent_metric_points", "0+1000x40", **AZURE),
         collector("otelcol_exporter_send_failed_metric_points", "0+5x40", **AZURE)],
        [at("20m", PIPELINE[1]), at("22m", PIPELINE[1], firing(PIPELINE[1], COLLECTOR, "critical"))],
    ),
    "an exporter failing a little is quiet": (
        [collector_up(f"{COLLECTOR}-a"), collector("otelcol_exporter_sent_metric_points", "0+1000x40", **AZURE),
         collector("otelcol_exporter_send_failed_metric_points", "0+5x40", **AZURE)],
        quiet("20m", "40m", alerts=(PIPELINE[1],)),
    ),
    # Azure's queue is full from 10m and its log records are dropped: firing after `for: 5m` at 16m.
    "a full sending queue dropping data fires": (
        [collector_up(f"{COLLECTOR}-a"), collector("otelcol_exporter_enqueue_failed_log_records", "_x10 0+20x20",
                                                   **AZURE)],
        [at("15m", PIPELINE[2]), at("17m", PIPELINE[2], firing(PIPELINE[2], COLLECTOR, "warning"))],
    ),
    "nothing dropped is quiet": (
        [collector_up(f"{COLLECTOR}-a"), collector("otelcol_exporter_enqueue_failed_log_records", "0x30", **AZURE)],
        quiet("10m", "30m", alerts=(PIPELINE[2],)),
    ),
    # The memory limiter refuses 20 of 1020 spans a minute (2%): firing after `for: 10m` at 11m; 0.5% is quiet.
    "the memory limiter refusing data fires": (
        [collector_up(f"{COLLECTOR}-a"), collector("otelcol_receiver_accepted_spans", "0+1000x30", **OTLP),
         collector("otelcol_receiver_refused_spans", "0+20x30", **OTLP)],
        [at("10m", PIPELINE[3]), at("12m", PIPELINE[3], firing(PIPELINE[3], COLLECTOR, "warning"))],
    ),
    "a few refusals are quiet": (
        [collector_up(f"{COLLECTOR}-a"), collector("otelcol_receiver_accepted_spans", "0+1000x30", **OTLP),
         collector("otelcol_receiver_refused_spans", "0+5x30", **OTLP)],
        quiet("12m", "30m", alerts=(PIPELINE[3],)),
    ),
    # Datadog's traces queue holds 900 of 1000: over 80% from the start, firing after `for: 10m` at 10m.
    "a sending queue near capacity fires": (
        [collector_up(f"{COLLECTOR}-a"),
         collector("otelcol_exporter_queue_size", "900x30", **DATADOG, data_type="traces"),
         collector("otelcol_exporter_queue_capacity", "1000x30", **DATADOG, data_type="traces")],
        [at("9m", PIPELINE[4]), at("11m", PIPELINE[4], firing(PIPELINE[4], COLLECTOR, "warning"))],
    ),
    "a half-full queue is quiet": (
        [collector_up(f"{COLLECTOR}-a"),
         collector("otelcol_exporter_queue_size", "500x30", **DATADOG, data_type="traces"),
         collector("otelcol_exporter_queue_capacity", "1000x30", **DATADOG, data_type="traces")],
        quiet("11m", "30m", alerts=(PIPELINE[4],)),
    ),
    # The load balancer hands 600 exports a minute to two samplers; from 10m one of them, being replaced, fails
    # its 300: 50%, over 1% from 11m, firing after `for: 10m` at 21m.
    "samplers failing to take the traces fires": (
        [collector_up(f"{COLLECTOR}-a"),
         collector(OUTCOMES, "0+300x40", success="true", endpoint="10.0.0.1:4317"),
         collector(OUTCOMES, "0+300x10 3000+0x30", success="true", endpoint="10.0.0.2:4317"),
         collector(OUTCOMES, "_x10 0+300x30", success="false", endpoint="10.0.0.2:4317")],
        [at("20m", PIPELINE[5]), at("22m", PIPELINE[5], firing(PIPELINE[5], COLLECTOR, "critical"))],
    ),
    # One failure in a thousand (a sampler restarting now and then): quiet; and no series at all (no sampling tier).
    "a sampler failing now and then is quiet": (
        [collector_up(f"{COLLECTOR}-a"),
         collector(OUTCOMES, "0+999x40", success="true", endpoint="10.0.0.1:4317"),
         collector(OUTCOMES, "0+1x40", success="false", endpoint="10.0.0.1:4317")],
        quiet("15m", "40m", alerts=(PIPELINE[5],)),
    ),
    "no sampling tier is quiet": (
        [collector_up(f"{COLLECTOR}-a")],
        quiet("15m", "40m", alerts=(PIPELINE[5],)),
    ),
}


@pytest.mark.parametrize("case", PIPELINE_CASES)
def test_the_pipeline_alerts_on_itself(case, rule_groups, tmp_path):
    series, checks = PIPELINE_CASES[case]
    run_case(case, series, checks, [rule_groups[f"{COLLECTOR}-pipeline"]], tmp_path)


def test_the_pipeline_cases_cover_every_pipeline_alert_firing_and_quiet():
    fired = {check["alertname"] for case in PIPELINE_CASES.values() for check in case[1] if check["exp_alerts"]}
    silenced = {check["alertname"] for case in PIPELINE_CASES.values() for check in case[1] if not check["exp_alerts"]}
    rendered = {rule["alert"] for resource in stack_plan("alerting").of_type(
        "kubernetes:monitoring.coreos.com/v1:PrometheusRule") for group in resource.inputs["spec"]["groups"]
        for rule in group["rules"] if rule.get("labels", {}).get("service") == COLLECTOR}
    assert fired == silenced == set(PIPELINE) == rendered


def test_the_cases_cover_every_alert_firing_and_quiet():
    fired = {check["alertname"] for case in CASES.values() for check in case[1] if check["exp_alerts"]}
    silenced = {check["alertname"] for case in CASES.values() for check in case[1] if not check["exp_alerts"]}
    assert fired == silenced == set(ALERTS)
