"""make load: Locust's figures, the verdict on failed requests, and a real run against the reference service."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.helpers import free_port, loopback_server
from tools import load


def entry(method: str, name: str, times: dict[str, int], failures: int = 0) -> dict:
    """A --json-file entry as Locust 2.47 writes it (the fields tools/load.py reads)."""
    return {"method": method, "name": name, "num_requests": sum(times.values()), "num_failures": failures,
            "response_times": times}


def test_a_percentile_is_the_time_that_share_of_the_requests_finished_within():
    # Locust's rule (stats.calculate_response_time_percentile): the slowest time with at most that share of the
    # requests faster than it. 100 requests: 90 at 10 ms, 9 at 200 ms, 1 at 900 ms. Median: 10 ms (none faster);
    # P90 and P95: 200 ms (90 faster; 900 ms has 99); P99: 900 ms (99 faster, which is at most 99).
    times = {10: 90, 200: 9, 900: 1}
    assert [load.percentile(times, 100, share) for share in (0.5, 0.9, 0.95, 0.99)] == [10, 200, 200, 900]
    assert load.percentile({}, 0, 0.95) == 0


def test_a_first_token_is_shown_but_not_counted_as_a_request():
    found = load.shapes([entry("POST", "/predict", {"8": 3, "20": 1}, failures=1),
                         entry("POST", "/generate", {"120": 2}), entry("FIRST-TOKEN", "/generate", {"60": 2})])
    assert [(s.name, s.requests, s.failures, s.median_ms) for s in found] == [
        ("POST /generate", 2, 0, 120), ("POST /predict", 4, 1, 8), ("first token /generate", 2, 0, 60)]
    total = load.overall(found)
    assert (total.requests, total.failures, total.median_ms, total.p95_ms) == (6, 1, 20, 120)


@pytest.mark.parametrize("argv, said", [
    (["ftp://host"], "is not an http:// or https:// base URL"),
    (["http://127.0.0.1:8080", "--duration", "soon"], "--duration"),
    (["http://127.0.0.1:8080", "--users", "0"], "is not a positive whole number"),
])
def test_bad_arguments_exit_2_naming_them(argv, said, capsys):
    with pytest.raises(SystemExit) as exited:
        load.main(argv)
    assert exited.value.code == 2 and said in capsys.readouterr().err


@contextmanager
def reference_service(**environ: str) -> Iterator[str]:
    """The reference service on loopback (python -m service), stopped when the block ends."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "service"], env={
        "PATH": os.environ["PATH"], "HOST": "127.0.0.1", "HTTP_PORT": str(port), "METRICS_PORT": str(free_port()),
        **environ}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{url}/ready", timeout=2):
                    break
            except OSError:
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


class Unavailable(http.server.BaseHTTPRequestHandler):
    """A server whose every request fails, as the reference service's with FAULT_RATE=1 (tests/service)."""

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        self.send_error(503, "injected fault")

    def log_message(self, *args) -> None:
        pass


@pytest.mark.slow  # a real service and a real Locust run
def test_make_load_sends_both_shapes_and_fails_when_requests_fail(tmp_path):
    figures = tmp_path / "load.json"
    # The healthy reference service and a server failing every request, loaded at once.
    with reference_service() as healthy, loopback_server(Unavailable) as failing:
        runs = [subprocess.Popen([sys.executable, "-m", "tools.load", url, "--duration", "2s", "--users", "4", *extra],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                for url, extra in ((healthy, ["--json", str(figures)]), (failing.rstrip("/"), []))]
        (said, _), (failing_said, _) = (run.communicate(timeout=120) for run in runs)
    assert runs[0].returncode == 0, said
    shapes = {s["name"]: s for s in json.loads(figures.read_text())["shapes"]}
    assert set(shapes) == {"POST /predict", "POST /generate", "first token /generate", "all requests"}
    assert shapes["all requests"]["requests"] == shapes["POST /predict"]["requests"] + shapes["POST /generate"][
        "requests"] > 0
    assert "all requests" in said and "P95 ms" in said
    assert runs[1].returncode == 1 and "FAIL" in failing_said, failing_said
