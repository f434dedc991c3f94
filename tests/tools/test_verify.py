"""make verify (tools/verify.py) against a stand-in for Prometheus' HTTP API on loopback: the
baseline is asked for at the right time, the token is sent, and every way Prometheus fails to
answer is "could not judge" (exit 2), never a pass. The real Prometheus run is in tests/e2e.
"""

import contextlib
import http.server
import io
import json
import time
import urllib.parse

import pytest

from tests.helpers import FIXTURES, load_settings, loopback_server
from tools import verify

STACK = "minimal"
SLO = load_settings(STACK).services[0].slo
NOW_VALUES = {"requests": 1000, "error_ratio": 0.002, "0.5": 0.02, "0.95": 0.1, "0.99": 0.2, "tokens": 100, "cost": 0.5}


def value_for(query: str, values: dict) -> float | None:
    """What the stand-in answers, read from the query as a person would read it."""
    for quantile in ("0.5", "0.95", "0.99"):
        if f"histogram_quantile({quantile}," in query:
            return values[quantile]
    if 'status="error"' in query:
        return values["error_ratio"]
    if "ai_tokens_used_total" in query:
        return values["tokens"]
    if "ai_inference_cost_dollars_total" in query:
        return values["cost"]
    return values["requests"]


@contextlib.contextmanager
def prometheus(now: dict, before: dict | None = None, status: int = 200):
    """Answers instant queries: `before` for a time over an hour ago, `now` otherwise; records each request."""
    asked: list[dict] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            url = urllib.parse.urlparse(self.path)
            params = dict(urllib.parse.parse_qsl(url.query))
            asked.append({"path": url.path, **params, "authorization": self.headers.get("Authorization")})
            values = before if before is not None and float(params["time"]) < time.time() - 3000 else now
            answer = value_for(params["query"], values)
            result = [] if answer is None else [{"metric": {}, "value": [float(params["time"]), str(answer)]}]
            body = json.dumps({"status": "success", "data": {"resultType": "vector", "result": result}}
                              if status == 200 else {"status": "error", "error": "parse error"}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    with loopback_server(Handler) as url:
        yield url, asked


def run(url: str, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = verify.main([STACK, "--prometheus", url, "--config-dir", str(FIXTURES), "--wait", "0", *args])
    return code, out.getvalue(), err.getvalue()


def test_a_healthy_window_passes_and_the_table_names_each_check():
    with prometheus(NOW_VALUES) as (url, asked):
        code, out, _ = run(url)
    assert code == 0 and out.splitlines()[-1] == "verdict: pass"
    assert "ai-inference  error ratio" in out and "0.002" in out
    assert {a["path"] for a in asked} == {"/api/v1/query"}


def test_the_baseline_is_the_same_window_that_long_before():
    before = {**NOW_VALUES, "0.95": 0.05}  # P95 doubled since, still under the objective
    assert NOW_VALUES["0.95"] < SLO.p95_seconds
    with prometheus(NOW_VALUES, before) as (url, asked):
        code, out, _ = run(url, "--baseline", "1h", "--format", "json")
    report = json.loads(out)
    assert code == 1 and report["result"] == "fail"
    assert report["services"][0]["reasons"] == ["P95 s vs baseline 1h before 0.1 above 0.075 (baseline 1h before + "
                                                "tolerance)"]
    times = sorted({round(float(a["time"])) for a in asked})
    assert len(times) == 2 and times[1] - times[0] == 3600


def test_the_token_is_sent_when_set(monkeypatch):
    monkeypatch.setenv("PROMETHEUS_TOKEN", "s3cret-token")
    with prometheus(NOW_VALUES) as (url, asked):
        run(url)
    assert {a["authorization"] for a in asked} == {"Bearer s3cret-token"}


@pytest.mark.parametrize("values", [{**NOW_VALUES, "requests": None}, {**NOW_VALUES, "requests": 10},
                                    {**NOW_VALUES, "0.99": None}])
def test_no_series_too_little_traffic_or_a_missing_signal_cannot_be_judged(values):
    with prometheus(values) as (url, _):
        code, out, err = run(url, "--wait", "0.15", "--poll", "0.05")
    assert code == 2 and out.splitlines()[-1] == "verdict: could not judge"
    if values["requests"] != NOW_VALUES["requests"]:
        assert "of 100 requests in the last 10m; waiting" in err  # the progress line while it waited


def test_a_refused_query_or_no_prometheus_cannot_be_judged():
    with prometheus(NOW_VALUES, status=400) as (url, _):
        code, _, err = run(url)
    assert code == 2 and "refused a query (400)" in err
    with prometheus(NOW_VALUES) as (url, _):
        pass  # stopped: nothing listens there now
    code, _, err = run(url)
    assert code == 2 and "cannot ask" in err


def test_an_unknown_service_is_named_with_the_ones_the_stack_has():
    code, _, err = run("http://127.0.0.1:9", "--service", "nope")
    assert code == 2 and "has no service nope; it has ai-inference" in err
