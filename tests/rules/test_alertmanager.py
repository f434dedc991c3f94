"""The rendered AlertmanagerConfig as the Prometheus operator hands it to Alertmanager, under amtool
and a real Alertmanager on loopback: every rendered alert reaches the receiver of its route, and a
page inhibits the same service's ticket.
"""

import json
import os
import shutil
import subprocess
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from tests.helpers import free_port, stack_plan

AMTOOL, ALERTMANAGER = shutil.which("amtool"), shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
IN_CI = os.environ.get("CI") == "true"
# Real promtool, amtool and Alertmanager processes: the slow layer (make test runs it, make test-fast not).
pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    (AMTOOL is None or ALERTMANAGER is None) and not IN_CI,
    reason="AMTOOL NOT INSTALLED: the Alertmanager routing tests did not run "
           "(install Debian's prometheus-alertmanager package; CI does, and fails without it)")]

FIXTURE = "alerting"
NOWHERE = "http://127.0.0.1:9/"  # the discard port: receivers send nothing off this machine
# kube-prometheus-stack's default alertmanager.config (values.yaml), which the operator merges
# AlertmanagerConfigs into: its Watchdog route and its severity and InfoInhibitor inhibitions.
CHART_BASE: dict[str, Any] = {
    "route": {"receiver": "null", "group_by": ["namespace"], "group_wait": "30s", "group_interval": "5m",
              "repeat_interval": "12h", "routes": [{"receiver": "null", "matchers": ['alertname = "Watchdog"']}]},
    "inhibit_rules": [
        {"source_matchers": ["severity = critical"], "target_matchers": ["severity =~ warning|info"],
         "equal": ["namespace", "alertname"]},
        {"source_matchers": ["severity = warning"], "target_matchers": ["severity = info"],
         "equal": ["namespace", "alertname"]},
        {"source_matchers": ["alertname = InfoInhibitor"], "target_matchers": ["severity = info"],
         "equal": ["namespace"]},
        {"target_matchers": ["alertname = InfoInhibitor"]},
    ],
    "receivers": [{"name": "null"}],
}


def tool(name):
    path = {"amtool": AMTOOL, "alertmanager": ALERTMANAGER}[name]
    if path is None:
        pytest.fail("CI=true and Alertmanager is missing: .ci/run must install Debian's prometheus-alertmanager")
    return path


def matchers(entries):
    return [f'{m["name"]}{m.get("matchType", "=")}"{m["value"]}"' for m in entries]


def operator_conversion(resource, credentials):
    """What the Prometheus operator makes of an AlertmanagerConfig (pkg/alertmanager/amcfg.go):
    its route becomes the first child of the chart's root route, matching only alerts of its own
    namespace and continuing to siblings; receivers are renamed <namespace>/<name>/<receiver>; each
    inhibition matches only its namespace on both sides. Receivers' secrets are resolved, and
    pointed at a closed loopback port here so nothing leaves the machine."""
    namespace, name = resource["metadata"]["namespace"], resource["metadata"]["name"]
    spec = resource["spec"]

    def receiver_name(receiver):
        return f"{namespace}/{name}/{receiver}"

    def route(entry, top):
        converted = {"receiver": receiver_name(entry["receiver"]),
                     "matchers": matchers(entry.get("matchers", []))
                     + ([f'namespace="{namespace}"'] if top else []),
                     **({"continue": True} if top else {})}
        for key, target in (("groupBy", "group_by"), ("groupWait", "group_wait"),
                            ("groupInterval", "group_interval"), ("repeatInterval", "repeat_interval")):
            if key in entry:
                converted[target] = entry[key]
        if entry.get("routes"):
            converted["routes"] = [route(child, False) for child in entry["routes"]]
        return converted

    receivers = list(CHART_BASE["receivers"])
    for receiver in spec["receivers"]:
        converted = {"name": receiver_name(receiver["name"])}
        for config in receiver.get("slackConfigs", []):
            credentials[config["apiURL"]["key"]]  # the Secret holds what the receiver reads
            converted.setdefault("slack_configs", []).append({"api_url": NOWHERE, "channel": "#alerts",
                                                              "send_resolved": config["sendResolved"]})
        for config in receiver.get("pagerdutyConfigs", []):
            converted.setdefault("pagerduty_configs", []).append(
                {"routing_key": credentials[config["routingKey"]["key"]], "url": NOWHERE,
                 "send_resolved": config["sendResolved"]})
        for config in receiver.get("webhookConfigs", []):
            credentials[config["urlSecret"]["key"]]
            converted.setdefault("webhook_configs", []).append(
                {"url": NOWHERE, "send_resolved": config["sendResolved"]})
        receivers.append(converted)
    inhibit = [{"source_matchers": matchers(rule["sourceMatch"]) + [f'namespace="{namespace}"'],
                "target_matchers": matchers(rule["targetMatch"]) + [f'namespace="{namespace}"'],
                "equal": rule["equal"]} for rule in spec.get("inhibitRules", [])]
    root = {**CHART_BASE["route"], "routes": [route(spec["route"], True), *CHART_BASE["route"]["routes"]]}
    return {"route": root, "receivers": receivers, "inhibit_rules": CHART_BASE["inhibit_rules"] + inhibit}


@pytest.fixture(scope="module")
def rendered():
    plan = stack_plan(FIXTURE)
    config = plan.one("kubernetes:monitoring.coreos.com/v1alpha1:AlertmanagerConfig")
    secret = next(r for r in plan.of_type("kubernetes:core/v1:Secret")
                  if r.inputs["metadata"]["name"] == config.inputs["spec"]["receivers"][0]["pagerdutyConfigs"][0]
                  ["routingKey"]["name"])
    assert secret.inputs["stringData"] == {"page": "[secret]", "ticket": "[secret]"}, "credentials stay secret"
    assert secret.inputs["metadata"]["namespace"] == config.inputs["metadata"]["namespace"]
    alerts = [rule for r in plan.of_type("kubernetes:monitoring.coreos.com/v1:PrometheusRule")
              for group in r.inputs["spec"]["groups"] for rule in group["rules"] if "alert" in rule]
    return config.inputs, secret.raw_inputs["stringData"], alerts


@pytest.fixture
def alertmanager_yml(rendered, tmp_path):
    config, credentials, _ = rendered
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(operator_conversion(config, credentials), sort_keys=False))
    return path


def test_the_converted_config_is_valid_for_amtool(alertmanager_yml):
    result = subprocess.run([tool("amtool"), "check-config", str(alertmanager_yml)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def route_of(alertmanager_yml, labels):
    result = subprocess.run([tool("amtool"), "config", "routes", "test", f"--config.file={alertmanager_yml}",
                             *(f"{k}={v}" for k, v in sorted(labels.items()))], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_every_rendered_alert_reaches_the_receiver_of_its_route(rendered, alertmanager_yml):
    config, _, alerts = rendered
    prefix = f"{config['metadata']['namespace']}/{config['metadata']['name']}/"
    assert {rule["labels"]["routing"] for rule in alerts} == {"page", "ticket"}
    for rule in alerts:
        labels = {"alertname": rule["alert"], **rule["labels"]}
        assert route_of(alertmanager_yml, labels) == prefix + rule["labels"]["routing"], rule["alert"]


def test_alerts_of_the_namespace_without_a_route_open_tickets_and_other_namespaces_are_not_taken(
        rendered, alertmanager_yml):
    config, _, _ = rendered
    namespace = config["metadata"]["namespace"]
    assert route_of(alertmanager_yml, {"alertname": "KubePodCrashLooping", "namespace": namespace}).endswith("/ticket")
    assert route_of(alertmanager_yml, {"alertname": "X", "routing": "page", "namespace": "elsewhere"}) == "null"



@pytest.fixture
def alertmanager(alertmanager_yml, tmp_path):
    """A real Alertmanager on loopback, stopped when the test ends."""
    port = free_port()
    process = subprocess.Popen(
        [tool("alertmanager"), f"--config.file={alertmanager_yml}", f"--storage.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/api/v2"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"{url}/status", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    said = process.stderr.read().decode() if process.stderr else ""
                    pytest.fail(f"Alertmanager did not start: {said}")
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def test_a_page_inhibits_the_ticket_of_the_same_service_and_no_other(rendered, alertmanager):
    _, _, alerts = rendered
    by_name = {(r["alert"], r["labels"]["service"]): r for r in alerts}
    now = datetime.now(UTC)

    def alert(name, service):
        rule = by_name[(name, service)]
        return {"labels": {"alertname": name, **rule["labels"]}, "annotations": rule["annotations"],
                "startsAt": now.isoformat(), "endsAt": (now + timedelta(hours=1)).isoformat()}

    sent = [alert("AIInferenceSLOBurnRatePage", "chat"), alert("AIInferenceSLOBurnRateTicket", "chat"),
            alert("AIInferenceSLOBurnRateTicket", "scorer")]
    request = urllib.request.Request(f"{alertmanager}/alerts", data=json.dumps(sent).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    urllib.request.urlopen(request, timeout=5)
    expected = {("AIInferenceSLOBurnRatePage", "chat"): "active",
                ("AIInferenceSLOBurnRateTicket", "chat"): "suppressed",
                ("AIInferenceSLOBurnRateTicket", "scorer"): "active"}
    # The inhibitor learns of the page from its own subscription to new alerts: until it has, the
    # ticket shows active. Poll until the states settle as expected, or ten seconds pass.
    deadline = time.monotonic() + 10
    while True:
        state = {(a["labels"]["alertname"], a["labels"]["service"]): a["status"]
                 for a in json.load(urllib.request.urlopen(f"{alertmanager}/alerts", timeout=5))}
        if {key: s["state"] for key, s in state.items()} == expected or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert {key: s["state"] for key, s in state.items()} == expected
    assert state[("AIInferenceSLOBurnRateTicket", "chat")]["inhibitedBy"]
