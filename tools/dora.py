"""DORA metrics: `make dora [STACK=<stack>] [ARGS=--days 30]`.

Reads the deployment markers (`make marker`) from Grafana's annotations when GRAFANA_URL and
GRAFANA_TOKEN are set, else from the journal (build/deployments.jsonl), takes each deployed
commit's history from git, and prints the four metrics per stack (model/dora.py). With
DD_API_KEY set they are also sent to Datadog as gauges (dora.*, tagged env:<stack>).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

from model import dora
from model.naming.markers import MARKER_TAG
from tools import stack_config
from tools.markers import datadog_configuration

TIMEOUT_SECONDS = 30


def from_journal(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def from_grafana(environ: Mapping[str, str], since: datetime) -> list[dict]:
    """Markers back from their annotations' `key:value` tags (model/naming/markers.py)."""
    query = urllib.parse.urlencode({"tags": MARKER_TAG, "from": int(since.timestamp() * 1000), "limit": 10000,
                                    "type": "annotation"})
    request = urllib.request.Request(f"{environ['GRAFANA_URL'].rstrip('/')}/api/annotations?{query}",
                                     headers={"Authorization": f"Bearer {environ['GRAFANA_TOKEN']}",
                                              "Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
        annotations = json.load(response)
    markers = []
    for annotation in annotations:
        tags = dict(tag.split(":", 1) for tag in annotation.get("tags", []) if ":" in tag)
        if {"env", "service", "event", "result", "commit"} <= set(tags):
            when = datetime.fromtimestamp(annotation["time"] / 1000, UTC).isoformat()
            markers.append({"time": when, "stack": tags["env"], "service": tags["service"], "commit": tags["commit"],
                            "event": tags["event"], "result": tags["result"]})
    return markers


def commit_times(previous: str | None, commit: str) -> list[datetime]:
    """Commit times of `commit` and its ancestors since `previous` (the first deployment: the commit alone)."""
    revisions = [f"{previous}..{commit}"] if previous else ["-1", commit]
    result = subprocess.run(["git", "log", "--format=%ct", *revisions], capture_output=True, text=True,
                            cwd=stack_config.ROOT)
    if result.returncode != 0:  # a commit this clone does not have: its lead time cannot be measured
        return []
    return [datetime.fromtimestamp(int(line), UTC) for line in result.stdout.split()]


def send_to_datadog(reports: list[dora.Dora], environ: Mapping[str, str]) -> str:
    from datadog_api_client import ApiClient
    from datadog_api_client.v2.api.metrics_api import MetricsApi
    from datadog_api_client.v2.model.metric_intake_type import MetricIntakeType
    from datadog_api_client.v2.model.metric_payload import MetricPayload
    from datadog_api_client.v2.model.metric_point import MetricPoint
    from datadog_api_client.v2.model.metric_series import MetricSeries

    now = int(datetime.now(UTC).timestamp())
    series = [MetricSeries(metric=f"dora.{name}", type=MetricIntakeType.GAUGE, tags=[f"env:{report.stack}"],
                           points=[MetricPoint(timestamp=now, value=float(value))])
              for report in reports for name, value in figures(report).items() if value is not None]
    with ApiClient(datadog_configuration(environ)) as client:
        MetricsApi(client).submit_metrics(body=MetricPayload(series=series))
    return f"datadog: {len(series)} gauges sent"


def figures(report: dora.Dora) -> dict[str, float | None]:
    return {"deployments_per_day": report.per_day, "lead_time_hours": report.lead_time_hours,
            "change_failure_rate": report.change_failure_rate, "time_to_restore_hours": report.time_to_restore_hours}


def show(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:.2f}{unit}"


def main(argv: list[str] | None = None, environ: Mapping[str, str] = os.environ) -> int:
    parser = argparse.ArgumentParser(prog="make dora", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", action="append", help="only this stack (default: every stack of the project)")
    parser.add_argument("--days", type=float, default=30, help="the period, ending now (default 30)")
    parser.add_argument("--journal", type=Path, default=stack_config.ROOT / "build" / "deployments.jsonl")
    args = parser.parse_args(argv)
    since = datetime.now(UTC) - timedelta(days=args.days)
    grafana = bool(environ.get("GRAFANA_URL") and environ.get("GRAFANA_TOKEN"))
    try:
        markers = from_grafana(environ, since) if grafana else from_journal(args.journal)
    except (OSError, ValueError) as error:
        print(f"cannot read the deployment markers: {error}", file=sys.stderr)
        return 2
    markers = [m for m in markers if datetime.fromisoformat(m["time"]) >= since]
    stacks = args.stack or list(stack_config.stacks())
    reports = [dora.metrics(stack, dora.deployments(markers, stack), commit_times, args.days) for stack in stacks]
    print(f"DORA metrics over the last {args.days:g} days, from "
          f"{'Grafana annotations' if grafana else args.journal} and git history:")
    print(f"  {'stack':<10} {'deploys':>7} {'per day':>8} {'lead time':>10} {'failure rate':>13} {'restore':>9}")
    for r in reports:
        print(f"  {r.stack:<10} {r.deployments:>7} {r.per_day:>8.2f} {show(r.lead_time_hours, ' h'):>10} "
              f"{show(r.change_failure_rate):>13} {show(r.time_to_restore_hours, ' h'):>9}")
    if environ.get("DD_API_KEY"):
        try:
            print(send_to_datadog(reports, environ))
        except Exception as error:  # the report above stands; say why the metrics did not go
            print(f"datadog: FAILED: {str(error).splitlines()[0]}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
