"""Deployment markers: `make marker STACK=<stack> EVENT=deploy|verify|rollout RESULT=success|failure [ARGS=...]`.

Records that a stack's services were deployed (or verified), with version, commit, author and
result, wherever a regression will be looked for:

- a Datadog event (POST /api/v1/events), when DD_API_KEY is set (DD_SITE, default datadoghq.com);
- a Grafana annotation (POST /api/annotations), when GRAFANA_URL and GRAFANA_TOKEN (a service
  account token) are set: tagged so the generated dashboards show it (model/naming/markers.py);
- an App Insights release annotation (PUT .../components/<name>/Annotations), when
  APPINSIGHTS_RESOURCE_ID is set (`pulumi stack output appInsightsId`), with AZURE_ACCESS_TOKEN
  or, without it, a token from `az account get-access-token`;
- and always a line in the journal (--journal, default build/deployments.jsonl), which
  `make dora` reads when Grafana is not configured.

Each sink is tried whatever the others did, and each says what happened. Exit 0 when every
configured sink took the marker, 1 when any failed, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from config import ConfigError
from model.naming.markers import deployment_tags
from tools import stack_config
from tools.render import settings_of
from tools.stack_file import StackFileError

if TYPE_CHECKING:
    from datadog_api_client import Configuration

TIMEOUT_SECONDS = 15
# deploy: pulumi up; verify: the post-deploy gate; rollout: a canary release's end, promoted (success) or
# aborted by its analysis (failure).
EVENTS, RESULTS = ("deploy", "verify", "rollout"), ("success", "failure")
APP_INSIGHTS_API_VERSION = "2015-05-01"
MANAGEMENT_URL = "https://management.azure.com"


@dataclass(frozen=True)
class Marker:
    time: str  # ISO 8601, UTC
    stack: str
    service: str
    version: str
    commit: str
    author: str
    event: str  # deploy, verify or rollout
    result: str  # success or failure

    @property
    def title(self) -> str:
        if self.event == "deploy":
            return f"Deployed {self.service} {self.version} to {self.stack}" + (
                "" if self.result == "success" else " (failed)")
        verdict = "passed" if self.result == "success" else "FAILED"
        return f"Verified {self.service} {self.version} on {self.stack}: {verdict}"

    @property
    def text(self) -> str:
        return f"commit {self.commit} by {self.author}; {self.event} {self.result}"

    @property
    def epoch_ms(self) -> int:
        return int(datetime.datetime.fromisoformat(self.time).timestamp() * 1000)


class SinkError(Exception):
    pass


def _send(request: urllib.request.Request) -> dict | list:
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            body = response.read()
    except urllib.error.HTTPError as error:
        raise SinkError(f"HTTP {error.code}: {error.read().decode(errors='replace')[:300]}") from error
    except OSError as error:
        raise SinkError(str(error)) from error
    return json.loads(body) if body else {}


def datadog_configuration(environ: Mapping[str, str]) -> Configuration:
    """The API client for DD_SITE (or DD_API_URL, a proxy or a test server) with DD_API_KEY."""
    from datadog_api_client import Configuration  # noqa: F811 (imported when used: the client is slow to import)

    site = environ.get("DD_SITE") or "datadoghq.com"
    configuration = Configuration(host=environ.get("DD_API_URL") or f"https://api.{site}")
    configuration.api_key["apiKeyAuth"] = environ["DD_API_KEY"]
    return configuration


def datadog(marker: Marker, environ: Mapping[str, str]) -> str:
    """A Datadog event with the unified service tags (env, service, version) the monitors scope by."""
    from datadog_api_client import ApiClient
    from datadog_api_client.exceptions import OpenApiException
    from datadog_api_client.v1.api.events_api import EventsApi
    from datadog_api_client.v1.model.event_alert_type import EventAlertType
    from datadog_api_client.v1.model.event_create_request import EventCreateRequest

    body = EventCreateRequest(
        title=marker.title, text=marker.text, tags=deployment_tags(marker.stack, marker.service, marker.version,
                                                                   marker.event, marker.result, marker.commit),
        alert_type=EventAlertType("success" if marker.result == "success" else "error"),
        aggregation_key=f"{marker.stack}-{marker.service}-deployment",
        date_happened=marker.epoch_ms // 1000, source_type_name="deployment")
    try:
        with ApiClient(datadog_configuration(environ)) as client:
            response = EventsApi(client).create_event(body=body)
    except (OpenApiException, OSError) as error:
        raise SinkError(str(error).strip().splitlines()[0]) from error
    return f"event {response.event.id}" if response.event else "event posted"


def grafana(marker: Marker, environ: Mapping[str, str]) -> str:
    """An organisation annotation (no dashboard): every dashboard whose tag query matches shows it."""
    body = {"time": marker.epoch_ms, "tags": deployment_tags(marker.stack, marker.service, marker.version,
                                                              marker.event, marker.result, marker.commit),
            "text": f"{marker.title} ({marker.text})"}
    request = urllib.request.Request(f"{environ['GRAFANA_URL'].rstrip('/')}/api/annotations",
                                     data=json.dumps(body).encode(), method="POST", headers={
                                         "Authorization": f"Bearer {environ['GRAFANA_TOKEN']}",
                                         "Content-Type": "application/json", "Accept": "application/json"})
    answer = _send(request)
    return f"annotation {answer.get('id')}" if isinstance(answer, dict) else "annotation posted"


def azure_token(environ: Mapping[str, str]) -> str:
    if environ.get("AZURE_ACCESS_TOKEN"):
        return environ["AZURE_ACCESS_TOKEN"]
    try:
        return subprocess.run(["az", "account", "get-access-token", "--resource", MANAGEMENT_URL + "/",
                               "--query", "accessToken", "--output", "tsv"],
                              capture_output=True, text=True, check=True, timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError) as error:
        raise SinkError(f"no AZURE_ACCESS_TOKEN and no token from the Azure CLI: {error}") from error


def app_insights(marker: Marker, environ: Mapping[str, str]) -> str:
    """A release annotation: Category Deployment is what the portal shows (Annotations_Create, 2015-05-01)."""
    resource = environ["APPINSIGHTS_RESOURCE_ID"].strip("/")
    body = {"Id": str(uuid.uuid4()), "AnnotationName": marker.title, "EventTime": marker.time,
            "Category": "Deployment",
            "Properties": json.dumps({"ReleaseName": f"{marker.service} {marker.version}",
                                      "ReleaseDescription": marker.text, "Environment": marker.stack,
                                      "Service": marker.service, "Version": marker.version,
                                      "Commit": marker.commit, "Author": marker.author,
                                      "Event": marker.event, "Result": marker.result}, separators=(",", ":"))}
    management = environ.get("AZURE_MANAGEMENT_URL", MANAGEMENT_URL).rstrip("/")
    request = urllib.request.Request(
        f"{management}/{resource}/Annotations?api-version={APP_INSIGHTS_API_VERSION}",
        data=json.dumps(body).encode(), method="PUT",
        headers={"Authorization": f"Bearer {azure_token(environ)}", "Content-Type": "application/json"})
    _send(request)
    return f"annotation {body['Id']}"


# Each sink, the environment it needs, and how it sends.
SINKS: dict[str, tuple[tuple[str, ...], Callable[[Marker, Mapping[str, str]], str]]] = {
    "datadog": (("DD_API_KEY",), datadog),
    "grafana": (("GRAFANA_URL", "GRAFANA_TOKEN"), grafana),
    "app insights": (("APPINSIGHTS_RESOURCE_ID",), app_insights),
}


def record(markers: list[Marker], environ: Mapping[str, str], journal: Path) -> tuple[list[str], bool]:
    """Sends every marker to every configured sink; the lines to print and whether all succeeded."""
    lines, ok = [], True
    journal.parent.mkdir(parents=True, exist_ok=True)
    with journal.open("a") as file:
        for marker in markers:
            file.write(json.dumps(asdict(marker)) + "\n")
    lines.append(f"journal: {len(markers)} marker(s) appended to {journal}")
    for name, (needs, send) in SINKS.items():
        missing = [variable for variable in needs if not environ.get(variable)]
        if missing:
            lines.append(f"{name}: not configured (set {' and '.join(missing)})")
            continue
        for marker in markers:
            try:
                lines.append(f"{name}: {marker.service}: {send(marker, environ)}")
            except SinkError as error:
                ok = False
                lines.append(f"{name}: {marker.service}: FAILED: {error}")
    return lines, ok


def git(*args: str) -> str:
    result = subprocess.run(["git", *args], capture_output=True, text=True, cwd=stack_config.ROOT)
    return result.stdout.strip() if result.returncode == 0 else "unknown"


def main(argv: list[str] | None = None, environ: Mapping[str, str] = os.environ) -> int:
    parser = argparse.ArgumentParser(prog="make marker", description=__doc__.splitlines()[0])
    parser.add_argument("stack", help="the stack deployed: Pulumi.<stack>.yaml")
    parser.add_argument("--event", choices=EVENTS, required=True)
    parser.add_argument("--result", choices=RESULTS, required=True)
    parser.add_argument("--service", action="append", help="only this service (default: every service of the stack)")
    parser.add_argument("--commit", default=environ.get("GITHUB_SHA") or git("rev-parse", "HEAD"))
    parser.add_argument("--author", default=environ.get("GITHUB_ACTOR") or git("log", "-1", "--format=%an"))
    parser.add_argument("--time", help="when, ISO 8601 (default: now)")
    parser.add_argument("--journal", type=Path, default=stack_config.ROOT / "build" / "deployments.jsonl")
    parser.add_argument("--config-dir", type=Path, default=stack_config.ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        services = settings_of(stack_config.load(args.stack, config_dir=args.config_dir)).services
        when = (datetime.datetime.fromisoformat(args.time) if args.time
                else datetime.datetime.now(datetime.UTC))
    except (ConfigError, StackFileError, FileNotFoundError, ValueError) as error:
        print(error, file=sys.stderr)
        return 2
    unknown = set(args.service or ()) - {s.name for s in services}
    if unknown:
        print(f"stack {args.stack} has no service {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    stamp = when.astimezone(datetime.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    markers = [Marker(stamp, args.stack, s.name, s.version, args.commit, args.author, args.event, args.result)
               for s in services if not args.service or s.name in args.service]
    lines, ok = record(markers, environ, args.journal)
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
