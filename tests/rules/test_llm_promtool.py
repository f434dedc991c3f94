"""The LLM alerts under promtool, on the `llm` fixture stack: series named as the real servers expose
them (read from tests/fixtures/metrics/, built from each server's source), never from the presets.

A time-to-first-token regression on vLLM burns the TTFT budget and pages; a healthy stream does
not; the queue, the KV cache, DCGM's GPU gauges and the quality signals each fire past their
limit and stay quiet below it.
"""

import os
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests import promtool
from tests.helpers import read_yaml, stack_plan
from tools import render

# Real promtool, amtool and Alertmanager processes: the slow layer (make test runs it, make test-fast not).
pytestmark = [pytest.mark.slow, pytest.mark.skipif(promtool.PROMTOOL is None and os.environ.get("CI") != "true",
                                reason="PROMTOOL NOT INSTALLED: the LLM rule tests did not run (CI installs it)")]
FIXTURES = Path(__file__).parent.parent / "fixtures" / "metrics"
NAMESPACE = "llm"  # the fixture stack's kubernetes.namespace
TTFT_SLO = "time-to-first-token"  # the SLO label of its recorded ratios, as Sloth names SLOs


def family(server: str, part: str, kind: str) -> str:
    """The one family of `kind` in the server's exposition whose name contains `part`."""
    found = [f.name for f in text_string_to_metric_families((FIXTURES / f"{server}.prom").read_text())
             if part in f.name and f.type == kind]
    assert len(found) == 1, (server, part, found)
    return found[0]


VLLM_TTFT = family("vllm", "time_to_first_token", "histogram")
VLLM_QUEUE = family("vllm", "num_requests_waiting", "gauge")
VLLM_KV_CACHE = family("vllm", "kv_cache_usage", "gauge")
TRITON_TTFT = family("triton", "first_response_histogram", "histogram")
DCGM_UTIL, DCGM_USED, DCGM_FREE, DCGM_XID = (family("dcgm", f"DCGM_FI_DEV_{n}", "gauge")
                                            for n in ("GPU_UTIL", "FB_USED", "FB_FREE", "XID_ERRORS"))


def series(metric: str, service: str, values: str, **labels: str) -> dict:
    extra = "".join(f',{k}="{v}"' for k, v in labels.items())
    return {"series": f'{metric}{{job="{service}",namespace="{NAMESPACE}"{extra}}}', "values": values}


def gpu(metric: str, pod: str, values: str) -> dict:
    # dcgm-exporter's pod labels, kept as exported_* by a scrape that does not honour them.
    return {"series": f'{metric}{{exported_namespace="{NAMESPACE}",exported_pod="{pod}",gpu="0",'
                      f'namespace="gpu-operator",pod="nvidia-dcgm-exporter-x7k2p"}}', "values": values}


def ttft(metric: str, service: str, le: str, within: int, total: int, minutes: int, before: int = 0,
         **labels: str) -> list[dict]:
    """Per minute `total` first tokens, `within` of them at or under `le`, for `minutes` (after `before`
    healthy minutes with every first token within)."""
    bucket = f"0+{total}x{before} {total * before + within}+{within}x{minutes}" if before else f"0+{within}x{minutes}"
    count = f"0+{total}x{before} {total * before + total}+{total}x{minutes}" if before else f"0+{total}x{minutes}"
    return [series(f"{metric}_bucket", service, bucket, le=le, **labels),
            series(f"{metric}_count", service, count, **labels)]


@pytest.fixture(scope="module")
def rules(tmp_path_factory):
    """The render's rule file, and each service's alerting rules."""
    directory = tmp_path_factory.mktemp("llm-rules")
    groups = read_yaml(*render.write_rules(stack_plan("llm"), directory).values())["groups"]
    alerts = {(rule["labels"]["service"], rule["alert"]): rule
              for group in groups for rule in group["rules"] if "alert" in rule}
    return groups, alerts


def run(rules, service, name, input_series, checks, tmp_path):
    """The case against `service`'s rule group (evaluating the other services' only takes time)."""
    groups = [g for g in rules[0] if g["name"] == f"{service}-slo"]
    promtool.passes(promtool.start(tmp_path, "case", groups, [
        {"name": name, "interval": "1m", "input_series": input_series, "alert_rule_test": checks}], "1m"))


def firing(rules, service, alert, **series_labels):
    """The alert as it fires: its rule's labels, and those of the series it compares (a burn rate's SLO)."""
    rule = rules[1][(service, alert)]
    return [{"exp_labels": {**rule["labels"], **series_labels}, "exp_annotations": rule["annotations"]}]


def test_a_vllm_ttft_regression_burns_the_ttft_budget_and_pages(rules, tmp_path):
    # 99% within 0.5s over 30 days: the page fires at 14.4x, a bad ratio of 0.144 over 1h and 5m. After two
    # healthy hours at 100 first tokens a minute, half of them slow: the hour's ratio is 0.5*m/60, past
    # 0.144 after 17.3 minutes.
    input_series = ttft(VLLM_TTFT, "chat", "0.5", within=50, total=100, minutes=60, before=120)
    alert = "AIInferenceTimeToFirstTokenBurnRatePage"
    run(rules, "chat", "ttft regression", input_series, [
        {"eval_time": "136m", "alertname": alert, "exp_alerts": []},
        {"eval_time": "139m", "alertname": alert, "exp_alerts": firing(rules, "chat", alert, slo=TTFT_SLO)},
        {"eval_time": "139m", "alertname": "AIInferenceSLOBurnRatePage", "exp_alerts": []},
    ], tmp_path)


def test_a_healthy_vllm_stream_does_not_page(rules, tmp_path):
    # 0.5% slow: half the budget's rate, which no window alerts on.
    input_series = ttft(VLLM_TTFT, "chat", "0.5", within=995, total=1000, minutes=400)
    run(rules, "chat", "ttft healthy", input_series, [
        {"eval_time": t, "alertname": alert, "exp_alerts": []} for t in ("1h", "6h")
        for alert in ("AIInferenceTimeToFirstTokenBurnRatePage", "AIInferenceTimeToFirstTokenBurnRateTicket")
    ], tmp_path)


def test_tritons_millisecond_ttft_reads_the_2000ms_bucket_for_a_2s_objective(rules, tmp_path):
    # prometheus-cpp writes whole-number bounds without a fraction: le="2000". Triton reports each model it
    # holds: the service serves the fixture's model.name, ensemble; its composing model's first tokens,
    # however slow, are not the service's.
    served = ttft(TRITON_TTFT, "triton", "2000", within=20, total=100, minutes=30, model="ensemble", version="1")
    healthy = ttft(TRITON_TTFT, "triton", "2000", within=100, total=100, minutes=30, model="ensemble", version="1")
    part = ttft(TRITON_TTFT, "triton", "2000", within=0, total=100, minutes=30, model="tensorrt_llm", version="1")
    alert = "AIInferenceTimeToFirstTokenBurnRatePage"
    run(rules, "triton", "triton ttft", served + part, [
        {"eval_time": "30m", "alertname": alert, "exp_alerts": firing(rules, "triton", alert, slo=TTFT_SLO)}],
        tmp_path)
    run(rules, "triton", "triton ttft, a slow part", healthy + part, [
        {"eval_time": "30m", "alertname": alert, "exp_alerts": []}], tmp_path)


@pytest.mark.parametrize("alert, busy, calm, hold", [
    # vLLM's waiting requests per replica, over the fixture's 20 (two replicas, averaged).
    ("AIInferenceQueueBacklog", [series(VLLM_QUEUE, "chat", "30x40", engine="0", pod="a"),
                                 series(VLLM_QUEUE, "chat", "20x40", engine="0", pod="b")],
     [series(VLLM_QUEUE, "chat", "30x40", engine="0", pod="a"),
      series(VLLM_QUEUE, "chat", "5x40", engine="0", pod="b")], 10),
    # The fullest replica's KV cache over the fixture's 0.95.
    ("AIInferenceKVCacheSaturated", [series(VLLM_KV_CACHE, "chat", "0.97x40", pod="a"),
                                     series(VLLM_KV_CACHE, "chat", "0.2x40", pod="b")],
     [series(VLLM_KV_CACHE, "chat", "0.9x40", pod="a")], 10),
])
def test_saturation_fires_past_its_limit_once_held(rules, tmp_path, alert, busy, calm, hold):
    run(rules, "chat", f"{alert} busy", busy, [
        {"eval_time": f"{hold - 1}m", "alertname": alert, "exp_alerts": []},
        {"eval_time": f"{hold + 6}m", "alertname": alert, "exp_alerts": firing(rules, "chat", alert)}], tmp_path)
    run(rules, "chat", f"{alert} calm", calm, [{"eval_time": "30m", "alertname": alert, "exp_alerts": []}], tmp_path)


POD = "chat-6b8d9f7c4d-q2m7x"  # a pod of the chat Deployment: <deployment>-<replica set>-<pod>


@pytest.mark.parametrize("alert, busy, calm, at", [
    ("AIInferenceGPUSaturated", [gpu(DCGM_UTIL, POD, "99x60")], [gpu(DCGM_UTIL, POD, "80x60")], "45m"),
    ("AIInferenceGPUMemoryHigh", [gpu(DCGM_USED, POD, "79000x30"), gpu(DCGM_FREE, POD, "1000x30")],
     [gpu(DCGM_USED, POD, "60000x30"), gpu(DCGM_FREE, POD, "20000x30")], "20m"),
    # The gauge keeps the last XID (79: fallen off the bus) until the driver restarts; one held from before
    # the window, as a new pod on a GPU that failed earlier sees it, is not a new error.
    ("AIInferenceGPUXidError", [gpu(DCGM_XID, POD, "0x10 79x30")], [gpu(DCGM_XID, POD, "79x30")], "12m"),
])
def test_dcgm_alerts_fire_for_the_services_gpus(rules, tmp_path, alert, busy, calm, at):
    run(rules, "chat", f"{alert} busy", busy, [{"eval_time": at, "alertname": alert,
                                         "exp_alerts": firing(rules, "chat", alert)}], tmp_path)
    run(rules, "chat", f"{alert} calm", calm, [{"eval_time": at, "alertname": alert, "exp_alerts": []}], tmp_path)


def test_an_xid_error_pages_once_and_resolves_while_the_gauge_keeps_it(rules, tmp_path):
    alert = "AIInferenceGPUXidError"
    run(rules, "chat", "xid held", [gpu(DCGM_XID, POD, "0x10 79x30")], [
        {"eval_time": "11m", "alertname": alert, "exp_alerts": firing(rules, "chat", alert)},
        {"eval_time": "20m", "alertname": alert, "exp_alerts": []}], tmp_path)


def test_another_deployments_gpu_is_not_the_services(rules, tmp_path):
    # chat-canary's pods start with "chat-" too, but are another Deployment's.
    run(rules, "chat", "other gpu", [gpu(DCGM_XID, "chat-canary-6b8d9f7c4d-q2m7x", "0x10 79x30")],
        [{"eval_time": "12m", "alertname": "AIInferenceGPUXidError", "exp_alerts": []}], tmp_path)


@pytest.mark.parametrize("alert, bad, good", [
    ("AIInferenceModelQualityLow", [series("ai_model_quality_score", "classifier", "0.8x90", model="m")],
     [series("ai_model_quality_score", "classifier", "0.95x90", model="m")]),
    ("AIInferenceModelDriftHigh", [series("ai_model_drift_score", "classifier", "0.5x90", model="m")],
     [series("ai_model_drift_score", "classifier", "0.1x90", model="m")]),
    ("AIInferenceHallucinationRateHigh", [series("ai_model_hallucination_ratio", "classifier", "0.1x90", model="m")],
     [series("ai_model_hallucination_ratio", "classifier", "0.01x90", model="m")]),
    # The day's feedback so far, 40% negative against the fixture's 25%, and more than 20 of it.
    ("AIInferenceNegativeFeedbackHigh",
     [series("ai_model_feedback_total", "classifier", "0+3x90", model="m", feedback="positive"),
      series("ai_model_feedback_total", "classifier", "0+2x90", model="m", feedback="negative")],
     [series("ai_model_feedback_total", "classifier", "0+9x90", model="m", feedback="positive"),
      series("ai_model_feedback_total", "classifier", "0+1x90", model="m", feedback="negative")]),
])
def test_quality_alerts_fire_past_their_objective(rules, tmp_path, alert, bad, good):
    at = "80m"
    run(rules, "classifier", f"{alert} bad", bad, [{"eval_time": at, "alertname": alert,
                                       "exp_alerts": firing(rules, "classifier", alert)}], tmp_path)
    run(rules, "classifier", f"{alert} good", good, [{"eval_time": at, "alertname": alert, "exp_alerts": []}], tmp_path)
