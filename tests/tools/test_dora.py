"""DORA metrics (model/dora.py, tools/dora.py) on a history worked out by hand.

Staging, over 10 days: commit a deployed (made 2 h before), b deployed but its verify failed
(made 5 h before), c deployed 3 h after b and good (made 1 h before c). Prod: a, once.
"""

import contextlib
import http.server
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from model import dora
from tests.helpers import loopback_server
from tools import dora as dora_tool

START = datetime(2026, 11, 1, 12, tzinfo=UTC)


def at(hours: float) -> str:
    return (START + timedelta(hours=hours)).isoformat()


MARKERS = [
    {"time": at(0), "stack": "staging", "service": "chat", "commit": "a", "event": "deploy", "result": "success"},
    {"time": at(0), "stack": "staging", "service": "scorer", "commit": "a", "event": "deploy", "result": "success"},
    {"time": at(0.2), "stack": "staging", "service": "chat", "commit": "a", "event": "verify", "result": "success"},
    {"time": at(24), "stack": "staging", "service": "chat", "commit": "b", "event": "deploy", "result": "success"},
    {"time": at(24.2), "stack": "staging", "service": "chat", "commit": "b", "event": "verify", "result": "failure"},
    {"time": at(27), "stack": "staging", "service": "chat", "commit": "c", "event": "deploy", "result": "success"},
    {"time": at(30), "stack": "prod", "service": "chat", "commit": "a", "event": "deploy", "result": "success"},
]
MADE = {"a": [START - timedelta(hours=2)], "b": [START + timedelta(hours=19)], "c": [START + timedelta(hours=26)]}


def made(previous, commit):
    return MADE[commit]


def test_the_four_metrics_of_a_worked_history():
    shipped = dora.deployments(MARKERS, "staging")
    assert [(d.commit, d.failed) for d in shipped] == [("a", False), ("b", True), ("c", False)]
    report = dora.metrics("staging", shipped, made, days=10)
    assert report.deployments == 3 and report.per_day == pytest.approx(0.3)
    assert report.lead_time_hours == pytest.approx(2)  # median of 2, 5 and 1 hours
    assert report.change_failure_rate == pytest.approx(1 / 3)
    assert report.time_to_restore_hours == pytest.approx(3)  # b at 24 h, restored by c at 27 h


def test_a_canary_its_analysis_aborted_is_a_failed_change():
    history = [*MARKERS,
               {"time": at(48), "stack": "prod", "service": "chat", "commit": "c", "event": "deploy",
                "result": "success"},
               {"time": at(48.5), "stack": "prod", "service": "chat", "commit": "c", "event": "rollout",
                "result": "failure"}]
    shipped = dora.deployments(history, "prod")
    assert [(d.commit, d.failed) for d in shipped] == [("a", False), ("c", True)]
    assert dora.metrics("prod", shipped, made, days=10).change_failure_rate == pytest.approx(1 / 2)


def test_an_unrestored_failure_and_an_empty_stack_have_no_restore_time():
    shipped = dora.deployments(MARKERS[:5], "staging")
    assert dora.metrics("staging", shipped, made, 10).time_to_restore_hours is None
    empty = dora.metrics("dev", dora.deployments(MARKERS, "dev"), made, 10)
    assert (empty.deployments, empty.change_failure_rate, empty.lead_time_hours) == (0, None, None)


def test_make_dora_reads_the_journal_and_sends_datadog_gauges(tmp_path, monkeypatch):
    shift = datetime.now(UTC) - timedelta(days=3) - START  # the same history, within the last 10 days
    journal = tmp_path / "deployments.jsonl"
    journal.write_text("".join(json.dumps({**m, "time": (datetime.fromisoformat(m["time"]) + shift).isoformat()})
                               + "\n" for m in MARKERS))
    monkeypatch.setattr(dora_tool, "commit_times", lambda previous, commit: [t + shift for t in MADE[commit]])
    received = []

    class Datadog(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            received.append((self.path, self.headers["DD-API-KEY"],
                             json.loads(self.rfile.read(int(self.headers["Content-Length"])))))
            self.send_response(202)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"errors": []}')

        def log_message(self, *args):
            pass

    out = io.StringIO()
    with loopback_server(Datadog) as url, contextlib.redirect_stdout(out):
        code = dora_tool.main(["--stack", "staging", "--days", "10", "--journal", str(journal)],
                              {"DD_API_KEY": "key", "DD_API_URL": url.rstrip("/")})
    assert code == 0
    row, = [line.split() for line in out.getvalue().splitlines() if line.strip().startswith("staging")]
    assert row == ["staging", "3", "0.30", "2.00", "h", "0.33", "3.00", "h"]
    (path, key, body), = received
    assert (path, key) == ("/api/v2/series", "key")  # Datadog "Submit metrics": POST /api/v2/series
    gauges = {s["metric"]: s for s in body["series"]}
    assert set(gauges) == {"dora.deployments_per_day", "dora.lead_time_hours", "dora.change_failure_rate",
                           "dora.time_to_restore_hours"}
    assert all(s["type"] == 3 and s["tags"] == ["env:staging"] for s in gauges.values())  # 3: gauge
    assert gauges["dora.time_to_restore_hours"]["points"][0]["value"] == pytest.approx(3)
