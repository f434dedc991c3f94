"""How a deployment marker is tagged, and how the dashboards find it: one convention for
Datadog events, Grafana annotations and the dashboards that overlay them.

`key:value` tags are what Datadog events carry (its unified service tags: env, service,
version); Grafana annotation tags are free strings, so the same ones serve there.
"""

from __future__ import annotations

MARKER_TAG = "deployment"


def deployment_tags(stack: str, service: str, version: str, event: str, result: str, commit: str) -> list[str]:
    """Every fact make dora needs, so the markers can be read back from Grafana's annotations."""
    return [MARKER_TAG, f"env:{stack}", f"service:{service}", f"version:{version}", f"event:{event}",
            f"result:{result}", f"commit:{commit}"]


def deployment_filter(stack: str, service: str) -> list[str]:
    """The tags every marker of a service in a stack has: what a dashboard's overlay selects on."""
    return [MARKER_TAG, f"env:{stack}", f"service:{service}"]
