"""Deployment markers (tools/markers.py) against one loopback server standing in for the three APIs.

What each request must be comes from each API's own reference, not from the tool:
- Datadog, "Post an event" (docs.datadoghq.com/api/latest/events): POST /api/v1/events, the key in
  DD-API-KEY, `title` and `text` required, `alert_type` one of error, warning, info, success, ...,
  `date_happened` POSIX seconds;
- Grafana, "Create annotation" (grafana.com/docs/grafana/latest/developers/http_api/annotations):
  POST /api/annotations, `time` in epoch milliseconds, `tags`, `text` required, a service
  account token as a bearer token;
- App Insights, Annotations_Create (azure-rest-api-specs, applicationinsights 2015-05-01,
  componentAnnotations_API.json): PUT {component id}/Annotations?api-version=2015-05-01, one
  Annotation object whose `Properties` is a string of serialised JSON; Category "Deployment" is
  what the portal shows (Microsoft Learn, "Release annotations for Application Insights").
"""

import contextlib
import datetime
import http.server
import io
import json
import urllib.parse
import uuid

import pytest

from tests.helpers import FIXTURES, load_settings, loopback_server, stack_plan
from tools import markers, render

STACK = "alerting"
SERVICES = load_settings(STACK).services
WHEN = "2026-11-20T14:30:00Z"
EPOCH = int(datetime.datetime(2026, 11, 20, 14, 30, tzinfo=datetime.UTC).timestamp())
COMPONENT = ("/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-obs/providers/"
             "Microsoft.Insights/components/appi-obs")
DATADOG_ALERT_TYPES = {"error", "warning", "info", "success", "user_update", "recommendation", "snapshot"}


@contextlib.contextmanager
def apis(failing: frozenset[str] = frozenset()):
    """Records every request; answers as each API does, or 500 for the paths in `failing`."""
    received: list[dict] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def answer(self):
            url = urllib.parse.urlparse(self.path)
            length = int(self.headers.get("Content-Length", 0))
            received.append({"method": self.command, "path": url.path, "query": urllib.parse.parse_qs(url.query),
                             "headers": dict(self.headers), "body": json.loads(self.rfile.read(length))})
            reply: dict | list
            if any(url.path.endswith(path) for path in failing):
                status, reply = 500, {"message": "internal error"}
            elif url.path == "/api/v1/events":
                status, reply = 202, {"status": "ok", "event": {"id": 1234, "title": "x"}}
            elif url.path == "/api/annotations":
                status, reply = 200, {"message": "Annotation added", "id": 77}
            else:
                status, reply = 200, [received[-1]["body"]]
            body = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_PUT = answer

        def log_message(self, *args):
            pass

    with loopback_server(Handler) as url:
        yield url.rstrip("/"), received


def environment(url: str) -> dict[str, str]:
    return {"DD_API_KEY": "dd-key-123", "DD_API_URL": url, "GRAFANA_URL": url, "GRAFANA_TOKEN": "glsa_token",
            "APPINSIGHTS_RESOURCE_ID": COMPONENT, "AZURE_MANAGEMENT_URL": url, "AZURE_ACCESS_TOKEN": "arm-token"}


def mark(environ, tmp_path, *args):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = markers.main([STACK, "--config-dir", str(FIXTURES), "--event", "deploy", "--result", "success",
                             "--commit", "abc1234", "--author", "octocat", "--time", WHEN,
                             "--journal", str(tmp_path / "deployments.jsonl"), *args], environ)
    return code, out.getvalue()


def by_path(received, path):
    return [r for r in received if r["path"].endswith(path)]


def test_each_api_gets_the_request_its_reference_documents(tmp_path):
    service = SERVICES[0]
    with apis() as (url, received):
        code, out = mark(environment(url), tmp_path, "--service", service.name)
    assert code == 0, out

    event, = by_path(received, "/api/v1/events")
    assert event["method"] == "POST" and event["headers"]["DD-API-KEY"] == "dd-key-123"
    body = event["body"]
    assert {"title", "text"} <= set(body) and body["alert_type"] in DATADOG_ALERT_TYPES
    assert body["alert_type"] == "success" and body["date_happened"] == EPOCH
    # Datadog's unified service tags: the monitors and the dashboards scope by env, service and version.
    assert {f"env:{STACK}", f"service:{service.name}", f"version:{service.version}", "deployment"} <= set(body["tags"])
    assert service.name in body["title"] and service.version in body["title"] and "abc1234" in body["text"]

    annotation, = by_path(received, "/api/annotations")
    assert annotation["method"] == "POST" and annotation["headers"]["Authorization"] == "Bearer glsa_token"
    assert set(annotation["body"]) == {"time", "tags", "text"}
    assert annotation["body"]["time"] == EPOCH * 1000
    assert {f"env:{STACK}", f"service:{service.name}", "deployment"} <= set(annotation["body"]["tags"])
    # The service's generated dashboard overlays exactly such annotations (all its tags must match).
    dashboard, = [d for name, d in render.dashboards(stack_plan(STACK)).items() if name == f"grafana-aio-{STACK}-"
                  f"{service.name}.json"]
    assert set(dashboard["annotations"]["list"][0]["target"]["tags"]) <= set(annotation["body"]["tags"])

    release, = by_path(received, "/Annotations")
    assert release["method"] == "PUT" and release["path"] == f"{COMPONENT}/Annotations"
    assert release["query"] == {"api-version": ["2015-05-01"]}
    assert release["headers"]["Authorization"] == "Bearer arm-token"
    body = release["body"]
    assert isinstance(body, dict) and set(body) == {"Id", "AnnotationName", "EventTime", "Category", "Properties"}
    assert body["Category"] == "Deployment" and body["EventTime"] == WHEN and uuid.UUID(body["Id"])
    properties = json.loads(body["Properties"])  # a string holding JSON, as the spec types it
    assert properties["ReleaseName"] == f"{service.name} {service.version}"
    assert (properties["Commit"], properties["Author"], properties["Environment"]) == ("abc1234", "octocat", STACK)


def test_a_failing_sink_is_reported_and_the_others_still_get_the_marker(tmp_path):
    with apis(failing=frozenset({"/api/annotations"})) as (url, received):
        code, out = mark(environment(url), tmp_path)
    assert code == 1
    assert len(by_path(received, "/api/v1/events")) == len(by_path(received, "/Annotations")) == len(SERVICES)
    failed = [line for line in out.splitlines() if "FAILED" in line]
    assert len(failed) == len(SERVICES) and all(line.startswith("grafana: ") and "HTTP 500" in line for line in failed)
    journal = [json.loads(line) for line in (tmp_path / "deployments.jsonl").read_text().splitlines()]
    assert [m["service"] for m in journal] == [s.name for s in SERVICES]  # the journal holds it whatever the sinks did


def test_an_unconfigured_sink_says_what_to_set_and_sends_nothing(tmp_path):
    with apis() as (url, received):
        code, out = mark({"GRAFANA_URL": url}, tmp_path)
    assert code == 0 and received == []
    assert "grafana: not configured (set GRAFANA_TOKEN)" in out
    assert "datadog: not configured (set DD_API_KEY)" in out


@pytest.mark.parametrize("args", [["--service", "nope"], ["--time", "yesterday"]])
def test_bad_arguments_are_refused(tmp_path, args):
    code, _ = mark({}, tmp_path, *args)
    assert code == 2 and not (tmp_path / "deployments.jsonl").exists()
