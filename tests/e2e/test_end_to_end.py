"""End to end on loopback (`make e2e`): the reference service under a real Prometheus and the rendered rules.

Renders tests/fixtures/stacks/Pulumi.e2e.yaml and runs each of its three services (the reference service,
with the env its rendered Deployment gives it: `failing` has FAULT_RATE, `slow` has
EXTRA_LATENCY_SECONDS) and Debian's `prometheus`, all on 127.0.0.1. Prometheus scrapes each
service with the labels the rendered PodMonitor gives its series and loads the rendered rule file.
The contract check runs against each live /metrics; then traffic runs against all three at once,
and Prometheus' HTTP API is asked whether the metrics, recording rules and alerts say what the
services did.

The one change to the rendered rules: their groups are evaluated every 2 s instead of every
minute, so a run takes a minute, not an hour. Every process started here is stopped when the
module ends, passed or failed.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest
import yaml

from model.durations import prometheus_seconds
from tests.helpers import FIXTURES, free_port, load_settings, read_yaml
from tools import contract_check, render
from tools import verify as verify_tool

ROOT = Path(__file__).resolve().parents[2]
STACK = "e2e"
PROMETHEUS = shutil.which("prometheus")
IN_CI = os.environ.get("CI") == "true"
SCRAPE_SECONDS = 1
RULE_INTERVAL = "2s"  # the rendered groups' 1m, shortened for the run
TRAFFIC_SECONDS = 30
USERS = 5  # per service, each at most a request a second (make load's users): 150 requests in the run
# The healthy canary and its stable version: enough requests each that their P99s rest on more than one or
# two (a P99 of 150 requests is its second slowest, whatever the version).
CANARY_PAIR_USERS = 20
START_SECONDS = 60  # for a service to load its model, or Prometheus to open its storage
# Env a Deployment gives that points into the cluster: the collector's address, the mounted Secret.
CLUSTER_ONLY = ("OTEL_EXPORTER_OTLP_ENDPOINT", "APPLICATIONINSIGHTS_CONNECTION_STRING_FILE")
CANARY_VERSION, CANARY_EXTRA_SECONDS = "0.2.0", "0.3"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(PROMETHEUS is None and not IN_CI,
                       reason="PROMETHEUS NOT INSTALLED: the end-to-end run did not happen "
                              "(install Debian's prometheus package; CI does, and fails without it)"),
]



def wait_until(what: str, seconds: float, check: Callable[[], Any]) -> Any:
    """check()'s first truthy answer, polled until `seconds` have passed."""
    deadline, answer = time.monotonic() + seconds, None
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            answer = check()
            if answer:
                return answer
        time.sleep(0.25)
    raise AssertionError(f"{what}: not within {seconds:g} s (last answer: {answer!r})")


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def query(prometheus: str, promql: str) -> list[dict]:
    """An instant query's result: one entry per series, empty when the expression is false."""
    status, body = get(f"{prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": promql}))
    answer = json.loads(body)
    assert status == 200 and answer["status"] == "success", (promql, body)
    return answer["data"]["result"]


def verify(prometheus: str, *args: str) -> tuple[int, dict]:
    """make verify on the e2e stack: its exit code and JSON report (its progress lines go to stderr)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = verify_tool.main([STACK, "--prometheus", prometheus, "--config-dir", str(FIXTURES),
                                 "--format", "json", "--poll", "0.5", *args])
    return code, json.loads(out.getvalue())


def rendered(directory: Path, kind: str, name: str) -> dict:
    path, = directory.glob(f"manifests/*-{kind}-{name}.yaml")
    return read_yaml(path.read_text())


@dataclass
class Service:
    """One of the stack's services, running as the rendered Deployment and PodMonitor describe it."""

    name: str
    env: dict[str, str]  # what the Deployment's container gets
    target_labels: dict[str, str]  # what the operator's Prometheus attaches to each scraped series
    http_port: int = field(default_factory=free_port)
    metrics_port: int = field(default_factory=free_port)
    users: int = USERS  # make load's
    load: dict[str, dict] = field(default_factory=dict)  # make load's figures, by request shape

    @property
    def requests(self) -> int:
        return self.load["all requests"]["requests"]

    @property
    def failures(self) -> int:
        return self.load["all requests"]["failures"]

    def first_tokens_later_than(self, seconds: float) -> tuple[int, float]:
        """Streams, and the share whose first token came later than `seconds` by the client's clock."""
        times = {float(ms): n for ms, n in self.load["first token /generate"]["response_times"].items()}
        total = sum(times.values())
        return total, sum(n for ms, n in times.items() if ms > seconds * 1000) / total

    @classmethod
    def from_render(cls, directory: Path, name: str) -> Service:
        """A service from its rendered Deployment, or Rollout for a service released as canaries."""
        kind = "rollout" if list(directory.glob(f"manifests/*-rollout-{name}.yaml")) else "deployment"
        deployment, monitor = rendered(directory, kind, name), rendered(directory, "podmonitor", name)
        pod = deployment["spec"]["template"]
        endpoint, = monitor["spec"]["podMetricsEndpoints"]
        container, = [c for c in pod["spec"]["containers"] if endpoint["port"] in {p["name"] for p in c["ports"]}]
        namespace = deployment["metadata"]["namespace"]
        assert namespace in monitor["spec"]["namespaceSelector"]["matchNames"]
        assert monitor["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
        # The Prometheus Operator's PodMonitor relabelling: job is the value of the pod label jobLabel
        # names; namespace, pod and container are the pod's; endpoint is the scraped port's name.
        labels = {"job": pod["metadata"]["labels"][monitor["spec"]["jobLabel"]], "namespace": namespace,
                  "pod": f"{name}-e2e", "container": container["name"], "endpoint": endpoint["port"],
                  # podTargetLabels: each named pod label, as a label of its own.
                  **{label: pod["metadata"]["labels"][label] for label in monitor["spec"]["podTargetLabels"]}}
        env = {e["name"]: e["value"] for e in container["env"] if "value" in e and e["name"] not in CLUSTER_ONLY}
        return cls(name, env, labels)

    def canary(self, version: str, env: dict[str, str]) -> Service:
        """A second version of this service beside it, as a canary Deployment's pods would be scraped."""
        return Service(f"{self.name}-canary", {**self.env, **env},
                       {**self.target_labels, "pod": f"{self.name}-canary-e2e", "version": version}, users=self.users)

    @property
    def job(self) -> str:
        return self.target_labels["job"]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def ready(self) -> bool:
        return get(f"{self.url}/ready")[0] == 200

    def command(self) -> tuple[list[str], dict[str, str]]:
        ports = {"HOST": "127.0.0.1", "HTTP_PORT": str(self.http_port), "METRICS_PORT": str(self.metrics_port)}
        return [sys.executable, "-m", "service"], {"PATH": os.environ["PATH"], **self.env, **ports}

    def scrape_job(self) -> dict:
        return {"job_name": self.name, "metrics_path": "/metrics",
                "static_configs": [{"targets": [f"127.0.0.1:{self.metrics_port}"],
                                    # A target's own job label wins over the job_name (scrape/target.go).
                                    "labels": dict(self.target_labels)}]}

    def load_command(self, figures: Path) -> list[str]:
        """make load on this service for the run's traffic (any failed share: the faults are the point)."""
        return [sys.executable, "-m", "tools.load", self.url, "--duration", f"{TRAFFIC_SECONDS}s", "--users",
                str(self.users), "--max-failure-ratio", "1", "--json", str(figures)]


class Processes:
    """Every process the run starts, each logging to a file, all stopped at the end."""

    def __init__(self, logs: Path):
        self.logs = logs
        self.running: list[tuple[str, subprocess.Popen, IO[str]]] = []

    def start(self, name: str, command: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        log = (self.logs / f"{name}.log").open("w")
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        self.running.append((name, process, log))
        return process

    def stop(self) -> None:
        for _, process, _ in self.running:
            process.terminate()
        for name, process, log in self.running:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
            log.close()
            assert process.returncode is not None, name

    def tails(self, lines: int = 20) -> str:
        return "\n".join(f"--- {name} ---\n" + "\n".join((self.logs / f"{name}.log").read_text().splitlines()[-lines:])
                         for name, _, _ in self.running)


@dataclass
class Run:
    services: dict[str, Service]
    rules: list[dict]  # the rendered rules, each group's
    prometheus: str  # its base URL
    window: str  # how long the run's traffic has been in Prometheus, as a range
    before_traffic: tuple[int, dict]  # make verify's exit code and JSON report before any request
    directory: Path  # the render

    def query(self, promql: str) -> list[dict]:
        return query(self.prometheus, promql)

    def value(self, promql: str) -> float:
        result = self.query(promql)
        assert len(result) == 1, (promql, result)
        return float(result[0]["value"][1])

    def rule(self, alert: str, service: str) -> dict:
        found, = [r for r in self.rules if r.get("alert") == alert and r["labels"]["service"] == service]
        return found


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Iterator[Run]:
    if PROMETHEUS is None:
        pytest.fail("CI=true and prometheus is missing: .ci/run must install Debian's prometheus package")
    work = tmp_path_factory.mktemp("e2e")
    with contextlib.redirect_stdout(io.StringIO()):  # the render's summary; its failures go to stderr
        assert render.main([STACK, "--config-dir", str(FIXTURES), "--out", str(work)]) == 0
    directory = work / STACK
    groups = read_yaml((directory / "prometheus-rules.yaml").read_text())["groups"]
    services = {name: Service.from_render(directory, name) for name in ("steady", "failing", "slow", "canary")}
    services["steady"].users = CANARY_PAIR_USERS
    # The new version of each service the stack releases as canaries, beside its stable pods: one healthy, one slower.
    for canary in (services["steady"].canary(CANARY_VERSION, {}),
                   services["canary"].canary(CANARY_VERSION, {"EXTRA_LATENCY_SECONDS": CANARY_EXTRA_SECONDS})):
        services[canary.name] = canary

    processes = Processes(work)
    try:
        for service in services.values():
            processes.start(service.name, *service.command())
        for service in services.values():
            wait_until(f"{service.name} ready", START_SECONDS, service.ready)

        rules = work / "rules.yaml"
        rules.write_text(yaml.safe_dump({"groups": [{**g, "interval": RULE_INTERVAL} for g in groups]}))
        config = work / "prometheus.yml"
        config.write_text(yaml.safe_dump({
            "global": {"scrape_interval": f"{SCRAPE_SECONDS}s", "evaluation_interval": RULE_INTERVAL},
            "rule_files": [str(rules)],
            "scrape_configs": [s.scrape_job() for s in services.values()],
        }))
        port = free_port()
        processes.start("prometheus", [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={work / 'data'}",
                                       f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"])
        prometheus = f"http://127.0.0.1:{port}"
        wait_until("prometheus ready", START_SECONDS, lambda: get(f"{prometheus}/-/ready")[0] == 200)

        for service in services.values():  # the CI gate, on each live service, before any traffic
            assert contract_check.main([service.metrics_url, "--stack", STACK, "--service", service.job,
                                        "--config-dir", str(FIXTURES)]) == 0
            # Traffic starts once every counter is stored at 0: rate() then counts all of it, in every series alike.
            wait_until(f"{service.name} scraped before traffic", 30, functools.partial(
                query, prometheus, f'count(ai_inference_requests_total{{pod="{service.target_labels["pod"]}"}} == 0)'
                                   ' == 3'))
        # The gate right after a deployment, before anyone calls it: an empty window.
        before_traffic = verify(prometheus, "--window", "1m", "--wait", "2")

        started = time.monotonic()  # make load on every service at once
        loads = {name: processes.start(f"{name}-load", service.load_command(work / f"{name}-load.json"),
                                       dict(os.environ)) for name, service in services.items()}
        for name, process in loads.items():
            assert process.wait(timeout=TRAFFIC_SECONDS + 120) == 0, f"make load on {name}: {process.returncode}"
            figures = json.loads((work / f"{name}-load.json").read_text())
            services[name].load = {shape["name"]: shape for shape in figures["shapes"]}

        result = Run(services, [r for g in groups for r in g["rules"]], prometheus,
                     f"{int(time.monotonic() - started) + 30}s", before_traffic, directory)
        # Wait until Prometheus holds the final counts, then for a rule evaluation after that.
        for service in services.values():
            total = service.requests
            wait_until(f"{service.name}: all {total} requests scraped", 30, functools.partial(
                result.query, f'sum(ai_inference_requests_total{{pod="{service.target_labels["pod"]}"}}) == {total}'))
        scraped = time.time()
        wait_until("rules evaluated on the final counts", 30, functools.partial(
            result.query, f'timestamp(slo:sli_error:ratio_rate5m{{service="failing"}}) > {scraped}'))
        yield result
    except Exception:
        print(processes.tails())  # what the services and Prometheus said, in the failure's report
        raise
    finally:
        processes.stop()


def test_each_live_service_series_carry_the_pod_monitors_labels(run):
    for service in run.services.values():
        for metric in ("ai_inference_requests_total", "ai_inference_latency_seconds_bucket",
                       "ai_tokens_used_total", "ai_inference_cost_dollars_total",
                       "ai_inference_time_to_first_token_seconds_bucket", "ai_inference_queue_requests"):
            series = run.query(f'{metric}{{pod="{service.target_labels["pod"]}"}}')
            assert series, f"{service.name}: no {metric}"
            for one in series:
                labels = one["metric"]
                assert {k: labels[k] for k in service.target_labels} == service.target_labels
                assert labels["model"] == service.env["MODEL_NAME"]


def test_every_recording_rule_has_data_for_every_service(run):
    records = sorted({r["record"] for r in run.rules if "record" in r})
    assert records
    for service in {s.job for s in run.services.values()}:
        empty = [record for record in records if not run.query(f'{record}{{service="{service}"}}')]
        assert empty == [], service


def test_the_recorded_error_ratio_is_the_injected_fault_rate(run):
    failing, steady = run.services["failing"], run.services["steady"]
    injected = float(failing.env["FAULT_RATE"])
    counted = failing.failures / failing.requests
    recorded = run.value('slo:sli_error:ratio_rate5m{service="failing",slo="availability"}')
    print(f"\nfailing: FAULT_RATE {injected:.3f}; make load saw {failing.failures} of {failing.requests} "
          f"requests fail ({counted:.3f}); recorded 5m error ratio {recorded:.3f}")
    assert abs(recorded - counted) <= 0.005  # what Prometheus recorded is what the client saw
    assert abs(recorded - injected) <= 0.1  # and that is the injected rate, within chance (n > 300)
    assert run.value('slo:sli_error:ratio_rate5m{service="steady",slo="availability"}') == 0
    assert steady.failures == 0


def test_the_page_alert_fires_under_the_fault_rate_and_not_without_faults(run):
    for name, should_fire in (("failing", True), ("steady", False), ("slow", False)):
        expression = run.rule("AIInferenceSLOBurnRatePage", name)["expr"]
        assert bool(run.query(expression)) is should_fire, name
    firing = run.query('ALERTS{alertname="AIInferenceSLOBurnRatePage", alertstate="firing"}')
    assert [a["metric"]["service"] for a in firing] == ["failing"]
    assert run.query('ALERTS{service="steady"}') == []  # a healthy service raises nothing at all
    print(f"page alert: firing for {[a['metric']['service'] for a in firing]}; expression false for steady, slow")


def test_the_p95_follows_the_injected_latency(run):
    slow = run.services["slow"]
    extra = float(slow.env["EXTRA_LATENCY_SECONDS"])

    def p95(service: str) -> float:
        return run.value(f'histogram_quantile(0.95, sum by (le) (rate(ai_inference_latency_seconds_bucket'
                         f'{{job="{service}"}}[{run.window}])))')
    slow_p95, steady_p95 = p95("slow"), p95("steady")
    print(f"P95: slow {slow_p95:.3f} s with EXTRA_LATENCY_SECONDS {extra}; steady {steady_p95:.4f} s")
    # Every slow request took a little over 0.3 s: in the (0.25, 0.5] bucket, which the quantile interpolates in.
    assert 0.25 < slow_p95 <= 0.5 and slow_p95 >= extra
    # Steady's requests carry no added latency: a loaded 2-core runner (six services, six make loads and
    # Prometheus at once) still answers them well within it.
    assert steady_p95 < extra
    assert run.query(run.rule("AIInferenceLatencyP95High", "slow")["expr"])
    assert not run.query(run.rule("AIInferenceLatencyP95High", "steady")["expr"])


def test_the_ttft_recording_rules_count_the_first_tokens_the_client_waited_for(run):
    """The time-to-first-token SLO's recorded bad ratio is the share of streams whose first token came
    later than the objective's threshold, as the client timed them; its page fires for the slow service."""
    declared = {s.name: s for s in load_settings(STACK).services}
    for name in ("steady", "slow"):
        service = run.services[name]
        latency_slo, = declared[name].slo.latency_slos
        streams, late = service.first_tokens_later_than(latency_slo.threshold_seconds)
        recorded = run.value(f'slo:sli_error:ratio_rate5m{{service="{name}",slo="{latency_slo.name}"}}')
        print(f"{name}: {streams} streams, {late:.3f} with a first token after "
              f"{latency_slo.threshold_seconds} s by the client's clock; recorded TTFT bad ratio {recorded:.3f}")
        assert streams >= 30
        # The client's clock adds the connection and the first line's read: the recorded ratio can only be lower.
        assert recorded <= late + 0.02 and abs(recorded - late) <= 0.05
        page = run.rule("AIInferenceTimeToFirstTokenBurnRatePage", name)["expr"]
        assert bool(run.query(page)) is (name == "slow")
    # Every slow stream waits EXTRA_LATENCY_SECONDS, above the threshold, before its first token. Steady's share is
    # not pinned to 0: on a loaded runner a stream can be late, which the client-clock comparison above accounts for.
    assert run.value('slo:sli_error:ratio_rate5m{service="slow",slo="time-to-first-token"}') == 1


# -- make verify, the post-deploy gate, against the same Prometheus ---------------------------------

def checks(report: dict, service: str) -> dict[str, dict]:
    judged, = [j for j in report["services"] if j["service"] == service]
    return {c["name"]: c for c in judged["checks"]}


def test_verify_cannot_judge_an_empty_window(run):
    code, report = run.before_traffic
    assert code == 2 and report["verdict"] == "could not judge"
    for judged in report["services"]:  # every counter exists, at 0: no data, not healthy
        assert judged["measured"]["requests"] == 0
        assert judged["reasons"] == ["requests: no data"], judged
    print(f"verify before traffic: exit {code}, {report['verdict']}: "
          f"{[(j['service'], j['reasons']) for j in report['services']]}")


def test_verify_passes_the_healthy_service(run):
    code, report = verify(run.prometheus, "--service", "steady", "--window", run.window, "--wait", "0")
    found = checks(report, "steady")
    print(f"verify steady: exit {code}, {report['verdict']}; requests {found['requests']['value']:.0f}, "
          f"error ratio {found['error ratio']['value']}, P95 {found['P95 s']['value']:.4f} s")
    assert code == 0 and report["verdict"] == "pass", report
    steady = run.services["steady"]
    both = steady.requests + run.services["steady-canary"].requests  # the job's stable and new versions
    assert abs(found["requests"]["value"] - both) <= 0.05 * both
    assert found["error ratio"]["value"] == 0


def test_verify_fails_the_injected_faults_naming_the_objective(run):
    failing = run.services["failing"]
    code, report = verify(run.prometheus, "--service", "failing", "--window", run.window, "--wait", "0")
    ratio = checks(report, "failing")["error ratio"]
    counted = failing.failures / failing.requests
    print(f"verify failing: exit {code}, {report['verdict']}: {report['services'][0]['reasons']}")
    assert code == 1 and ratio["result"] == "fail"
    assert abs(ratio["value"] - counted) <= 0.01 and ratio["source"] == "slo.errorRate"
    # The slow service fails on latency alone (~3 requests a second: judged from 50).
    code, report = verify(run.prometheus, "--service", "slow", "--window", run.window, "--wait", "0",
                          "--min-requests", "50")
    failed = {name for name, check in checks(report, "slow").items() if check["result"] == "fail"}
    assert code == 1 and "P95 s" in failed and "error ratio" not in failed, report


def test_verify_rolls_back_a_slower_canary(run):
    code, report = verify(run.prometheus, "--service", "canary", "--canary", CANARY_VERSION, "--window", run.window,
                          "--wait", "0", "--min-requests", "50")
    found = checks(report, "canary")
    print(f"verify canary {CANARY_VERSION} (EXTRA_LATENCY_SECONDS {CANARY_EXTRA_SECONDS}): exit {code}, "
          f"{report['verdict']}: {report['services'][0]['reasons']}")
    assert code == 1 and report["verdict"] == "roll back"
    assert found["P95 s vs stable"]["result"] == "fail" and found["error ratio vs stable"]["result"] == "pass"
    assert found["P95 s"]["value"] > float(CANARY_EXTRA_SECONDS) > found["P95 s vs stable"]["limit"]
    # The stable version alone, judged as a canary of nothing slower, would be promoted.
    stable = run.services["canary"].target_labels["version"]
    code, report = verify(run.prometheus, "--service", "canary", "--canary", stable, "--window", run.window,
                          "--wait", "0", "--min-requests", "50")
    assert code == 0 and report["verdict"] == "promote", report


# -- the canary analysis Argo Rollouts would run, as rendered -----------------------------------------

def argo_fill(text: str, args: dict[str, str]) -> str:
    """`{{args.<name>}}` replaced as Argo Rollouts does (valyala/fasttemplate over the whole metric)."""
    return re.sub(r"\{\{\s*args\.([\w-]+)\s*\}\}", lambda found: args[found.group(1)], text)


def measurement(metric: dict, result: list[float]) -> str:
    """One measurement as Argo judges it (utils/evaluate): failure first, then success, else Inconclusive."""
    def holds(condition: str) -> bool:
        found = re.fullmatch(r"result\[0\] (<=|>) (-?[\d.]+)", condition)
        assert found, f"not the one form the analysis is generated in: {condition}"
        value, limit = result[0], float(found.group(2))
        return value <= limit if found.group(1) == "<=" else value > limit  # NaN: neither
    return "Failed" if holds(metric["failureCondition"]) else \
        "Successful" if holds(metric["successCondition"]) else "Inconclusive"


ROLLOUT_VERDICTS = {"Successful": "promote", "Failed": "roll back"}  # make verify --canary's words


@pytest.mark.parametrize("service, expected", [("steady", "Successful"), ("canary", "Failed")])
def test_the_rendered_analysis_judges_each_canary_as_make_verify_does(run, service, expected):
    """Each query of the service's AnalysisTemplate, its arguments filled in as the Rollout gives them, asked of
    this run's Prometheus; each condition evaluated as Argo does; the verdict is make verify --canary's."""
    directory = run.directory
    template = rendered(directory, "analysistemplate", service)["spec"]
    strategy = rendered(directory, "rollout", service)["spec"]["strategy"]["canary"]
    # The Rollout hands its new version to the analysis; in this run the new version is CANARY_VERSION.
    args = {arg["name"]: CANARY_VERSION for arg in strategy["analysis"]["args"]}
    verdicts = {}
    for metric in template["metrics"]:
        query = argo_fill(metric["provider"]["prometheus"]["query"], args)
        result = [float(series["value"][1]) for series in run.query(query)]
        verdicts[metric["name"]] = (measurement(metric, result), result[0])
    analysis = "Failed" if any(v == "Failed" for v, _ in verdicts.values()) else \
        "Inconclusive" if any(v == "Inconclusive" for v, _ in verdicts.values()) else "Successful"
    window = template["metrics"][0]["initialDelay"]  # each measurement's window
    code, report = verify(run.prometheus, "--service", service, "--canary", CANARY_VERSION, "--window", window,
                          "--wait", "0")
    print(f"\nanalysis of {service} {CANARY_VERSION} over {window}: {analysis} "
          f"({', '.join(f'{name} {verdict} at {value:.4g}' for name, (verdict, value) in verdicts.items())}); "
          f"make verify --canary: exit {code}, {report['verdict']}")
    assert analysis == expected
    assert report["verdict"] == ROLLOUT_VERDICTS[analysis]
    if expected == "Failed":  # the same checks fail in both: the canary's latency against the stable version's
        def same(name: str) -> str:  # "P95 s vs stable" and "p95-seconds-vs-stable" alike
            return re.sub(r"[^a-z0-9]", "", name.lower().replace("seconds", "s"))
        failed = {same(name) for name, check in checks(report, service).items() if check["result"] == "fail"}
        assert failed == {same(name) for name, (verdict, _) in verdicts.items() if verdict == "Failed"}


def test_the_readmes_picture_is_plotted_from_this_runs_prometheus(run):
    """What a service's dashboard shows, from this run's data: build/e2e/dashboard.png (docs/ keeps one)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    end = time.time()
    start = end - prometheus_seconds(run.window)

    def series(promql: str) -> dict[str, tuple[list[float], list[float]]]:
        params = urllib.parse.urlencode({"query": promql, "start": start, "end": end, "step": "2s"})
        answer = json.loads(get(f"{run.prometheus}/api/v1/query_range?{params}")[1])
        return {s["metric"].get("service") or s["metric"].get("job"): (
            [float(t) - start for t, _ in s["values"]], [float(v) for _, v in s["values"]])
            for s in answer["data"]["result"]}

    panels = [("Error ratio, 5m (recorded rule)", 'slo:sli_error:ratio_rate5m{slo="availability"}', None),
              ("P95 latency, s", 'histogram_quantile(0.95, sum by (job, le) '
                                 '(rate(ai_inference_latency_seconds_bucket[15s])))', "log"),
              ("Requests per second", "sum by (job) (rate(ai_inference_requests_total[15s]))", None)]
    figure, axes = plt.subplots(1, len(panels), figsize=(15, 4))
    for axis, (title, promql, scale) in zip(axes, panels, strict=True):
        found = series(promql)
        assert found, promql
        for name, (times, values) in sorted(found.items()):
            axis.plot(times, values, label=name)
        axis.set_title(title)
        axis.set_xlabel("seconds into the run")
        if scale:
            axis.set_yscale(scale)
        axis.legend(fontsize="small")
    figure.suptitle("make e2e: four reference services under a real Prometheus (failing: FAULT_RATE 0.3; "
                    "slow, and canary's new version: +0.3 s)")
    figure.tight_layout()
    out = ROOT / "build" / "e2e"
    out.mkdir(parents=True, exist_ok=True)
    figure.savefig(out / "dashboard.png", dpi=80)
    plt.close(figure)
    assert (out / "dashboard.png").stat().st_size > 10_000
